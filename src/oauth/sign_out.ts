/**
 * `signOut(request, client, { everywhere })`: ends this device's app
 * session, and revokes the shared OAuth session at the PDS only when no app
 * session of the user is left (or `everywhere`, which ends them all).
 *
 * @module
 */

import { ConfigurationError, StoreError } from "../errors.ts";
import { summarizeOAuthError } from "./_classify.ts";
import type { OAuthHost } from "./_host.ts";
import type { ReplacementTracker } from "./_replacement.ts";
import type {
  OAuthClientLike,
  OAuthSessionLike,
  SignOutOptions,
} from "./types.ts";

/**
 * Signs the request's user out of this device (or every device).
 *
 * The app session goes first, so the cookie is dead before the PDS is
 * contacted. `client.revoke(did)` is bounded by `oauthTimeout`; the client
 * deletes its stored session even when the PDS cannot be reached, and the
 * deletion hook leaves this DID's app sessions to this function meanwhile.
 *
 * @param host The manager.
 * @param tracker Told that this DID's OAuth deletion is a sign-out.
 * @param request The request carrying the session cookie.
 * @param client The OAuth client.
 * @param options `everywhere` to end every app session of the user.
 * @returns The `Set-Cookie` header that clears the cookie (also when the
 * request carried no valid session).
 * @throws {ConfigurationError} Without a store.
 * @throws {StoreError} When the store fails: the session may still be live,
 * so the caller should answer 503 rather than claim the user signed out.
 */
export async function signOut<S extends OAuthSessionLike>(
  host: OAuthHost<object>,
  tracker: ReplacementTracker,
  request: { readonly headers: Pick<Headers, "get"> },
  client: OAuthClientLike<S>,
  options: SignOutOptions = {},
): Promise<string> {
  if (host.store === undefined) {
    throw new ConfigurationError(
      "signOut() needs a store, to know whether other devices still use the OAuth session: pass one to the constructor, such as new SessionManager({ cookieSecret, store: new MemorySessionStore() })",
    );
  }
  const clear = host.getClearCookieHeader();
  const everywhere = options?.everywhere === true;
  const result = await host.getSessionFromRequest(request);
  if (result.error !== null) {
    if (result.error.type === "STORE_UNAVAILABLE") {
      throw new StoreError(
        "Cannot sign out: the session store is unavailable",
      );
    }
    return clear;
  }
  const { did, sessionId } = result.data;
  let remaining: number;
  if (everywhere) {
    await host.revokeAllSessions(did);
    remaining = 0;
  } else {
    if (sessionId !== undefined) await host.revokeSession(sessionId, did);
    remaining = (await host.listSessions(did)).length;
  }
  if (remaining === 0) {
    const revoking = Promise.resolve().then(() => client.revoke(did));
    tracker.signingOut(did, revoking);
    try {
      await host.withDeadline(revoking, host.oauthTimeoutMs);
      host.logger.info("OAuth session revoked at the PDS", { everywhere });
    } catch (error) {
      host.logger.warn("OAuth session could not be revoked at the PDS", {
        everywhere,
        ...summarizeOAuthError(error),
      });
    }
  } else {
    host.logger.info("Signed out one device; the OAuth session stays", {
      remaining,
    });
  }
  return clear;
}
