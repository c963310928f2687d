/**
 * Public types: options, session data, results and error types.
 *
 * @module
 */

import type { SessionEventHandler } from "./events.ts";
import type { Logger } from "./logger.ts";
import type { SessionStore } from "./store.ts";

/**
 * The fields every session carries. Apps add their own (a handle, a PDS URL)
 * through the `T` parameter of `SessionManager<T>`.
 *
 * @example A session with an extra field
 * ```ts
 * import type { SessionData } from "@tijs/atproto-sessions";
 *
 * const data: SessionData & { handle: string } = {
 *   did: "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
 *   handle: "alice.bsky.social",
 *   createdAt: Date.now(),
 *   lastAccessed: Date.now(),
 *   authenticatedAt: Date.now(),
 * };
 * ```
 */
export interface SessionData {
  /** The user's DID, such as `did:plc:ewvi7nxzyoun6zhxrhs64oiz`. */
  did: string;
  /** When the session began, in milliseconds since the epoch. */
  createdAt: number;
  /**
   * When the session was last sealed, in milliseconds since the epoch.
   * Accurate to within the `refreshAfter` option.
   */
  lastAccessed: number;
  /**
   * When the user last actually signed in, in milliseconds since the epoch
   * (not moved by sliding refresh or token rotation). Check it with
   * `authenticatedWithin` before a sensitive action. Seals minted before
   * this field existed report their `createdAt`.
   */
  authenticatedAt: number;
  /**
   * The server-side session id; present only when a store is configured.
   * Bearer tokens carry one too: revoke them with `revokeSession`.
   */
  sessionId?: string;
  /**
   * A stateless Bearer token's unique id (tokens sealed without a store,
   * and tokens from version 0.1); pass it to `revokeToken`.
   */
  jti?: string;
  /**
   * When the Bearer token expires, in milliseconds since the epoch; present
   * only on Bearer token data (pass it to `revokeToken`).
   */
  expiresAt?: number;
}

/**
 * What `createSession` and `sealToken` accept: `did` is required, the
 * timestamps default to the current time, and app fields of `T` come along.
 *
 * @typeParam T The app's extra session fields.
 *
 * @example
 * ```ts
 * import type { SessionInput } from "@tijs/atproto-sessions";
 *
 * const input: SessionInput<{ handle: string }> = {
 *   did: "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
 *   handle: "alice.bsky.social",
 * };
 * ```
 */
export type SessionInput<T extends object = Record<never, never>> =
  & {
    did: string;
    createdAt?: number;
    lastAccessed?: number;
    authenticatedAt?: number;
  }
  & Omit<
    T,
    | "did"
    | "createdAt"
    | "lastAccessed"
    | "authenticatedAt"
    | "sessionId"
    | "jti"
    | "expiresAt"
  >;

/**
 * Why `getSessionFromRequest` found no session.
 *
 * - `NO_COOKIE`: the request carries no session cookie.
 * - `INVALID_COOKIE`: the cookie is not a well-formed seal, is too long, has a
 *   bad percent-encoding, or its authentic payload is not session data.
 * - `TAMPERED`: the seal's MAC does not verify: it was altered, or sealed with
 *   a secret this manager does not have under that id.
 * - `UNKNOWN_KEY`: the seal names a secret id that is not configured (a
 *   rotated-out secret, or a seal from another app).
 * - `SESSION_EXPIRED`: an authentic seal whose TTL or `maxSessionAge` passed.
 * - `SESSION_REVOKED`: an authentic seal whose server-side session was
 *   revoked, evicted or never existed (store configured).
 * - `STORE_UNAVAILABLE`: the store failed or did not answer within
 *   `storeTimeout`; no session is granted and the cookie is kept.
 */
export type SessionErrorType =
  | "NO_COOKIE"
  | "INVALID_COOKIE"
  | "TAMPERED"
  | "UNKNOWN_KEY"
  | "SESSION_EXPIRED"
  | "SESSION_REVOKED"
  | "STORE_UNAVAILABLE";

/**
 * Why `validateBearerToken` found no session.
 *
 * - `NO_TOKEN`: no Authorization header, or an empty one.
 * - `INVALID_TOKEN`: not `Bearer <token>`, a token too long or with
 *   characters outside the token alphabet, not a well-formed seal, or an
 *   authentic seal that is not a Bearer token (a session cookie).
 * - `TAMPERED`, `UNKNOWN_KEY`, `STORE_UNAVAILABLE`: as for cookies.
 * - `TOKEN_EXPIRED`: an authentic token whose TTL or `maxSessionAge` passed.
 * - `TOKEN_REVOKED`: an authentic token whose session was revoked, evicted
 *   or lost by the store, that was rotated away by `refreshBearerToken`, or
 *   (tokens without a record) whose `jti` was revoked.
 */
