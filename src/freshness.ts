/**
 * Step-up checks: did the user sign in recently enough for this action?
 *
 * @module
 */

/**
 * Tells whether the user actually signed in (not merely refreshed the
 * session) within the last `seconds`, measured from `authenticatedAt`.
 * Use it before a sensitive action (changing an e-mail address, deleting
 * an account) and send the user through sign-in again when it is false.
 *
 * @param data Session data from `getSessionFromRequest` or
 * `validateBearerToken`.
 * @param seconds How recent the sign-in must be.
 * @param now The current time in milliseconds; pass the manager's clock
 * when you inject one.
 * @returns Whether `authenticatedAt` is within `seconds` of `now`; false
 * when it is missing or not a finite time.
 *
 * @example Requiring a sign-in in the last 10 minutes
 * ```ts
 * import { authenticatedWithin, SessionManager } from "@tijs/atproto-sessions";
 * import assert from "node:assert/strict";
 *
 * const sessions = new SessionManager({ cookieSecret: "a-secret-of-at-least-32-characters!" });
 * const token = await sessions.sealToken({ did: "did:web:example.com" });
 * const data = await sessions.unsealToken(token);
 * assert.equal(authenticatedWithin(data!, 600), true);
 * assert.equal(authenticatedWithin(data!, 600, Date.now() + 601_000), false);
 * ```
 */
export function authenticatedWithin(
  data: { readonly authenticatedAt?: number | undefined },
  seconds: number,
  now: number = Date.now(),
): boolean {
  const at = data?.authenticatedAt;
  if (
    typeof at !== "number" || !Number.isFinite(at) ||
    typeof seconds !== "number" || !(seconds >= 0) ||
    !Number.isFinite(now)
  ) return false;
  return now - at <= seconds * 1000;
}
