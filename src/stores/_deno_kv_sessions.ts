/**
 * The Deno KV store's {@linkcode SessionStore} half: records, the per-DID
 * index and marker, and revoked legacy tokens.
 *
 * @module
 */

import {
  assertSessionCap,
  newestFirst,
  timeToLive,
} from "../_session_record.ts";
import type {
  CreateSessionOptions,
  RotationResult,
  SessionRecord,
  SessionRecordUpdate,
  SessionStore,
  TokenRotation,
} from "../store.ts";
import type { KvKeys } from "./_deno_kv_keys.ts";
import {
  copyMetadata,
  type IndexEntry,
  toIndexEntry,
  toRecord,
} from "./_deno_kv_record.ts";
import { type Attempt, retry, type RetryLimits } from "./_deno_kv_retry.ts";

/** Sessions deleted per atomic operation (Deno KV caps mutations at 1000). */
const DELETE_BATCH = 100;
/** How long a DID's change marker outlives the last change to its set. */
const MARKER_TTL_MS = 10 * 60 * 1000;
/** Deno KV's `getMany` reads at most this many keys. */
const GET_MANY_MAX = 10;

/** Session records over one `Deno.Kv` (see `DenoKvSessionStore`). */
export class KvSessions implements SessionStore {
  readonly #kv: Deno.Kv;
  readonly #keys: KvKeys;
  readonly #limits: RetryLimits;