export type BearerErrorType =
  | "NO_TOKEN"
  | "INVALID_TOKEN"
  | "TAMPERED"
  | "UNKNOWN_KEY"
  | "TOKEN_EXPIRED"
  | "TOKEN_REVOKED"
  | "STORE_UNAVAILABLE";

/**
 * A typed reason for a missing session, safe to log (it never contains the
 * cookie, seal or token).
 *
 * @typeParam Type The error-type union.
 *
 * @example
 * ```ts
 * import type { SessionErrorInfo, SessionErrorType } from "@tijs/atproto-sessions";
 *
 * const error: SessionErrorInfo<SessionErrorType> = {
 *   type: "NO_COOKIE",
 *   message: "No session cookie",
 * };
 * ```
 */
export interface SessionErrorInfo<Type extends string> {
  /** A code to switch on. */
  readonly type: Type;
  /** A short human-readable explanation. */
  readonly message: string;
}

/**
 * The result of `getSessionFromRequest`. On success `data` holds the session
 * and `setCookieHeader` the header to send back. On failure `data` is null,
 * `error` says why, and `setCookieHeader` is a header that clears a rejected
 * cookie (null when there is nothing to clear, or the store was unavailable).
 *
 * @typeParam T The app's extra session fields.
 *
 * @example Switching on the result
 * ```ts
 * import type { SessionResult } from "@tijs/atproto-sessions";
 *
 * function status(result: SessionResult): number {
 *   if (result.data) return 200;
 *   return result.error.type === "STORE_UNAVAILABLE" ? 503 : 401;
 * }
 * ```
 */
export type SessionResult<T extends object = Record<never, never>> =
  | {
    readonly data: SessionData & T;
    readonly setCookieHeader: string;
    readonly error: null;
  }
  | {
    readonly data: null;
    readonly setCookieHeader: string | null;
    readonly error: SessionErrorInfo<SessionErrorType>;
  };

/**
 * The result of `validateBearerToken`.
 *
 * @typeParam T The app's extra session fields.
 *
 * @example
 * ```ts
 * import type { BearerResult } from "@tijs/atproto-sessions";
 *
 * function didOf(result: BearerResult): string | null {
 *   return result.data?.did ?? null;
 * }
 * ```
 */
export type BearerResult<T extends object = Record<never, never>> =
  | { readonly data: SessionData & T; readonly error: null }
  | {
    readonly data: null;
    readonly error: SessionErrorInfo<BearerErrorType>;
  };

/**
 * `Set-Cookie` attributes for the session cookie.
 *
 * @example A cookie scoped to a sub-path, sent cross-site
 * ```ts
 * import type { CookieOptions } from "@tijs/atproto-sessions";
 *
 * const cookie: CookieOptions = { path: "/app", sameSite: "None", secure: true };
 * ```
 */
export interface CookieOptions {
  /**
   * The `Path` attribute. Must start with `/`.
   * @default {"/"}
   */
  path?: string;
  /**
   * The `Domain` attribute; omitted by default, which keeps the cookie on
   * the exact host. Not allowed with a `__Host-` cookie name.
   */
  domain?: string;
  /**
   * The `SameSite` attribute. `"None"` requires `secure`.
   * @default {"Lax"}
   */
  sameSite?: "Strict" | "Lax" | "None" | "strict" | "lax" | "none";
  /**
   * The `Secure` attribute. Browsers treat `http://localhost` as secure, so
   * keep it on in development too.
   * @default {true}
   */
  secure?: boolean;
  /**
   * The `HttpOnly` attribute: scripts cannot read the cookie.
   * @default {true}
   */
  httpOnly?: boolean;
  /**
   * The `Partitioned` attribute (CHIPS). Requires `secure`.
   * @default {false}
   */
  partitioned?: boolean;
}

/**
 * The secret that seals sessions: one string of at least 32 characters, or a
 * map of numeric ids to such strings for rotation. The highest id seals;
 * every id unseals. An optional `default` entry unseals seals that carry no
 * id (plain Iron seals, as `@hapi/iron` makes them).
 *
 * @example Rotating in a new secret
 * ```ts
 * import type { CookieSecret } from "@tijs/atproto-sessions";
 *
 * const cookieSecret: CookieSecret = {
 *   "1": "the-old-secret-at-least-32-characters",
 *   "2": "the-new-secret-at-least-32-characters",
 * };
 * ```
 */
export type CookieSecret = string | Readonly<Record<string, string>>;

