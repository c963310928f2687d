/**
 * The server-side store contracts shared by the memory, Deno KV, Redis,
 * PostgreSQL and SQLite adapters: {@linkcode SessionStore} for session
 * records (browser cookies and Bearer tokens alike) and
 * {@linkcode KeyValueStore} for short-lived values and leases (AT Protocol
 * OAuth state and sessions, mobile hand-off codes, the cross-process refresh
 * lock).
 *
 * @module
 */

/**
 * Which kind of credential a session record stands behind: a browser's
 * cookie or a mobile app's Bearer token.
 *
 * @example
 * ```ts
 * import type { SessionKind } from "@tijs/atproto-sessions";
 *
 * const kind: SessionKind = "token";
 * ```
 */
export type SessionKind = "cookie" | "token";

/**
 * What the app recorded about the device that created a session.
 *
 * @example
 * ```ts
 * import type { SessionMetadata } from "@tijs/atproto-sessions";
 *
 * const metadata: SessionMetadata = {
 *   userAgent: "Firefox",
 *   ipAddress: "203.0.113.9",
 *   label: "Alice's laptop",
 * };
 * ```
 */
export interface SessionMetadata {
  /** The client's IP address, as the app saw it. */
  ipAddress?: string;
  /** The client's `User-Agent`. */
  userAgent?: string;
  /** An app-defined scope, such as an OAuth scope string. */
  scope?: string;
  /** A name for the device the user will recognise ("Alice's iPhone"). */
  label?: string;
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
 *   kind: "cookie",
 *   createdAt: 0,
 *   lastAccessed: 0,
 *   expiresAt: 604_800_000,
 *   authenticatedAt: 0,
 *   generation: 0,
 *   rotatedAt: null,
 *   successor: null,
 *   metadata: {},
 * };
 * ```
 */
export interface SessionRecord {
  /** The session id (a UUID v4 by default). */
  readonly id: string;
  /** The DID the session belongs to. */
  readonly did: string;
  /** A browser cookie or a Bearer token. */
  readonly kind: SessionKind;
  /** When the session was created. */
  readonly createdAt: number;
  /** When the session was last refreshed (within `refreshAfter`). */
  readonly lastAccessed: number;
  /** When the session expires unless refreshed. */
  readonly expiresAt: number;
  /** When the user last actually signed in (not a refresh). */
  readonly authenticatedAt: number;
  /**
   * The Bearer token's rotation counter: 0 when created, one more at each
   * `refreshBearerToken`. Only the token of the current generation is
   * valid. Cookies stay at 0.
   */
  readonly generation: number;
  /** When the token was last rotated, or null if never. */
  readonly rotatedAt: number | null;
  /**
   * The token that replaced generation `generation - 1`, sealed with the
   * manager's secret, kept so that an honest client retrying a refresh
   * whose reply it lost receives the same token within `tokenReuseGrace`.
   * Null for cookies and before the first rotation. Opaque to stores; the
   * manager never returns it from `listSessions` or `getSession`.
   */
  readonly successor: string | null;
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
 * What a token rotation writes: the next generation's times and its sealed
 * successor (see {@linkcode SessionRecord.successor}).
 *
 * @example
 * ```ts
 * import type { TokenRotation } from "@tijs/atproto-sessions";
 *
 * const rotation: TokenRotation = {
 *   lastAccessed: 1000,
 *   expiresAt: 3_601_000,
 *   successor: "Fe26.2*1*...",
 * };
 * ```
 */
export interface TokenRotation {
  /** The rotation time; also the new `rotatedAt`. */
  readonly lastAccessed: number;
  /** The new expiry. */
  readonly expiresAt: number;
  /** The new token, sealed with the manager's secret. */
  readonly successor: string;
}

/**
 * The outcome of {@linkcode SessionStore.rotateToken}: whether this call
 * won the rotation, and the record as it stands afterwards (null when the
 * session is gone or expired).
 *
 * @example
 * ```ts
 * import type { RotationResult } from "@tijs/atproto-sessions";
 *
 * function won(result: RotationResult): boolean {
 *   return result.rotated;
 * }
 * ```
 */
export type RotationResult =
  | { readonly rotated: true; readonly record: SessionRecord }
  | { readonly rotated: false; readonly record: SessionRecord | null };

/**
 * Options of {@linkcode SessionStore.createSession}.
 *
 * @example
 * ```ts
 * import type { CreateSessionOptions } from "@tijs/atproto-sessions";
 *
 * const options: CreateSessionOptions = { maxSessionsPerUser: 5, replaces: "old-id" };
 * ```
 */
export interface CreateSessionOptions {
  /**
   * The most sessions the DID may hold, the new one included; the oldest
   * others are evicted. Undefined means no cap.
   */
  maxSessionsPerUser?: number | undefined;
  /**
   * The id of a session of the same DID to delete in the same atomic step
   * (`rotateSession`). Ignored when it belongs to another DID.
   */
  replaces?: string | undefined;
}

/**
 * Persistence for server-side sessions and revoked legacy Bearer tokens.
 * Implement it to back sessions with another database; the shipped adapters
 * pass one shared contract test suite. Every method may reject when the
 * backend is unreachable: the manager turns that into `STORE_UNAVAILABLE`
 * (and bounds every call by its `storeTimeout`).
 *
 * `now` arguments carry the manager's clock (milliseconds since the epoch);
 * a record whose `expiresAt` is at or before `now` must be treated as absent.
 * Stores return frozen records holding exactly the fields of
 * {@linkcode SessionRecord}.
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
   * Stores a new record, atomically with the cap and the replacement: with
   * `maxSessionsPerUser`, removes the DID's oldest other active sessions
   * (by `createdAt`, then `id`) so that at most that many remain, the new
   * one included. The new record is never evicted, whatever its
   * `createdAt`. With `replaces`, deletes that session (if it belongs to the
   * same DID) in the same step; it is not reported as evicted.
   *
   * @returns The records evicted to honour the cap.
   */
  createSession(
    record: SessionRecord,
    options: CreateSessionOptions,
    now: number,
  ): Promise<readonly SessionRecord[]>;
  /** Returns the active record with this id, or null. */
  getSession(id: string, now: number): Promise<SessionRecord | null>;
  /**
   * Applies an update to an active record in one atomic step (one round
   * trip where the backend allows: this is the sliding refresh); returns
   * the updated record, or null if absent or expired.
   */
  updateSession(
    id: string,
    update: SessionRecordUpdate,
    now: number,
  ): Promise<SessionRecord | null>;
  /**
   * A compare-and-set rotation: if the record is active and its
   * `generation` equals `generation`, atomically sets `generation + 1`,
   * `rotatedAt` and `lastAccessed` to `rotation.lastAccessed`, the new
   * `expiresAt` and `successor`, and resolves `{ rotated: true, record }`.
   * Otherwise changes nothing and resolves `{ rotated: false, record }`
   * with the record as it is (null when absent or expired). Of any number
   * of concurrent calls with the same generation, across processes, at most
   * one rotates.
   */
  rotateToken(
    id: string,
    generation: number,
    rotation: TokenRotation,
    now: number,
  ): Promise<RotationResult>;
  /** Lists a DID's active sessions, newest (`createdAt`) first. */
  listSessions(did: string, now: number): Promise<readonly SessionRecord[]>;
  /** Deletes one session; resolves to the record it deleted, or null. */
  deleteSession(id: string): Promise<SessionRecord | null>;
  /** Deletes every session of a DID; resolves to the records deleted. */
  deleteAllSessions(did: string): Promise<readonly SessionRecord[]>;
  /**
   * Remembers a revoked legacy token id (tokens sealed before tokens had
   * records) until `expiresAt`, then forgets it.
   */
  revokeToken(jti: string, expiresAt: number, now: number): Promise<void>;
  /** Tells whether a legacy token id is revoked. */
  isTokenRevoked(jti: string, now: number): Promise<boolean>;
  /**
   * Optional: turns a freshly generated id into the id stored and sealed,
   * for backends whose key layout needs the DID in the id (Redis Cluster
   * puts a DID's hash tag in it so all of a DID's keys share one slot).
   */
  sessionIdFor?(did: string, id: string): string;
}

/**
 * The namespaces the manager keeps short-lived values under.
 *
 * - `oauth_state`: AT Protocol OAuth authorization state, keyed by `state`.
 * - `oauth_session`: AT Protocol OAuth sessions (sealed), keyed by DID.
 * - `handoff`: mobile hand-off codes, keyed by the code's SHA-256.
 *
 * @example
 * ```ts
 * import type { ValueNamespace } from "@tijs/atproto-sessions";
 *
 * const namespace: ValueNamespace = "oauth_state";
 * ```
 */
export type ValueNamespace = "oauth_state" | "oauth_session" | "handoff";

/**
 * Short-lived values and leases, for AT Protocol OAuth (`oauthStores()`)
 * and mobile hand-off codes. Every shipped store implements it next to
 * {@linkcode SessionStore}. Values are opaque strings (the manager seals
 * what is secret); keys are at most 1024 characters. As for sessions,
 * `now` is the manager's clock and a value whose `expiresAt` is at or
 * before `now` must be treated as absent (a backend's own expiry is only
 * clean-up). Every operation is atomic across processes sharing the
 * backend.
 *
 * @example Against the in-memory store
 * ```ts
 * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
 * import assert from "node:assert/strict";
 *
 * const store = new MemorySessionStore();
 * await store.setValue("handoff", "k", "v", 2_000, 1_000);
 * assert.equal(await store.takeValue("handoff", "k", 1_500), "v");
 * assert.equal(await store.takeValue("handoff", "k", 1_500), null);
 * ```
 */
export interface KeyValueStore {
  /** Returns the live value, or null. */
  getValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<string | null>;
  /** Stores a value until `expiresAt` (null: until deleted). */
  setValue(
    namespace: ValueNamespace,
    key: string,
    value: string,
    expiresAt: number | null,
    now: number,
  ): Promise<void>;
  /**
   * Reads and deletes a live value in one atomic step: of concurrent
   * callers, at most one receives it.
   */
  takeValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<string | null>;
  /** Deletes a value; resolves to whether a live one existed. */
  deleteValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<boolean>;
  /** Deletes every value of a namespace. */
  clearValues(namespace: ValueNamespace): Promise<void>;
  /**
   * Takes the lease `name` for `owner` until `now + leaseMs` if it is free
   * or its lease has run out, atomically; resolves to whether `owner` now
   * holds it. A holder asking again extends its lease.
   */
  acquireLock(
    name: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<boolean>;
  /**
   * Extends the lease to `now + leaseMs` if `owner` still holds it;
   * resolves to whether it did.
   */
  renewLock(
    name: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<boolean>;
  /** Frees the lease if `owner` holds it; never frees another's. */
  releaseLock(name: string, owner: string): Promise<void>;
}

/**
 * The methods of {@linkcode KeyValueStore}, for checking at run time that a
 * store implements it.
 */
export const KEY_VALUE_METHODS: readonly (keyof KeyValueStore)[] = Object
  .freeze([
    "getValue",
    "setValue",
    "takeValue",
    "deleteValue",
    "clearValues",
    "acquireLock",
    "renewLock",
    "releaseLock",
  ]);
