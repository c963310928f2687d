/**
 * The `SessionManager`: {@linkcode SessionManagerDevices}'s cookies, Bearer
 * tokens and device management, plus key usage and the AT Protocol OAuth
 * bridge (the
 * OAuth client's stores and refresh lock over the manager's store, restoring
 * the OAuth session behind a cookie or token, sign-out that revokes at the
 * PDS, and mobile hand-off codes). The bridge itself lives in `src/oauth/`.
 *
 * @module
 */

import { contextOf, type ManagerContext } from "./_context.ts";
import type { KeyUsageReport } from "./_key_usage.ts";
import { oauthHostOf } from "./_oauth_host.ts";
import { OAuthBridge } from "./oauth/bridge.ts";
import type {
  HandoffCode,
  OAuthBearerResult,
  OAuthClientLike,
  OAuthSessionLike,
  OAuthSessionResult,
  OAuthStores,
  OAuthStoresOptions,
  SignOutOptions,
} from "./oauth/types.ts";
import { SessionManagerDevices } from "./session_manager_devices.ts";
import type { SessionMetadata } from "./store.ts";
import type { SessionInput } from "./types.ts";

/**
 * Seals AT Protocol sessions with Iron (AES-256-CBC + HMAC-SHA256 over Web
 * Crypto) into cookies and Bearer tokens, reads them back from standard Web
 * `Request`s, keeps a server-side record of every device when given a
 * store, and holds the user's AT Protocol OAuth session behind the cookie.
 * Request-path methods never throw on client input: they return a result
 * with a typed `error.type`.
 *
 * @typeParam T Extra fields the app keeps in its sessions, such as a handle.
 *
 * @example Cookie sessions in a Deno.serve handler
 * ```ts
 * import { SessionManager } from "@tijs/atproto-sessions";
 * import assert from "node:assert/strict";
 *
 * const sessions = new SessionManager({ cookieSecret: "a-secret-of-at-least-32-characters!" });
 *
 * // After the OAuth callback: create the session.
 * const setCookie = await sessions.createSession({ did: "did:plc:ewvi7nxzyoun6zhxrhs64oiz" });
 *
 * // On later requests: read it back.
 * const cookie = setCookie.slice(0, setCookie.indexOf(";"));
 * const request = new Request("http://localhost/", { headers: { cookie } });
 * const { data, error } = await sessions.getSessionFromRequest(request);
 * assert.equal(data?.did, "did:plc:ewvi7nxzyoun6zhxrhs64oiz");
 * assert.equal(error, null);
 * ```
 */
