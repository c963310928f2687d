/**
 * The Deno KV store's {@linkcode SessionStore} half: records, the per-DID
 * index and marker, and revoked legacy tokens.
 *
 * @module
 */

import {
  assertSessionCap,
  copyMetadata,
  newestFirst,
  timeToLive,
  toSessionRecord,
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
import { type IndexEntry, toIndexEntry } from "./_deno_kv_record.ts";
import { KvRecordReads, live } from "./_deno_kv_reads.ts";
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
  readonly #reads: KvRecordReads;

  /**
   * @param kv The database.
   * @param keys The key layout.
   * @param limits The retry bounds.
   */
  constructor(kv: Deno.Kv, keys: KvKeys, limits: RetryLimits) {
    this.#kv = kv;
    this.#keys = keys;
    this.#limits = limits;
    this.#reads = new KvRecordReads(kv, keys, limits);
  }

  /**
   * See `SessionStore.createSession`: the cap and `replaces` commit with the
   * record, checked against the DID's marker; a backlog over the cap larger
   * than one batch is evicted over several commits.
   *
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
    const stored = toSessionRecord(record);
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
      const replaced = created ? null : toSessionRecord(reads[1]?.value);
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

  /** See `SessionStore.getSession`: one `get` (see `_deno_kv_reads.ts`). */
  getSession(id: string, now: number): Promise<SessionRecord | null> {
    return this.#reads.getSession(id, now);
  }

  /**
   * See `SessionStore.updateSession`: a `get` and a commit checked against it,
   * the sliding refresh's minimum.
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
   * See `SessionStore.rotateToken`: a `get` and a commit checked against its
   * versionstamp.
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
   * See `SessionStore.listSessions`: one `list` (plus a `getMany` per 10 index
   * entries written by an earlier version).
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

  /** See `SessionStore.deleteSession`: a `get` and a checked commit. */
  async deleteSession(id: string): Promise<SessionRecord | null> {
    const sessionKey = await this.#keys.session(id);
    let deleted: SessionRecord | null = null;
    await this.#run("deleteSession", async () => {
      const entry = await this.#kv.get(sessionKey);
      const record = toSessionRecord(entry.value);
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
   * See `SessionStore.deleteAllSessions`: a `get`, a `list` and a checked
   * commit per 100 sessions.
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
   * See `SessionStore.revokeToken`: the entry carries `expireIn`, so Deno KV
   * drops it afterwards.
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

  /** See `SessionStore.isTokenRevoked`: one `get`. */
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
      const record = live(toSessionRecord(entry.value), now);
      result = { read: record, written: null };
      if (record === null) return "done";
      const updated = toSessionRecord(change(record));
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
        const record = toSessionRecord(read[j]?.value);
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
