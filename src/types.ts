/**
 * Public types: session data, results and error types (the manager's
 * options are in `options.ts`).
 *
 * @module
 */

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
