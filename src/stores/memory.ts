/**
 * An in-memory {@linkcode SessionStore} and {@linkcode KeyValueStore} for a
 * single process.
 *
 * @module
 */

import { freezeRecord, newestFirst } from "../_session_record.ts";
import type {
  CreateSessionOptions,
  KeyValueStore,
  RotationResult,
  SessionRecord,
  SessionRecordUpdate,
  SessionStore,
  TokenRotation,
  ValueNamespace,
} from "../store.ts";

/** A stored value and when it expires (null: never). */
interface Entry {
  readonly value: string;
  readonly expiresAt: number | null;
}

/** A lease: who holds it and until when. */
interface Lease {
  readonly owner: string;
  readonly expiresAt: number;
}

/** How often, on the manager's clock, expired entries are swept. */
const SWEEP_INTERVAL_MS = 60_000;

/**
 * Keeps sessions, revoked legacy token ids, short-lived values and leases in
 * process memory. Suitable for one server process, development and tests:
 * everything is lost on restart and not shared between processes (use Deno
 * KV, Redis, PostgreSQL or SQLite for that), and its `requestLock` leases
 * only exclude callers in the same process. Every operation is synchronous
 * underneath, so each is atomic. Expired entries are ignored on read and
 * swept as the store is used, so memory is bounded by what is live.
 *
 * @example
 * ```ts
 * import { SessionManager } from "@tijs/atproto-sessions";
 * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
 *
 * const sessions = new SessionManager({
 *   cookieSecret: "a-secret-of-at-least-32-characters!",
 *   store: new MemorySessionStore(),
 *   maxSessionsPerUser: 5,
 * });
 * ```
 */
export class MemorySessionStore implements SessionStore, KeyValueStore {
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #byDid = new Map<string, Set<string>>();
  readonly #revokedTokens = new Map<string, number>();
  readonly #values = new Map<ValueNamespace, Map<string, Entry>>();
  readonly #leases = new Map<string, Lease>();
  #nextSweep = 0;