export class SessionManager<T extends object = Record<never, never>>
  extends SessionManagerDevices<T> {
  #bridge: OAuthBridge<T> | undefined;

  /** One bridge per manager: its stores and its deletion hook share state. */
  #oauth(): OAuthBridge<T> {
    if (this.#bridge === undefined) {
      const context = contextOf(this) as ManagerContext;
      this.#bridge = new OAuthBridge(oauthHostOf(this, context), {
        handoffTtlMs: context.options.handoffTtlMs,
      });
    }
    return this.#bridge;
  }

  /**
   * The AT Protocol OAuth client's `stateStore`, `sessionStore` and
   * `requestLock`, over the manager's store: pass them to
   * `new NodeOAuthClient({ ..., stateStore, sessionStore, requestLock })`
   * (or atcute's `stores: { states: stateStore, sessions: sessionStore }`).
   * Values are sealed at rest with the manager's secret; the lock is a real
   * lease across every process sharing the store, and throws rather than
   * run the refresh unlocked. Call it once and keep the result.
   *
   * @param options Lifetimes and lock timings, in seconds.
   * @returns `{ stateStore, sessionStore, requestLock }`.
   * @throws {ConfigurationError} Without a store, or with a store that does
   * not implement `KeyValueStore`.
   *
   * @example
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({
   *   cookieSecret: "a-secret-of-at-least-32-characters!",
   *   store: new MemorySessionStore(),
   * });
   * const { stateStore, requestLock } = sessions.oauthStores();
   * await stateStore.set("state-1", { iss: "http://localhost:2583" });
   * assert.deepEqual(await stateStore.get("state-1"), { iss: "http://localhost:2583" });
   * assert.equal(await requestLock("refresh", () => 42), 42);
   * ```
   */
  oauthStores(options?: OAuthStoresOptions): OAuthStores {
    return this.#oauth().oauthStores(options);
  }

  /**
   * Reads the session cookie and restores the user's AT Protocol OAuth
   * session behind it (`client.restore(did)`, bounded by `oauthTimeout`).
   * Besides the cookie's own error types: `OAUTH_SESSION_ENDED` (the PDS
   * revoked the grant or the stored session is gone: the user's app
   * sessions are revoked and the cookie is cleared) and `OAUTH_UNAVAILABLE`
   * (a network error, timeout or 5xx: the cookie is kept, `data` still
   * says who the user is; answer 503).
   *
   * @typeParam S The OAuth client's session type.
   * @param request The request with the session cookie.
   * @param client The OAuth client (`NodeOAuthClient` or alike).
   * @returns `{ data, oauthSession, setCookieHeader, error }`; never throws
   * on client input.
   *
   * @example Without a cookie the client is never asked
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({
   *   cookieSecret: "a-secret-of-at-least-32-characters!",
   *   store: new MemorySessionStore(),
   * });
   * const client = {
   *   restore: (did: string) => Promise.resolve({ did }),
   *   revoke: () => Promise.resolve(),
   * };
   * const result = await sessions.getOAuthSession(new Request("http://localhost/"), client);
   * assert.equal(result.error?.type, "NO_COOKIE");
   * ```
   */
  getOAuthSession<S extends OAuthSessionLike>(
    request: { readonly headers: Pick<Headers, "get"> },
    client: OAuthClientLike<S>,
  ): Promise<OAuthSessionResult<T, S>> {
    return this.#oauth().getOAuthSession(request, client);
  }

  /**
   * {@linkcode getOAuthSession} for a mobile app's request: validates the
   * `Authorization: Bearer` token and restores the OAuth session behind it.
   *
   * @typeParam S The OAuth client's session type.
   * @param authorizationHeader The `Authorization` header value.
   * @param client The OAuth client.
   * @returns `{ data, oauthSession, error }`; never throws on client input.
   *
   * @example
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({ cookieSecret: "a-secret-of-at-least-32-characters!" });
   * const client = {
   *   restore: (did: string) => Promise.resolve({ did }),
   *   revoke: () => Promise.resolve(),
   * };
   * const token = await sessions.sealToken({ did: "did:plc:ewvi7nxzyoun6zhxrhs64oiz" });
   * const result = await sessions.getOAuthSessionFromBearer(`Bearer ${token}`, client);
   * assert.equal(result.oauthSession?.did, "did:plc:ewvi7nxzyoun6zhxrhs64oiz");
   * ```
   */
  getOAuthSessionFromBearer<S extends OAuthSessionLike>(
    authorizationHeader: string | null | undefined,
    client: OAuthClientLike<S>,
  ): Promise<OAuthBearerResult<T, S>> {
    return this.#oauth().getOAuthSessionFromBearer(authorizationHeader, client);
  }

  /**
   * Pass as the OAuth client's `onSessionDeleted` hook: when the user's
   * OAuth session ends at the PDS, every app session of that DID (cookies
   * and tokens) ends too. A deletion that is `callback()` replacing the
   * session with a new sign-in of the same user (a second browser, a phone)
   * is recognised and ends nothing.
   *
   * @param did The account whose OAuth session was deleted.
   * @param cause Why, as the client reports it.
   * @returns When the app sessions are dealt with; never rejects.
   *
   * @example
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({
   *   cookieSecret: "a-secret-of-at-least-32-characters!",
   *   store: new MemorySessionStore(),
   * });
   * const did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
   * await sessions.createSession({ did });
   * await sessions.onOAuthSessionDeleted(did, new Error("revoked"));
   * assert.equal((await sessions.listSessions(did)).length, 0);
   * ```
   */
  onOAuthSessionDeleted(did: string, cause?: unknown): Promise<void> {
    return this.#oauth().onOAuthSessionDeleted(did, cause);
  }

  /**
   * Signs this device out: ends its app session and revokes the OAuth
   * session at the PDS (`client.revoke(did)`) when it was the user's last
   * app session, or with `everywhere` (which also ends every other app
   * session of the user). Other devices sharing the OAuth session stay
   * signed in.
   *
   * @typeParam S The OAuth client's session type.
   * @param request The request with the session cookie.
   * @param client The OAuth client.
   * @param options `{ everywhere }`.
   * @returns The `Set-Cookie` header that clears the cookie.
   * @throws {StoreError} When the store fails; the cookie is then kept, so
   * the user can try again.
   *
   * @example
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({
   *   cookieSecret: "a-secret-of-at-least-32-characters!",
   *   store: new MemorySessionStore(),
   * });
   * const revoked: string[] = [];
   * const client = {
   *   restore: (did: string) => Promise.resolve({ did }),
   *   revoke: (did: string) => { revoked.push(did); return Promise.resolve(); },
   * };
   * const setCookie = await sessions.createSession({ did: "did:web:example.com" });
   * const request = new Request("http://localhost/", {
   *   headers: { cookie: setCookie.split(";")[0]! },
   * });
   * assert.match(await sessions.signOut(request, client), /^sid=; Max-Age=0/);
   * assert.deepEqual(revoked, ["did:web:example.com"]); // it was the last device
   * ```
   */
  signOut<S extends OAuthSessionLike>(
    request: { readonly headers: Pick<Headers, "get"> },
    client: OAuthClientLike<S>,
    options?: SignOutOptions,
  ): Promise<string> {
    return this.#oauth().signOut(request, client, options);
  }

  /**
   * For the OAuth callback of a native app: a single-use code (valid for
   * `handoffTtl`) to put in the redirect to the app's custom URL scheme,
   * instead of a token. The app POSTs it to {@linkcode redeemHandoffCode}.
   * Only the code's SHA-256 is stored, with the data sealed.
   *
   * @param data The session the token will carry.
   * @param metadata What to record about the device.
   * @returns `{ code, expiresAt }`.
   * @throws {ConfigurationError} Without a store that implements
   * `KeyValueStore`.
   * @throws {StoreError} When the store fails.
   *
   * @example
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({
   *   cookieSecret: "a-secret-of-at-least-32-characters!",
   *   store: new MemorySessionStore(),
   * });
   * const { code } = await sessions.createHandoffCode({ did: "did:web:example.com" });
   * const token = await sessions.redeemHandoffCode(code, { label: "Alice's iPhone" });
   * assert.ok(token !== null);
   * assert.equal(await sessions.redeemHandoffCode(code), null); // single use
   * ```
   */
  createHandoffCode(
    data: SessionInput<T>,
    metadata?: SessionMetadata,
  ): Promise<HandoffCode> {
    return this.#oauth().createHandoffCode(data, metadata);
  }

  /**
   * Redeems a hand-off code for a Bearer token: a token session in the
   * user's device list. Of concurrent redemptions of one code, at most one
   * gets a token.
   *
   * @param code The code from {@linkcode createHandoffCode}.
   * @param metadata What to record about the device (overrides what was
   * recorded with the code).
   * @returns The token, or null for an unknown, used, expired or malformed
   * code (or when the store fails, logged as a `warn`).
   *
   * @example
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({
   *   cookieSecret: "a-secret-of-at-least-32-characters!",
   *   store: new MemorySessionStore(),
   * });
   * assert.equal(await sessions.redeemHandoffCode("not-a-code"), null);
   * ```
   */
  redeemHandoffCode(
    code: string,
    metadata?: SessionMetadata,
  ): Promise<string | null> {
    return this.#oauth().redeemHandoffCode(code, metadata);
  }

  /**
   * Reports, since the manager started, how each secret id of
   * `cookieSecret` has been used: cookies and tokens it opened, requests
   * that carried one of its seals, values at rest it opened, and when it
   * was last seen. A cookie under an id that is not the newest is re-sealed
   * under the newest on its next request, so after a rotation
   * (`cookieSecret: { "1": old, "2": new }`) the old id's counts stop
   * growing; once its `lastSeenAt` is older than the longest lifetime a
   * seal can still have (`sessionTtl`, `tokenTtl`), drop it. A Bearer token
   * moves to the newest id at its next `refreshBearerToken`.
   *
   * @returns Every configured id (and `"default"` once a seal without an id
   * was seen), newest first.
   *
   * @example Watching the old secret fall out of use
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import assert from "node:assert/strict";
   *
   * const oldSecret = "the-old-secret-of-at-least-32-characters";
   * const newSecret = "the-new-secret-of-at-least-32-characters";
   * const before = new SessionManager({ cookieSecret: { "1": oldSecret } });
   * const setCookie = await before.createSession({ did: "did:web:example.com" });
   *
   * const sessions = new SessionManager({
   *   cookieSecret: { "1": oldSecret, "2": newSecret },
   * });
   * const cookie = setCookie.slice(0, setCookie.indexOf(";"));
   * const request = new Request("http://localhost/", { headers: { cookie } });
   * const { setCookieHeader } = await sessions.getSessionFromRequest(request);
   * assert.ok(setCookieHeader?.startsWith("sid=Fe26.2*2*")); // re-sealed
   *
   * const [current, old] = sessions.keyUsage().keys;
   * assert.equal(current?.keyId, "2");
   * assert.equal(old?.keyId, "1");
   * assert.equal(old?.opened, 1);
   * ```
   */
  keyUsage(): KeyUsageReport {
    return (contextOf(this) as ManagerContext).keyUsage();
  }
}
