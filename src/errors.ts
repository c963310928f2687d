/**
 * Error classes thrown by atproto-sessions.
 *
 * Request-path methods never throw on what a client sent; they return a
 * result with a typed `error.type`. These classes are thrown only for
 * programmer mistakes: misconfiguration at construction, data the caller
 * passed to `createSession` or `sealToken` that cannot be sealed, or store
 * methods called on a manager without a store.
 *
 * @module
 */

/**
 * Codes carried by {@linkcode SessionsError} and its subclasses.
 *
 * - `CONFIGURATION`: an option passed to the constructor is invalid, or a
 *   feature that needs an option (such as a store) was used without it.
 * - `COOKIE`: a `Set-Cookie` header could not be produced (too large, or an
 *   attribute value that cannot be serialised safely).
 * - `INVALID_DID`: a `did` given to `createSession` or `sealToken` is not a
 *   syntactically valid DID.
 * - `INVALID_SESSION_DATA`: session data given to `createSession` or
 *   `sealToken` cannot be sealed (not JSON-serialisable, bad timestamps).
 * - `STORE_UNAVAILABLE`: a session-management call (`createSession` with a
 *   store, `listSessions`, `revokeSession`...) could not reach the store.
 */
export type SessionsErrorCode =
  | "CONFIGURATION"
  | "COOKIE"
  | "INVALID_DID"
  | "INVALID_SESSION_DATA"
  | "STORE_UNAVAILABLE";

/**
 * Base class of every error this package throws.
 *
 * @example Telling the package's errors apart
 * ```ts
 * import { SessionManager, SessionsError } from "@tijs/atproto-sessions";
 * import assert from "node:assert/strict";
 *
 * try {
 *   new SessionManager({ cookieSecret: "too short" });
 * } catch (error) {
 *   assert.ok(error instanceof SessionsError);
 *   assert.equal(error.code, "CONFIGURATION");
 * }
 * ```
 */
export class SessionsError extends Error {
  /** A machine-readable code describing the kind of failure. */
  readonly code: SessionsErrorCode;

  /**
   * Creates an error with a code.
   *
   * @param code What kind of failure this is.
   * @param message A human-readable explanation that says how to fix it.
   * @param options Standard error options, such as the `cause`.
   */
  constructor(
    code: SessionsErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = this.constructor.name;
    this.code = code;
  }
}

/**
 * Thrown when the manager is misconfigured: a secret that is too short, an
 * out-of-range TTL, cookie options that break the `__Host-` prefix rules, or
 * a store method called without a store.
 *
 * @example Catching a short secret at start-up
 * ```ts
 * import { ConfigurationError, SessionManager } from "@tijs/atproto-sessions";
 * import assert from "node:assert/strict";
 *
 * assert.throws(
 *   () => new SessionManager({ cookieSecret: "short" }),
 *   ConfigurationError,
 * );
 * ```
 */
export class ConfigurationError extends SessionsError {
  /**
   * Creates a configuration error.
   *
   * @param message What is wrong, what was received and how to fix it.
   * @param options Standard error options, such as the `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super("CONFIGURATION", message, options);
  }
}

/**
 * Thrown when a `Set-Cookie` header cannot be produced safely, for example
 * when the sealed session would exceed the 4096-byte limit browsers enforce
 * (they drop an oversized cookie silently).
 *
 * @example Session data too large for a cookie
 * ```ts
 * import { CookieError, SessionManager } from "@tijs/atproto-sessions";
 * import assert from "node:assert/strict";
 *
 * const sessions = new SessionManager<{ bio: string }>({
 *   cookieSecret: "x".repeat(32),
 * });
 * await assert.rejects(
 *   sessions.createSession({ did: "did:plc:abc", bio: "x".repeat(5000) }),
 *   CookieError,
 * );
 * ```
 */
export class CookieError extends SessionsError {
  /**
   * Creates a cookie error.
   *
   * @param message What could not be serialised and why.
   * @param options Standard error options, such as the `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super("COOKIE", message, options);
  }
}

/**
 * Thrown when the data handed to `createSession` or `sealToken` cannot be
 * sealed: a `did` that is not a valid DID (code `INVALID_DID`) or data that is
 * not JSON-serialisable (code `INVALID_SESSION_DATA`).
 *
 * @example An invalid DID
 * ```ts
 * import { SessionDataError, SessionManager } from "@tijs/atproto-sessions";
 * import assert from "node:assert/strict";
 *
 * const sessions = new SessionManager({ cookieSecret: "x".repeat(32) });
 * await assert.rejects(
 *   sessions.sealToken({ did: "alice.bsky.social" }),
 *   SessionDataError,
 * );
 * ```
 */
export class SessionDataError extends SessionsError {
  /**
   * Creates a session data error.
   *
   * @param code `INVALID_DID` or `INVALID_SESSION_DATA`.
   * @param message What is wrong with the data.
   * @param options Standard error options, such as the `cause`.
   */
  constructor(
    code: "INVALID_DID" | "INVALID_SESSION_DATA",
    message: string,
    options?: ErrorOptions,
  ) {
    super(code, message, options);
  }
}

/**
 * Thrown by session-management calls (`createSession` with a store,
 * `getSession`, `listSessions`, `updateSession`, the `revoke*` methods and
 * `isTokenRevoked`) when the store rejects or is unreachable. The store's
 * own error is the `cause`. Request-path methods never throw it: they return
 * the error type `STORE_UNAVAILABLE` instead.
 *
 * @example Answering 503 when the store is down
 * ```ts
 * import { StoreError } from "@tijs/atproto-sessions";
 *
 * function toResponse(error: unknown): Response {
 *   if (error instanceof StoreError) return new Response(null, { status: 503 });
 *   throw error;
 * }
 * ```
 */
export class StoreError extends SessionsError {
  /**
   * Creates a store error.
   *
   * @param message Which operation failed.
   * @param options Standard error options; pass the store's error as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super("STORE_UNAVAILABLE", message, options);
  }
}
