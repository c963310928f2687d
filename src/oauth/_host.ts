/**
 * What the OAuth bridge needs from the `SessionManager`: its store, its
 * sealing secret, its clock and deadlines, and a few public methods. The
 * manager builds one and hands it to `OAuthBridge`; tests build one from a
 * real manager (`tests/oauth/_host.ts`).
 *
 * @module
 */

import type { Logger } from "../logger.ts";
import type { SessionMetadata, SessionRecord, SessionStore } from "../store.ts";
import type { BearerResult, SessionInput, SessionResult } from "../types.ts";

/**
 * The manager as the OAuth bridge sees it.
 *
 * @typeParam T The app's extra session fields.
 */
export interface OAuthHost<T extends object = Record<never, never>> {
  /**
   * The manager's store. The bridge needs it to also implement
   * `KeyValueStore` and says so (a `ConfigurationError`) when it does not.
   */
  readonly store: SessionStore | undefined;
  /** The manager's logger; never given a secret, seal or token. */
  readonly logger: Logger;
  /** The manager's clock, in milliseconds since the epoch. */
  now(): number;
  /** A fresh unique id (lock owners). */
  generateId(): string;
  /**
   * Seals a JSON value with the manager's secret (its current id), expiring
   * `ttlMs` from now.
   */
  sealValue(value: unknown, ttlMs: number): Promise<string>;
  /**
   * Opens a value from {@linkcode sealValue}, under any configured secret id
   * (so values survive rotation); null when it is malformed, tampered,
   * sealed under an unknown id or expired. Never rejects.
   */
  openValue(sealed: string): Promise<unknown | null>;
  /**
   * Resolves or rejects as `promise` does, or rejects with an error named
   * `"TimeoutError"` once `ms` pass; the timer is cleared when `promise`
   * settles and a late settlement is swallowed.
   */
  withDeadline<R>(promise: Promise<R>, ms: number): Promise<R>;
  /** The bound on each store call (`storeTimeout`). */
  readonly storeTimeoutMs: number;
  /** The bound on each OAuth client call (`oauthTimeout`). */
  readonly oauthTimeoutMs: number;
  /** `SessionManager.getSessionFromRequest`. */
  getSessionFromRequest(
    request: { readonly headers: Pick<Headers, "get"> },
  ): Promise<SessionResult<T>>;
  /** `SessionManager.validateBearerToken`. */
  validateBearerToken(
    authorizationHeader: string | null | undefined,
  ): Promise<BearerResult<T>>;
  /** `SessionManager.sealToken`: with a store, a token session record. */
  sealToken(data: SessionInput<T>, metadata?: SessionMetadata): Promise<string>;
  /** `SessionManager.revokeSession`. */
  revokeSession(sessionId: string, did?: string): Promise<boolean>;
  /** `SessionManager.revokeAllSessions`: cookies and tokens. */
  revokeAllSessions(did: string): Promise<number>;
  /** `SessionManager.listSessions`. */
  listSessions(did: string): Promise<readonly SessionRecord[]>;
  /** `SessionManager.getClearCookieHeader`. */
  getClearCookieHeader(): string;
}