/**
 * Options for `new SessionManager(options)`.
 *
 * @example
 * ```ts
 * import type { SessionManagerOptions } from "@tijs/atproto-sessions";
 *
 * const options: SessionManagerOptions = {
 *   cookieSecret: "x".repeat(32),
 *   sessionTtl: 60 * 60 * 24,
 * };
 * ```
 */
export interface SessionManagerOptions {
  /** The sealing secret (at least 32 characters) or a rotation map. */
  cookieSecret: CookieSecret;
  /**
   * The session cookie's name; an RFC 6265 token. `__Host-` and `__Secure-`
   * prefixes are honoured and their rules enforced.
   * @default {"sid"}
   */
  cookieName?: string;
  /**
   * How long a session lives after its last refresh, in seconds. Also the
   * cookie's `Max-Age`. At most 400 days (the browsers' cap).
   * @default {604800}
   */
  sessionTtl?: number;
  /**
   * How long a Bearer token lives after it was sealed, in seconds.
   * @default {sessionTtl}
   */
  tokenTtl?: number;
  /**
   * An absolute lifetime in seconds, counted from `createdAt`, that sliding
   * refresh never extends. Unset means no absolute limit.
   */
  maxSessionAge?: number;
  /**
   * How long a rotated-away Bearer token may be presented to
   * `refreshBearerToken` again, in seconds, by a client retrying a refresh
   * whose reply it lost: within it the retry receives the same new token;
   * after it, presenting the old token is reuse and revokes the session.
   * @default {30}
   */
  tokenReuseGrace?: number;
  /**
   * Seconds of clock skew tolerated when checking expiry, for fleets of
   * servers whose clocks disagree. A seal is rejected once
   * `now > expiry + clockSkew`.
   * @default {0}
   */
  clockSkew?: number;
  /**
   * Seconds after which a session seen on a request is re-sealed (sliding
   * refresh). Younger seals are answered without any cryptography, and
   * `lastAccessed` is accurate to within this many seconds. `0` re-seals on
   * every request, as the original package did.
   * @default {60}
   */
  refreshAfter?: number;
  /**
   * How many verified seals to remember (an LRU keyed by the exact seal), so
   * a returning browser costs a map lookup. `0` disables the cache.
   * @default {5000}
   */
  cacheSize?: number;
  /** `Set-Cookie` attributes. */
  cookie?: CookieOptions;
  /** Where to send log lines. The default discards them. */
  logger?: Logger;
  /**
   * A server-side session store. With one, every cookie and Bearer token
   * has a session record: sessions can be listed and revoked, and token
   * refresh is a single-use rotation.
   */
  store?: SessionStore;
  /**
   * With a store: the most sessions (cookies and tokens) one DID may hold;
   * creating one more evicts the oldest. Unset means no cap.
   */
  maxSessionsPerUser?: number;
  /**
   * With a store: the most milliseconds any one store call may take. On the
   * request path a call that has not settled by then yields
   * `STORE_UNAVAILABLE`; management calls throw `StoreError`.
   * @default {5000}
   */
  storeTimeout?: number;
  /**
   * Seconds each AT Protocol OAuth client call (`client.restore`,
   * `client.revoke`) may take on the request path before
   * `getOAuthSession` answers `OAUTH_UNAVAILABLE`. A token refresh is about
   * three round trips to the PDS; the OAuth client bounds identity
   * resolution at 10 s too.
   * @default {10}
   */
  oauthTimeout?: number;
  /**
   * Seconds a mobile hand-off code (`createHandoffCode`) stays redeemable.
   * @default {60}
   */
  handoffTtl?: number;
  /**
   * Origins besides the request's own that `checkOrigin` accepts on
   * state-changing requests, each exact (`https://app.example.com`: scheme,
   * host, a non-default port; no path). Behind a proxy that terminates TLS
   * or rewrites the host, list the public origin here.
   * @default {[]}
   */
  trustedOrigins?: readonly string[];
  /**
   * Receives typed events (`session.created`, `session.revoked`,
   * `session.evicted`, `session.rotated`, `token.rotated`,
   * `token.reuse_detected`) for sign-in alerts and audit logs. It is called
   * without being awaited; what it throws or rejects with is logged and
   * never reaches the request.
   */
  onEvent?: SessionEventHandler;
  /**
   * The clock, in milliseconds since the epoch, read at every call. Inject
   * one in tests. A clock that returns a non-finite value fails closed.
   * @default {() => Date.now()}
   */
  now?: () => number;
  /**
   * Generates session ids and token `jti`s.
   * @default {() => crypto.randomUUID()}
   */
  generateId?: () => string;
}
