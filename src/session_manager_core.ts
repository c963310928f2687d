/**
 * `SessionManagerCore`: sealing, reading and refreshing cookies and Bearer
 * tokens, the first of three layers of `SessionManager`
 * (`session_manager_devices.ts` adds the device list and revocation,
 * `session_manager.ts` the AT Protocol OAuth bridge). A short facade: the
 * cookie path lives in `_cookie_path.ts` and `_cookie_issue.ts`, the token
 * path in `_token_path.ts` and `_token_rotation.ts`, verification and
 * sealing in `_verifier.ts` and `_sealer.ts`, deadlines in
 * `_store_calls.ts`, events in `_events.ts`, and the shared internals in
 * `_context.ts`.
 *
 * @module
 */

import {
  checkOrigin,
  type OriginCheckRequest,
  type OriginCheckResult,
} from "./origin_check.ts";
import { ManagerContext, registerContext } from "./_context.ts";
import { CookieIssuer } from "./_cookie_issue.ts";
import { CookiePath } from "./_cookie_path.ts";
import { EPOCH_EXPIRES } from "./_cookie.ts";
import { TokenPath } from "./_token_path.ts";
import type { SessionMetadata } from "./store.ts";
import type { SessionManagerOptions } from "./options.ts";
import type {
  BearerResult,
  SessionData,
  SessionInput,
  SessionResult,
} from "./types.ts";

/**
 * The cookie and Bearer-token methods of {@linkcode SessionManager}, which
 * extends this class with the device list and the AT Protocol OAuth bridge.
 * Construct a `SessionManager`; the layers exist so that each stays
 * readable. It seals AT Protocol sessions with Iron (AES-256-CBC
 * + HMAC-SHA256 over Web Crypto) into cookies and Bearer tokens, and reads
 * them back from standard Web `Request`s. Request-path methods never throw
 * on client input: they return a result with a typed `error.type`.
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
 * const { data, setCookieHeader, error } = await sessions.getSessionFromRequest(request);
 * assert.equal(data?.did, "did:plc:ewvi7nxzyoun6zhxrhs64oiz");
 * assert.equal(error, null);
 * assert.ok(setCookieHeader?.startsWith("sid="));
 * ```
 */
export class SessionManagerCore<T extends object = Record<never, never>> {
  readonly #cookies: CookiePath<T>;
  readonly #issuer: CookieIssuer<T>;
  readonly #tokens: TokenPath<T>;
  readonly #clearCookieHeader: string;
  readonly #trustedOrigins: readonly string[];

  /**
   * Creates a manager. All validation happens here, once.
   *
   * @param options The secret and optional settings.
   * @throws {ConfigurationError} When an option is invalid; the message says
   * what was received (never quoting it) and how to fix it.
   */
  constructor(options: SessionManagerOptions) {
    const context = new ManagerContext(options);
    const { cookieName, cookieAttributes } = context.options;
    this.#clearCookieHeader =
      `${cookieName}=; Max-Age=0; Expires=${EPOCH_EXPIRES}${cookieAttributes}`;
    this.#cookies = new CookiePath(context, this.#clearCookieHeader);
    this.#issuer = new CookieIssuer(context);
    this.#tokens = new TokenPath(context);
    this.#trustedOrigins = context.options.trustedOrigins;
    registerContext(this, context);
  }

  /**
   * Reads the session from a request's Cookie header. On success returns
   * the data and a `Set-Cookie` header to send back: a fresh seal when the
   * session is due for a sliding refresh (older than `refreshAfter`),
   * otherwise the same seal with `Max-Age` set to its remaining lifetime.
   * A rejected cookie yields an `error` and a header that clears it.
   *
   * @param request A Web `Request`, or anything with Web `Headers`.
   * @returns The session, or a typed error; never throws.
   *
   * @example Protecting a route
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({ cookieSecret: "a-secret-of-at-least-32-characters!" });
   * const result = await sessions.getSessionFromRequest(new Request("http://localhost/"));
   * assert.equal(result.error?.type, "NO_COOKIE");
   * ```
   */
  getSessionFromRequest(
    request: { readonly headers: Pick<Headers, "get"> },
  ): Promise<SessionResult<T>> {
    return this.#cookies.read(request);
  }

