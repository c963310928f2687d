/**
 * An in-memory {@linkcode SessionStore} for a single process.
 *
 * @module
 */

import { copyMetadata, freezeRecord, newestFirst } from "../_session_record.ts";
import type {
  SessionRecord,
  SessionRecordUpdate,
  SessionStore,
} from "../store.ts";

/**
 * Keeps sessions and revoked token ids in process memory. Suitable for one
 * server process, development and tests; sessions are lost on restart and
 * not shared between processes (use Deno KV or Redis for that). Expired
 * entries are ignored on read and swept as the store is used, so memory is
 * bounded by the number of live sessions and unexpired revocations.
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
export class MemorySessionStore implements SessionStore {
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #byDid = new Map<string, Set<string>>();
  readonly #revokedTokens = new Map<string, number>();
  #nextSweep = 0;

  /**
   * Stores a record, evicting the DID's oldest sessions beyond the cap.
   *
   * @param record The new session.
   * @param maxSessionsPerUser The cap, or undefined for none.
   * @param now The manager's clock.
   * @returns The evicted ids.
   */
  createSession(
    record: SessionRecord,
    maxSessionsPerUser: number | undefined,
    now: number,
  ): Promise<readonly string[]> {
    this.#sweep(now);
    this.#sessions.set(record.id, freezeRecord(record));
    let ids = this.#byDid.get(record.did);
    if (ids === undefined) this.#byDid.set(record.did, ids = new Set());
    ids.add(record.id);
    const evicted: string[] = [];
    if (maxSessionsPerUser !== undefined) {
      const active = this.#active(record.did, now);
      for (const old of active.slice(maxSessionsPerUser)) {
        this.#remove(old.id);
        evicted.push(old.id);
      }
    }
    return Promise.resolve(evicted);
  }

  /**
   * Returns an active session.
   *
   * @param id The session id.
   * @param now The manager's clock.
   * @returns The record or null.
   */
  getSession(id: string, now: number): Promise<SessionRecord | null> {
    return Promise.resolve(this.#live(id, now));
  }

  /**
   * Updates an active session.
   *
   * @param id The session id.
   * @param update The fields to change.
   * @param now The manager's clock.
   * @returns The updated record or null.
   */
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
      metadata: { ...record.metadata, ...copyMetadata(update.metadata) },
    });
    this.#sessions.set(id, updated);
    return Promise.resolve(updated);
  }

  /**
   * Lists a DID's active sessions, newest first.
   *
   * @param did The DID.
   * @param now The manager's clock.
   * @returns The records.
   */
  listSessions(did: string, now: number): Promise<readonly SessionRecord[]> {
    return Promise.resolve(this.#active(did, now));
  }

  /**
   * Deletes one session.
   *
   * @param id The session id.
   * @returns Whether it existed.
   */
  deleteSession(id: string): Promise<boolean> {
    return Promise.resolve(this.#remove(id));
  }

  /**
   * Deletes every session of a DID.
   *
   * @param did The DID.
   * @returns How many there were.
   */
  deleteAllSessions(did: string): Promise<number> {
    const ids = [...(this.#byDid.get(did) ?? [])];
    for (const id of ids) this.#remove(id);
    return Promise.resolve(ids.length);
  }

  /**
   * Remembers a revoked token id until it expires.
   *
   * @param jti The token id.
   * @param expiresAt When the token expires.
   * @param now The manager's clock.
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
   * Tells whether a token id is revoked.
   *
   * @param jti The token id.
   * @param now The manager's clock.
   * @returns Whether it is revoked.
   */
  isTokenRevoked(jti: string, now: number): Promise<boolean> {
    const expiresAt = this.#revokedTokens.get(jti);
    return Promise.resolve(expiresAt !== undefined && expiresAt > now);
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

  #active(did: string, now: number): SessionRecord[] {
    const records: SessionRecord[] = [];
    for (const id of [...(this.#byDid.get(did) ?? [])]) {
      const record = this.#live(id, now);
      if (record !== null) records.push(record);
    }
    return records.sort(newestFirst);
  }

  #remove(id: string): boolean {
    const record = this.#sessions.get(id);
    if (record === undefined) return false;
    this.#sessions.delete(id);
    const ids = this.#byDid.get(record.did);
    ids?.delete(id);
    if (ids?.size === 0) this.#byDid.delete(record.did);
    return true;
  }

  /** Drops expired entries, at most once a minute of the manager's clock. */
  #sweep(now: number): void {
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + 60_000;
    for (const [id, record] of this.#sessions) {
      if (record.expiresAt <= now) this.#remove(id);
    }
    for (const [jti, expiresAt] of this.#revokedTokens) {
      if (expiresAt <= now) this.#revokedTokens.delete(jti);
    }
  }
}