  /**
   * @param kv The database.
   * @param keys The key layout.
   * @param limits The retry bounds.
   */
  constructor(kv: Deno.Kv, keys: KvKeys, limits: RetryLimits) {
    this.#kv = kv;
    this.#keys = keys;
    this.#limits = limits;
  }
  /**
   * Stores a new record; with `maxSessionsPerUser`, evicts the DID's oldest
   * other active sessions in the same commit so that at most that many
   * remain, the new one included (it is never evicted); with `replaces`,
   * deletes that session of the same DID in the same commit.
   *
   * @param record The new session.
   * @param options The cap and the session replaced.
   * @param now The manager's clock.
   * @returns The records evicted to honour the cap.
   * @throws {TypeError} When `record` is not a session record.
   * @throws {RangeError} When the cap is not a non-negative integer.
   * @throws {StoreError} When a retry bound is reached.
   */
  async createSession(
    record: SessionRecord,
    options: CreateSessionOptions,
    now: number,
  ): Promise<readonly SessionRecord[]> {
    const cap = options.maxSessionsPerUser;
    assertSessionCap(cap);
    const stored = toRecord(record);
    if (stored === null) {
      throw new TypeError(
        "Cannot create session: record must be a SessionRecord with string id and did, numeric times and a metadata object",
      );
    }
    const { did, id } = stored;
    const [sessionKey, indexKey, markerKey] = await Promise.all([
      this.#keys.session(id),
      this.#keys.indexEntry(did, id),
      this.#keys.userMarker(did),
    ]);
    const replaces = options.replaces === id ? undefined : options.replaces;
    const replacedKey = replaces === undefined
      ? null
      : await this.#keys.session(replaces);
    const expireIn = timeToLive(stored.expiresAt, now);
    const evicted: SessionRecord[] = [];
    let created = false;
    await this.#run("createSession", async () => {
      const reads = cap === undefined && replacedKey === null
        ? []
        : await this.#kv.getMany<unknown[]>(
          replacedKey === null ? [markerKey] : [markerKey, replacedKey],
        );
      const replaced = created ? null : toRecord(reads[1]?.value);
      const replacedId = replaced?.did === did ? replaced.id : null;
      const others = cap === undefined ? [] : (await this.#index(did))
        .filter((entry) =>
          entry.id !== id && entry.id !== replacedId && entry.expiresAt > now
        )
        .sort(newestFirst);
      // The new record is never evicted, so it keeps cap - 1 others.
      const keep = cap === undefined ? Infinity : Math.max(cap - 1, 0);
      const excess = others.slice(keep).slice(0, DELETE_BATCH);
      const op = this.#kv.atomic();
      if (cap !== undefined) op.check(reads[0]!);
      op.set(markerKey, true, { expireIn: MARKER_TTL_MS });
      if (!created) {
        op.set(sessionKey, stored, { expireIn })
          .set(indexKey, stored, { expireIn });
        if (replacedId !== null) {
          for (const key of await this.#keys.pair(did, replacedId)) {
            op.delete(key);
          }
        }
      }
      for (const old of excess) {
        for (const key of await this.#keys.pair(did, old.id)) op.delete(key);
      }
      if (!(await op.commit()).ok) return "conflict";
      created = true;
      for (const old of excess) if (old.record) evicted.push(old.record);
      // A backlog over the cap larger than one batch (the cap was lowered)
      // is evicted over several commits, each under the same marker check.
      return others.length - excess.length <= keep ? "done" : "progress";
    });
    return evicted;
  }

  /**
   * Returns an active session: one `get`.
   *
   * @param id The session id.
   * @param now The manager's clock.
   * @returns The record, or null when absent or expired.
   */
  async getSession(id: string, now: number): Promise<SessionRecord | null> {
    const key = await this.#keys.session(id);
    let result: SessionRecord | null = null;
    await this.#run("getSession", async () => {
      result = live(toRecord((await this.#kv.get(key)).value), now);
      return "done";
    });
    return result;
  }

  /**
   * Updates an active session (`metadata` is merged into the record's): a
   * `get` and a commit checked against it, the sliding refresh's minimum.
   *
   * @param id The session id.
   * @param update The fields to change.
   * @param now The manager's clock.
   * @returns The updated record, or null when absent or expired.
   */
  async updateSession(
    id: string,
    update: SessionRecordUpdate,
    now: number,
  ): Promise<SessionRecord | null> {
    const { written } = await this.#change(
      "updateSession",
      id,
      now,
      (record) => ({
        ...record,
        lastAccessed: update.lastAccessed ?? record.lastAccessed,
        expiresAt: update.expiresAt ?? record.expiresAt,
        metadata: { ...record.metadata, ...copyMetadata(update.metadata) },
      }),
    );
    return written;
  }

  /**
   * Rotates a token if its record is active and still at `generation`: a
   * `get` and a commit checked against its versionstamp, so of concurrent
   * callers with the same generation, across handles and processes, at
   * most one rotates.
   *
   * @param id The session id.
   * @param generation The generation the caller presented.
   * @param rotation The next generation's times and sealed successor.
   * @param now The manager's clock.
   * @returns Whether this call rotated, and the record as it stands.
   */
  async rotateToken(
    id: string,
    generation: number,
    rotation: TokenRotation,
    now: number,
  ): Promise<RotationResult> {
    const { read, written } = await this.#change(
      "rotateToken",
      id,
      now,
      (record) =>
        record.generation !== generation ? null : {
          ...record,
          generation: generation + 1,
          rotatedAt: rotation.lastAccessed,
          lastAccessed: rotation.lastAccessed,
          expiresAt: rotation.expiresAt,
          successor: rotation.successor,
        },
    );
    return written === null
      ? { rotated: false, record: read }
      : { rotated: true, record: written };
  }

  /**
   * Lists a DID's active sessions, newest first: one `list` (plus a
   * `getMany` per 10 index entries written by an earlier version).
   *
   * @param did The DID.
   * @param now The manager's clock.
   * @returns The records.
   */
  async listSessions(
    did: string,
    now: number,
  ): Promise<readonly SessionRecord[]> {
    let records: SessionRecord[] = [];
    await this.#run("listSessions", async () => {
      records = [];
      for (const entry of await this.#index(did)) {
        const record = live(entry.record, now);
        if (record !== null && record.did === did) records.push(record);
      }
      return "done";
    });
    return records.sort(newestFirst);
  }

  /**
   * Deletes one session: a `get` and a checked commit.
   *
   * @param id The session id.
   * @returns The record it deleted (expired or not), or null.
   */
  async deleteSession(id: string): Promise<SessionRecord | null> {
    const sessionKey = await this.#keys.session(id);
    let deleted: SessionRecord | null = null;
    await this.#run("deleteSession", async () => {
      const entry = await this.#kv.get(sessionKey);
      const record = toRecord(entry.value);
      deleted = null;
      if (entry.versionstamp === null) return "done";
      const op = this.#kv.atomic().check(entry).delete(sessionKey);
      // Not a record: remove it, but report that no session existed.
      if (record !== null) {
        op.delete(await this.#keys.indexEntry(record.did, id))
          .set(await this.#keys.userMarker(record.did), true, {
            expireIn: MARKER_TTL_MS,
          });
      }
      if (!(await op.commit()).ok) return "conflict";
      deleted = record;
      return "done";
    });
    return deleted;
  }

  /**
   * Deletes every session of a DID: a `get`, a `list` and a checked commit
   * per 100 sessions.
   *
   * @param did The DID.
   * @returns The records deleted (expired or not).
   */
  async deleteAllSessions(did: string): Promise<readonly SessionRecord[]> {
    const markerKey = await this.#keys.userMarker(did);
    const deleted: SessionRecord[] = [];
    await this.#run("deleteAllSessions", async () => {
      const marker = await this.#kv.get(markerKey);
      const batch = (await this.#index(did)).slice(0, DELETE_BATCH);
      if (batch.length === 0) return "done";
      const op = this.#kv.atomic().check(marker)
        .set(markerKey, true, { expireIn: MARKER_TTL_MS });
      for (const entry of batch) {
        for (const key of await this.#keys.pair(did, entry.id)) op.delete(key);
      }
      if (!(await op.commit()).ok) return "conflict";
      for (const entry of batch) {
        if (entry.record?.did === did) deleted.push(entry.record);
      }
      return "progress";
    });
    return deleted;
  }

  /**
   * Remembers a revoked legacy token id until it expires; the entry carries
   * `expireIn`, so Deno KV drops it afterwards.
   *
   * @param jti The token id.
   * @param expiresAt When the token expires.
   * @param now The manager's clock.
   */
  async revokeToken(
    jti: string,
    expiresAt: number,
    now: number,
  ): Promise<void> {
    if (!Number.isFinite(expiresAt) || expiresAt <= now) return;
    const key = await this.#keys.revokedToken(jti);
    await this.#run("revokeToken", async () => {
      const entry = await this.#kv.get<unknown>(key);
      if (typeof entry.value === "number" && entry.value >= expiresAt) {
        return "done";
      }
      const { ok } = await this.#kv.atomic().check(entry)
        .set(key, expiresAt, { expireIn: timeToLive(expiresAt, now) })
        .commit();
      return ok ? "done" : "conflict";
    });
  }

  /**
   * Tells whether a legacy token id is revoked: one `get`.
   *
   * @param jti The token id.
   * @param now The manager's clock.
   * @returns Whether it is revoked and its entry has not expired.
   */
  async isTokenRevoked(jti: string, now: number): Promise<boolean> {
    const key = await this.#keys.revokedToken(jti);
    let revoked = false;
    await this.#run("isTokenRevoked", async () => {
      const { value } = await this.#kv.get<unknown>(key);
      revoked = typeof value === "number" && value > now;
      return "done";
    });
    return revoked;
  }
  /**
   * Reads an active record, lets `change` compute its successor (null: no
   * change) and commits it, with its index copy, checked against the read:
   * a `get` and a commit. Resolves to the active record last read (null
   * when absent or expired) and the record written (null when none was).
   */
  async #change(
    operation: string,
    id: string,
    now: number,
    change: (record: SessionRecord) => SessionRecord | null,
  ): Promise<Change> {
    const sessionKey = await this.#keys.session(id);
    let result: Change = { read: null, written: null };
    await this.#run(operation, async () => {
      const entry = await this.#kv.get(sessionKey);
      const record = live(toRecord(entry.value), now);
      result = { read: record, written: null };
      if (record === null) return "done";
      const updated = toRecord(change(record));
      if (updated === null) return "done";
      const expireIn = timeToLive(updated.expiresAt, now);
      // The record's versionstamp also guards its index copy: both are
      // only ever written and deleted together.
      const { ok } = await this.#kv.atomic().check(entry)
        .set(sessionKey, updated, { expireIn })
        .set(await this.#keys.indexEntry(updated.did, id), updated, {
          expireIn,
        })
        .commit();
      if (!ok) return "conflict";
      result = { read: record, written: updated };
      return "done";
    });
    return result;
  }

  #run(operation: string, attempt: () => Promise<Attempt>): Promise<void> {
    return retry(operation, this.#limits, attempt);
  }

  /**
   * The DID's index entries as stored, expired ones included; entries
   * written by an earlier version get their record from the record key.
   */
  async #index(did: string): Promise<IndexEntry[]> {
    const entries: IndexEntry[] = [];
    const prefix = await this.#keys.userIndex(did);
    for await (const { value } of this.#kv.list({ prefix })) {
      const entry = toIndexEntry(value);
      if (entry !== null) entries.push(entry);
    }
    const legacy = entries.filter((entry) => entry.record === null);
    for (let i = 0; i < legacy.length; i += GET_MANY_MAX) {
      const batch = legacy.slice(i, i + GET_MANY_MAX);
      const keys = await Promise.all(
        batch.map((entry) => this.#keys.session(entry.id)),
      );
      const read = await this.#kv.getMany(keys);
      batch.forEach((entry, j) => {
        const record = toRecord(read[j]?.value);
        const index = entries.indexOf(entry);
        entries[index] = {
          ...entry,
          record: record?.did === did ? record : null,
        };
      });
    }
    return entries;
  }
}

/** What `#change` read and wrote. */
interface Change {
  readonly read: SessionRecord | null;
  readonly written: SessionRecord | null;
}

function live(record: SessionRecord | null, now: number): SessionRecord | null {
  return record !== null && record.expiresAt > now ? record : null;
}