  /**
   * Creates a session and returns the `Set-Cookie` header that carries it.
   * `createdAt`, `lastAccessed` and `authenticatedAt` default to now. With
   * a store, a session record is written too (evicting the DID's oldest
   * session beyond `maxSessionsPerUser`), and the seal carries its id.
   *
   * @param data The session: a valid `did` and the app's own fields.
   * @param metadata With a store: what to record about the device.
   * @returns The `Set-Cookie` header value.
   * @throws {SessionDataError} When `did` is invalid or the data cannot be
   * sealed.
   * @throws {CookieError} When the header would exceed 4096 bytes.
   * @throws {StoreError} When the store fails or misses `storeTimeout`.
   *
   * @example Signing a user in
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({ cookieSecret: "a-secret-of-at-least-32-characters!" });
   * const setCookie = await sessions.createSession({ did: "did:web:example.com" });
   * assert.match(setCookie, /^sid=Fe26\.2\*1\*.*; Max-Age=604800; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
   * ```
   */
  createSession(
    data: SessionInput<T>,
    metadata: SessionMetadata = {},
  ): Promise<string> {
    return this.#issuer.create(data, metadata);
  }

  /**
   * Re-issues a session under a new session id after a privilege change
   * (OWASP: renew the id after sign-in, a password or role change). With a
   * store, the old record is deleted in the same atomic step as the new
   * one is created, so the old cookie stops working at once. `createdAt`
   * and `authenticatedAt` are kept from `data` (set `authenticatedAt` to
   * now if the user just signed in again).
   *
   * @param data The session as read (with any changes).
   * @param metadata What to record; by default the old record's.
   * @returns The `Set-Cookie` header value.
   * @throws {SessionDataError | CookieError | StoreError} As `createSession`.
   *
   * @example
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({ cookieSecret: "a-secret-of-at-least-32-characters!", store: new MemorySessionStore() });
   * const first = await sessions.createSession({ did: "did:web:example.com" });
   * const read = await sessions.getSessionFromRequest(new Request("http://localhost/", { headers: { cookie: first.split(";")[0]! } }));
   * const rotated = await sessions.rotateSession(read.data!);
   * assert.notEqual(rotated, first);
   * assert.equal((await sessions.listSessions("did:web:example.com")).length, 1);
   * ```
   */
  rotateSession(
    data: SessionData & T,
    metadata?: SessionMetadata,
  ): Promise<string> {
    return this.#issuer.rotate(data, metadata);
  }