  /**
   * Stores a record; the cap and `replaces` apply in the same synchronous step.
   * See {@linkcode SessionStore.createSession}.
   */
  createSession(
    record: SessionRecord,
    options: CreateSessionOptions,
    now: number,
  ): Promise<readonly SessionRecord[]> {
    this.#sweep(now);
    const { maxSessionsPerUser, replaces } = options ?? {};
    if (replaces !== undefined && replaces !== record.id) {
      if (this.#sessions.get(replaces)?.did === record.did) {
        this.#remove(replaces);
      }
    }
    this.#remove(record.id);
    this.#sessions.set(record.id, freezeRecord(record));
    let ids = this.#byDid.get(record.did);
    if (ids === undefined) this.#byDid.set(record.did, ids = new Set());
    ids.add(record.id);
    const evicted: SessionRecord[] = [];
    if (maxSessionsPerUser !== undefined) {
      const others = this.#active(record.did, now).filter((other) =>
        other.id !== record.id
      );
      for (const old of others.slice(Math.max(0, maxSessionsPerUser - 1))) {
        this.#remove(old.id);
        evicted.push(old);
      }
    }
    return Promise.resolve(evicted);
  }

  /** Returns an active session; see {@linkcode SessionStore.getSession}. */
  getSession(id: string, now: number): Promise<SessionRecord | null> {
    return Promise.resolve(this.#live(id, now));
  }

  /** Updates an active session; see {@linkcode SessionStore.updateSession}. */
  updateSession(
    id: string,
    update: SessionRecordUpdate,
    now: number,
  ): Promise<SessionRecord | null> {
    const record = this.#live(id, now);
    if (record === null) return Promise.resolve(null);
    const updated = freezeRecord({
      ...record,
      lastAccessed: update.lastAccessed ?? record.lastAccessed,
      expiresAt: update.expiresAt ?? record.expiresAt,
      metadata: { ...record.metadata, ...update.metadata },
    });
    this.#sessions.set(id, updated);
    return Promise.resolve(updated);
  }

  /**
   * Rotates a token's record if it is still at `generation`; see
   * {@linkcode SessionStore.rotateToken}.
   */
  rotateToken(
    id: string,
    generation: number,
    rotation: TokenRotation,
    now: number,
  ): Promise<RotationResult> {
    const record = this.#live(id, now);
    if (record === null || record.generation !== generation) {
      return Promise.resolve({ rotated: false, record });
    }
    const rotated = freezeRecord({
      ...record,
      generation: generation + 1,
      rotatedAt: rotation.lastAccessed,
      lastAccessed: rotation.lastAccessed,
      expiresAt: rotation.expiresAt,
      successor: rotation.successor,
    });
    this.#sessions.set(id, rotated);
    return Promise.resolve({ rotated: true, record: rotated });
  }

  /**
   * Lists a DID's active sessions, newest first; see
   * {@linkcode SessionStore.listSessions}.
   */
  listSessions(did: string, now: number): Promise<readonly SessionRecord[]> {
    return Promise.resolve(this.#active(did, now));
  }

  /** Deletes one session; see {@linkcode SessionStore.deleteSession}. */
  deleteSession(id: string): Promise<SessionRecord | null> {
    return Promise.resolve(this.#remove(id));
  }

  /**
   * Deletes every session of a DID; see
   * {@linkcode SessionStore.deleteAllSessions}.
   */
  deleteAllSessions(did: string): Promise<readonly SessionRecord[]> {
    const deleted: SessionRecord[] = [];
    for (const id of [...(this.#byDid.get(did) ?? [])]) {
      const record = this.#remove(id);
      if (record !== null) deleted.push(record);
    }
    return Promise.resolve(deleted);
  }

  /**
   * Remembers a revoked legacy token id until it expires; see
   * {@linkcode SessionStore.revokeToken}.
   */
  revokeToken(jti: string, expiresAt: number, now: number): Promise<void> {
    this.#sweep(now);
    if (expiresAt > now) {
      this.#revokedTokens.set(
        jti,
        Math.max(expiresAt, this.#revokedTokens.get(jti) ?? 0),
      );
    }
    return Promise.resolve();
  }

  /**
   * Tells whether a legacy token id is revoked; see
   * {@linkcode SessionStore.isTokenRevoked}.
   */
  isTokenRevoked(jti: string, now: number): Promise<boolean> {
    const expiresAt = this.#revokedTokens.get(jti);
    return Promise.resolve(expiresAt !== undefined && expiresAt > now);
  }

  /** Returns a live value; see {@linkcode KeyValueStore.getValue}. */
  getValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<string | null> {
    return Promise.resolve(this.#liveValue(namespace, key, now));
  }

  /**
   * Stores a value until `expiresAt`; see {@linkcode KeyValueStore.setValue}.
   */
  setValue(
    namespace: ValueNamespace,
    key: string,
    value: string,
    expiresAt: number | null,
    now: number,
  ): Promise<void> {
    this.#sweep(now);
    let entries = this.#values.get(namespace);
    if (entries === undefined) this.#values.set(namespace, entries = new Map());
    entries.set(key, { value, expiresAt });
    return Promise.resolve();
  }

  /**
   * Reads and deletes a live value; see {@linkcode KeyValueStore.takeValue}.
   */
  takeValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<string | null> {
    const value = this.#liveValue(namespace, key, now);
    this.#values.get(namespace)?.delete(key);
    return Promise.resolve(value);
  }

  /** Deletes a value; see {@linkcode KeyValueStore.deleteValue}. */
  deleteValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<boolean> {
    const existed = this.#liveValue(namespace, key, now) !== null;
    this.#values.get(namespace)?.delete(key);
    return Promise.resolve(existed);
  }

  /**
   * Deletes every value of a namespace; see
   * {@linkcode KeyValueStore.clearValues}.
   */
  clearValues(namespace: ValueNamespace): Promise<void> {
    this.#values.delete(namespace);
    return Promise.resolve();
  }

  /** Takes or extends a lease; see {@linkcode KeyValueStore.acquireLock}. */
  acquireLock(
    name: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<boolean> {
    const lease = this.#leases.get(name);
    if (lease !== undefined && lease.expiresAt > now && lease.owner !== owner) {
      return Promise.resolve(false);
    }
    this.#leases.set(name, { owner, expiresAt: now + leaseMs });
    return Promise.resolve(true);
  }

  /**
   * Extends a lease its owner still holds; see
   * {@linkcode KeyValueStore.renewLock}.
   */
  renewLock(
    name: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<boolean> {
    const lease = this.#leases.get(name);
    if (
      lease === undefined || lease.owner !== owner || lease.expiresAt <= now
    ) {
      return Promise.resolve(false);
    }
    this.#leases.set(name, { owner, expiresAt: now + leaseMs });
    return Promise.resolve(true);
  }

  /**
   * Frees a lease if `owner` holds it; see
   * {@linkcode KeyValueStore.releaseLock}.
   */
  releaseLock(name: string, owner: string): Promise<void> {
    if (this.#leases.get(name)?.owner === owner) this.#leases.delete(name);
    return Promise.resolve();
  }

  #live(id: string, now: number): SessionRecord | null {
    const record = this.#sessions.get(id);
    if (record === undefined) return null;
    if (record.expiresAt <= now) {
      this.#remove(id);
      return null;
    }
    return record;
  }

  #liveValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): string | null {
    const entries = this.#values.get(namespace);
    const entry = entries?.get(key);
    if (entry === undefined) return null;
    if (entry.expiresAt !== null && entry.expiresAt <= now) {
      entries?.delete(key);
      return null;
    }
    return entry.value;
  }

  #active(did: string, now: number): SessionRecord[] {
    const records: SessionRecord[] = [];
    for (const id of [...(this.#byDid.get(did) ?? [])]) {
      const record = this.#live(id, now);
      if (record !== null) records.push(record);
    }
    return records.sort(newestFirst);
  }

  #remove(id: string): SessionRecord | null {
    const record = this.#sessions.get(id);
    if (record === undefined) return null;
    this.#sessions.delete(id);
    const ids = this.#byDid.get(record.did);
    ids?.delete(id);
    if (ids?.size === 0) this.#byDid.delete(record.did);
    return record;
  }

  /** Drops expired entries, at most once a minute of the manager's clock. */
  #sweep(now: number): void {
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + SWEEP_INTERVAL_MS;
    for (const [id, record] of this.#sessions) {
      if (record.expiresAt <= now) this.#remove(id);
    }
    for (const [jti, expiresAt] of this.#revokedTokens) {
      if (expiresAt <= now) this.#revokedTokens.delete(jti);
    }
    for (const entries of this.#values.values()) {
      for (const [key, entry] of entries) {
        if (entry.expiresAt !== null && entry.expiresAt <= now) {
          entries.delete(key);
        }
      }
    }
    for (const [name, lease] of this.#leases) {
      if (lease.expiresAt <= now) this.#leases.delete(name);
    }
  }
}
