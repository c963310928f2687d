/**
 * The server-side session store contract shared by the memory, Deno KV and
 * Redis adapters.
 *
 * @module
 */

/**
 * What the app recorded about the device that created a session.
 *
 * @example
 * ```ts
 * import type { SessionMetadata } from "@tijs/atproto-sessions";
 *
 * const metadata: SessionMetadata = { userAgent: "Firefox", ipAddress: "203.0.113.9" };
 * ```
 */
export interface SessionMetadata {
  /** The client's IP address, as the app saw it. */
  ipAddress?: string;
  /** The client's `User-Agent`. */
  userAgent?: string;
  /** An app-defined scope, such as an OAuth scope string. */
  scope?: string;
}

/**
 * A server-side session record. Times are milliseconds since the epoch.
 *
 * @example
 * ```ts
 * import type { SessionRecord } from "@tijs/atproto-sessions";
 *
 * const record: SessionRecord = {
 *   id: crypto.randomUUID(),
 *   did: "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
 *   createdAt: 0,
 *   lastAccessed: 0,
 *   expiresAt: 604_800_000,
 *   metadata: {},
 * };
 * ```
 */
export interface SessionRecord {
  /** The session id (a UUID v4 by default). */
  readonly id: string;
  /** The DID the session belongs to. */
  readonly did: string;
  /** When the session was created. */
  readonly createdAt: number;
  /** When the session was last refreshed (within `refreshAfter`). */
  readonly lastAccessed: number;
  /** When the session expires unless refreshed. */
  readonly expiresAt: number;
  /** What the app recorded about the device. */
  readonly metadata: SessionMetadata;
}

/**
 * The fields of a session record that may change after creation.
 *
 * @example
 * ```ts
 * import type { SessionRecordUpdate } from "@tijs/atproto-sessions";
 *
 * const update: SessionRecordUpdate = { metadata: { scope: "atproto" } };
 * ```
 */
export interface SessionRecordUpdate {
  /** A new last-access time. */
  lastAccessed?: number;
  /** A new expiry time. */
  expiresAt?: number;
  /** Metadata fields to merge into the record's metadata. */
  metadata?: SessionMetadata;
}

/**
 * Persistence for server-side sessions and revoked Bearer tokens. Implement
 * it to back sessions with another database; the three shipped adapters
 * pass one shared contract test suite. Every method may reject when the
 * backend is unreachable: the manager turns that into `STORE_UNAVAILABLE`.
 *
 * `now` arguments carry the manager's clock (milliseconds since the epoch);
 * a record whose `expiresAt` is at or before `now` must be treated as absent.
 *
 * @example A manager backed by the in-memory store
 * ```ts
 * import { SessionManager } from "@tijs/atproto-sessions";
 * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
 *
 * const sessions = new SessionManager({
 *   cookieSecret: "x".repeat(32),
 *   store: new MemorySessionStore(),
 * });
 * ```
 */
export interface SessionStore {
  /**
   * Stores a new record. When `maxSessionsPerUser` is a number, atomically
   * removes the DID's oldest active sessions (by `createdAt`, then `id`) so
   * that at most that many remain, the new one included.
   *
   * @returns The ids of the sessions evicted to honour the cap.
   */
  createSession(
    record: SessionRecord,
    maxSessionsPerUser: number | undefined,
    now: number,
  ): Promise<readonly string[]>;
  /** Returns the active record with this id, or null. */
  getSession(id: string, now: number): Promise<SessionRecord | null>;
  /** Applies an update to an active record; returns it, or null if absent. */
  updateSession(
    id: string,
    update: SessionRecordUpdate,
    now: number,
  ): Promise<SessionRecord | null>;
  /** Lists a DID's active sessions, newest (`createdAt`) first. */
  listSessions(did: string, now: number): Promise<readonly SessionRecord[]>;
  /** Deletes one session; resolves to whether it existed. */
  deleteSession(id: string): Promise<boolean>;
  /** Deletes every session of a DID; resolves to how many there were. */
  deleteAllSessions(did: string): Promise<number>;
  /** Remembers a revoked token id until `expiresAt`, then forgets it. */
  revokeToken(jti: string, expiresAt: number, now: number): Promise<void>;
  /** Tells whether a token id is revoked. */
  isTokenRevoked(jti: string, now: number): Promise<boolean>;
}