  /**
   * CSRF protection for cookie sessions: checks that a state-changing
   * request comes from the app's own pages. Safe methods (GET, HEAD,
   * OPTIONS) pass; others pass only when `Origin` is the request's own
   * origin or one of `trustedOrigins`, or, without an `Origin`, when
   * `Sec-Fetch-Site` is `same-origin`. `Origin: null` is refused. Behind a
   * proxy, list the public origin in `trustedOrigins`. Never throws.
   *
   * @param request The request: its method, URL and headers.
   * @returns `{ ok: true }`, or `{ ok: false, reason, expected, received }`.
   *
   * @example Refusing a cross-site form post
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({
   *   cookieSecret: "a-secret-of-at-least-32-characters!",
   *   trustedOrigins: ["https://app.example.com"],
   * });
   * const request = new Request("http://10.0.0.5:8000/logout", {
   *   method: "POST",
   *   headers: { origin: "https://evil.example" },
   * });
   * const result = sessions.checkOrigin(request);
   * assert.equal(result.ok, false);
   * assert.equal(!result.ok && result.reason, "ORIGIN_MISMATCH");
   * ```
   */
  checkOrigin(request: OriginCheckRequest): OriginCheckResult {
    return checkOrigin(request, this.#trustedOrigins);
  }

  /**
   * Returns a `Set-Cookie` header that deletes the session cookie: the same
   * Path and Domain, `Max-Age=0` and an `Expires` in 1970 (`sid=; Max-Age=0;
   * Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; ...`). With a store, also
   * call `revokeSession` so a copied cookie stops working too.
   *
   * @returns The header value.
   */
  getClearCookieHeader(): string {
    return this.#clearCookieHeader;
  }

  /**
   * Seals session data into a Bearer token for clients that cannot keep
   * cookies. With a store, the token is a session like a cookie: a record
   * of kind `"token"` is created (listed, counted by `maxSessionsPerUser`,
   * revoked by `revokeSession` / `revokeAllSessions`) and the token carries
   * its `sessionId`. Without a store it is stateless and carries a `jti`.
   * It expires after `tokenTtl` (capped by `maxSessionAge`).
   *
   * @param data The session: a valid `did` and the app's own fields.
   * @param metadata With a store: what to record, such as a `label`.
   * @returns The token, an Iron seal safe in an Authorization header.
   * @throws {SessionDataError} When `did` is invalid or the data cannot be
   * sealed.
   * @throws {StoreError} When the store fails or misses `storeTimeout`.
   *
   * @example Minting and checking a token
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({ cookieSecret: "a-secret-of-at-least-32-characters!" });
   * const token = await sessions.sealToken({ did: "did:plc:ewvi7nxzyoun6zhxrhs64oiz" });
   * const { data } = await sessions.validateBearerToken(`Bearer ${token}`);
   * assert.equal(data?.did, "did:plc:ewvi7nxzyoun6zhxrhs64oiz");
   * ```
   */
  sealToken(
    data: SessionInput<T>,
    metadata: SessionMetadata = {},
  ): Promise<string> {
    return this.#tokens.seal(data, metadata);
  }

  /**
   * Opens a Bearer token (the token itself, not the header).
   *
   * @param token A token from `sealToken` or `refreshBearerToken`.
   * @returns The session data, or null when the token is not valid (for
   * any reason `validateBearerToken` would report; example there).
   */
  async unsealToken(token: string): Promise<(SessionData & T) | null> {
    if (typeof token !== "string" || token.length === 0) return null;
    return (await this.#tokens.readSafely(token)).data;
  }

  /**
   * Validates an `Authorization` header value of the form `Bearer <token>`.
   * With a store, the token's record is read on every call (the cache
   * never answers for it): a revoked, evicted or lost session, or a token
   * rotated away by `refreshBearerToken`, is `TOKEN_REVOKED`.
   *
   * @param authorizationHeader The header value, or null when absent.
   * @returns The session data, or a typed error; never throws.
   *
   * @example Authenticating an API request
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({ cookieSecret: "a-secret-of-at-least-32-characters!" });
   * const { error } = await sessions.validateBearerToken("Basic abc");
   * assert.equal(error?.type, "INVALID_TOKEN");
   * ```
   */
  validateBearerToken(
    authorizationHeader: string | null | undefined,
  ): Promise<BearerResult<T>> {
    return this.#tokens.validate(authorizationHeader);
  }

  /**
   * Exchanges a valid Bearer token for a new one (a new expiry capped by
   * `maxSessionAge`, `lastAccessed` now, `authenticatedAt` kept). With a
   * store this is a single-use rotation: the old token stops working at
   * once; concurrent refreshes and a retry within `tokenReuseGrace` all
   * receive the same new token; presenting the old token after the grace
   * revokes the session (reuse). Without a store, a new stateless token.
   *
   * @param authorizationHeader The header value carrying the current token.
   * @returns The new token, or null when the current one is not valid, was
   * reused, or the store is unavailable.
   *
   * @example
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({ cookieSecret: "a-secret-of-at-least-32-characters!" });
   * const token = await sessions.sealToken({ did: "did:plc:ewvi7nxzyoun6zhxrhs64oiz" });
   * const fresh = await sessions.refreshBearerToken(`Bearer ${token}`);
   * assert.ok(fresh !== null && fresh !== token);
   * ```
   */
  refreshBearerToken(
    authorizationHeader: string | null | undefined,
  ): Promise<string | null> {
    return this.#tokens.refresh(authorizationHeader);
  }
}
