/**
 * A {@linkcode SessionStore} backed by Deno KV, shared by every isolate that
 * opens the same database (Deno Deploy, or a local SQLite file).
 *
 * @module
 */

import {
  assertSessionCap,
  freezeRecord,
  newestFirst,
  timeToLive,
  toSessionRecord,
} from "../_session_record.ts";
import { StoreError } from "../errors.ts";
import type {
  SessionRecord,
  SessionRecordUpdate,
  SessionStore,
} from "../store.ts";

/**
 * Options for `new DenoKvSessionStore(kv, options)`.
 *
 * @example
 * ```ts
 * import type { DenoKvSessionStoreOptions } from "@tijs/atproto-sessions/stores/deno-kv";
 *
 * const options: DenoKvSessionStoreOptions = { prefix: ["myapp", "sessions"] };
 * ```
 */
export interface DenoKvSessionStoreOptions {
  /**
   * The key prefix every entry is stored under, so the store can share a
   * database with the app's own data. Keep it short: Deno KV limits a key to
   * 2048 bytes.
   * @default {["atproto_sessions"]}
   */
  prefix?: Deno.KvKey;
  /**
   * How many times an operation that lost an optimistic-concurrency race
   * is retried before it rejects.
   * @default {200}
   */
  maxAttempts?: number;
}

/** The defaults of {@linkcode DenoKvSessionStoreOptions}. */
const DEFAULTS: Readonly<{ prefix: Deno.KvKey; maxAttempts: number }> = Object
  .freeze({
    prefix: Object.freeze(["atproto_sessions"]),
    maxAttempts: 200,
  });

/** Strings longer than this many UTF-8 bytes are keyed by their SHA-256. */
const MAX_KEY_PART_BYTES = 256;
/** Sessions deleted per atomic operation (Deno KV caps mutations at 1000). */
const DELETE_BATCH = 100;
/** How long a DID's change marker outlives the last change to its set. */
const GUARD_TTL_MS = 10 * 60 * 1000;

/** What the per-DID index holds for each session: enough to apply the cap. */
interface IndexEntry {
  readonly id: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** What one round of a read-check-commit loop achieved. */
type Attempt = "done" | "conflict" | "progress";

const encoder = new TextEncoder();

/**
 * Keeps sessions and revoked token ids in Deno KV. Every instance that opens
 * the same database sees the same sessions, so a revocation in one isolate
 * holds in all of them.
 *
 * Entries carry `expireIn`, so Deno KV deletes them after they expire; as
 * that deletion is lazy, every read also compares `expiresAt` with the
 * manager's clock. The per-user cap is applied atomically: each change to a
 * DID's set of sessions rewrites a per-DID marker key, and `createSession`
 * commits only if that marker is unchanged since it read the set, retrying
 * otherwise. The store does not own the `Deno.Kv`: close it yourself.
 *
 * Layout, under `prefix`: `["sessions", id]` the record;
 * `["user_sessions", did, id]` the per-DID index; `["users", did]` the
 * marker; `["revoked_tokens", jti]` a revoked token's expiry. An id, DID or
 * jti longer than 256 UTF-8 bytes is keyed by its SHA-256 digest.
 *
 * @example
 * ```ts
 * import { SessionManager } from "@tijs/atproto-sessions";
 * import { DenoKvSessionStore } from "@tijs/atproto-sessions/stores/deno-kv";
 * import assert from "node:assert/strict";
 *
 * // In production: await Deno.openKv() (Deno Deploy) or a file path.
 * const kv = await Deno.openKv(":memory:");
 * const sessions = new SessionManager({
 *   cookieSecret: "a-secret-of-at-least-32-characters!",
 *   store: new DenoKvSessionStore(kv),
 *   maxSessionsPerUser: 5,
 * });
 * await sessions.createSession({ did: "did:plc:ewvi7nxzyoun6zhxrhs64oiz" });
 * assert.equal((await sessions.listSessions("did:plc:ewvi7nxzyoun6zhxrhs64oiz")).length, 1);
 * kv.close();
 * ```
 */
export class DenoKvSessionStore implements SessionStore {
  readonly #kv: Deno.Kv;
  readonly #prefix: Deno.KvKey;
  readonly #maxAttempts: number;

  /**
   * Creates a store over an open `Deno.Kv`.
   *
   * @param kv A database from `Deno.openKv()`; the caller closes it.
   * @param options The key prefix and retry limit.
   * @throws {TypeError} When `kv` is not a `Deno.Kv` or `prefix` is not an
   * array of key parts.
   * @throws {RangeError} When `maxAttempts` is not a positive integer.
   */
  constructor(kv: Deno.Kv, options: DenoKvSessionStoreOptions = {}) {
    if (
      kv === null || typeof kv !== "object" ||
      typeof (kv as Partial<Deno.Kv>).atomic !== "function"
    ) {
      throw new TypeError(
        `Cannot create DenoKvSessionStore: kv must be a Deno.Kv from Deno.openKv(): received ${
          kv === null ? "null" : typeof kv
        }`,
      );
    }
    const prefix = options.prefix ?? DEFAULTS.prefix;
    if (!Array.isArray(prefix)) {
      throw new TypeError(
        `Cannot create DenoKvSessionStore: prefix must be an array of key parts, such as ["sessions"]: received ${typeof prefix}`,
      );
    }
    const maxAttempts = options.maxAttempts ?? DEFAULTS.maxAttempts;
    if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) {
      throw new RangeError(
        `Cannot create DenoKvSessionStore: maxAttempts must be a positive integer: received ${
          String(maxAttempts)
        }`,
      );
    }
    this.#kv = kv;
    this.#prefix = Object.freeze([...prefix]);
    this.#maxAttempts = maxAttempts;
  }

  /**
   * Stores a record and, with a cap, atomically evicts the DID's oldest
   * active sessions so that at most `maxSessionsPerUser` remain.
   *
   * @param record The new session.
   * @param maxSessionsPerUser The cap, or undefined for none.
   * @param now The manager's clock.
   * @returns The evicted ids.
   * @throws {StoreError} When concurrent writers kept winning for
   * `maxAttempts` rounds.
   */
  async createSession(
    record: SessionRecord,
    maxSessionsPerUser: number | undefined,
    now: number,
  ): Promise<readonly string[]> {
    assertSessionCap(maxSessionsPerUser);
    const stored = freezeRecord(record);
    const [sessionKey, guardKey, indexKey] = await Promise.all([
      this.#sessionKey(stored.id),
      this.#guardKey(stored.did),
      this.#indexKey(stored.did, stored.id),
    ]);
    const entry: IndexEntry = {
      id: stored.id,
      createdAt: stored.createdAt,
      expiresAt: stored.expiresAt,
    };
    const expireIn = timeToLive(stored.expiresAt, now);
    const evicted: string[] = [];
    let created = false;
    await this.#retry("createSession", async () => {
      const guard = await this.#kv.get(guardKey);
      // Until our record is in, leave out any stale entry with its id.
      const live = (await this.#index(stored.did)).filter((other) =>
        other.expiresAt > now && (created || other.id !== stored.id)
      );
      if (!created) live.push(entry);
      live.sort(newestFirst);
      const excess = maxSessionsPerUser === undefined
        ? []
        : live.slice(maxSessionsPerUser).slice(0, DELETE_BATCH);
      const op = this.#kv.atomic().check(guard)
        .set(guardKey, true, { expireIn: GUARD_TTL_MS });
      if (!created) {
        op.set(sessionKey, stored, { expireIn })
          .set(indexKey, entry, { expireIn });
      }
      const keys = await Promise.all(
        excess.map((old) => this.#pairKeys(stored.did, old.id)),
      );
      for (const [oldSession, oldIndex] of keys) {
        op.delete(oldSession).delete(oldIndex);
      }
      if (!(await op.commit()).ok) return "conflict";
      created = true;
      for (const old of excess) evicted.push(old.id);
      // A backlog over the cap larger than one batch (the cap was lowered)
      // is evicted over several commits, each under the same marker check.
      return maxSessionsPerUser === undefined ||
          live.length - excess.length <= maxSessionsPerUser
        ? "done"
        : "progress";
    });
    return evicted;
  }

  /**
   * Returns an active session.
   *
   * @param id The session id.
   * @param now The manager's clock.
   * @returns The record, or null when absent or expired.
   */
  async getSession(id: string, now: number): Promise<SessionRecord | null> {
    const entry = await this.#kv.get(await this.#sessionKey(id));
    const record = toSessionRecord(entry.value);
    return record !== null && record.expiresAt > now ? record : null;
  }

  /**
   * Updates an active session; `metadata` is merged into the record's.
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
    const sessionKey = await this.#sessionKey(id);
    let result: SessionRecord | null = null;
    await this.#retry("updateSession", async () => {
      const entry = await this.#kv.get(sessionKey);
      const record = toSessionRecord(entry.value);
      if (record === null || record.expiresAt <= now) {
        result = null;
        return "done";
      }
      const updated = freezeRecord({
        ...record,
        lastAccessed: update.lastAccessed ?? record.lastAccessed,
        expiresAt: update.expiresAt ?? record.expiresAt,
        metadata: { ...record.metadata, ...update.metadata },
      });
      const expireIn = timeToLive(updated.expiresAt, now);
      const index: IndexEntry = {
        id: updated.id,
        createdAt: updated.createdAt,
        expiresAt: updated.expiresAt,
      };
      // The record's versionstamp check also guards the index entry: both
      // are only ever deleted together.
      const { ok } = await this.#kv.atomic().check(entry)
        .set(sessionKey, updated, { expireIn })
        .set(await this.#indexKey(updated.did, id), index, { expireIn })
        .commit();
      result = updated;
      return ok ? "done" : "conflict";
    });
    return result;
  }

  /**
   * Lists a DID's active sessions, newest first.
   *
   * @param did The DID.
   * @param now The manager's clock.
   * @returns The records.
   */
  async listSessions(
    did: string,
    now: number,
  ): Promise<readonly SessionRecord[]> {
    const live = (await this.#index(did)).filter((entry) =>
      entry.expiresAt > now
    );
    const keys = await Promise.all(
      live.map((entry) => this.#sessionKey(entry.id)),
    );
    const records: SessionRecord[] = [];
    // getMany reads at most 10 keys at a time.
    for (let i = 0; i < keys.length; i += 10) {
      const entries = await this.#kv.getMany(keys.slice(i, i + 10));
      for (const entry of entries) {
        const record = toSessionRecord(entry.value);
        if (record !== null && record.expiresAt > now && record.did === did) {
          records.push(record);
        }
      }
    }
    return records.sort(newestFirst);
  }

  /**
   * Deletes one session.
   *
   * @param id The session id.
   * @returns Whether it existed.
   */
  async deleteSession(id: string): Promise<boolean> {
    const sessionKey = await this.#sessionKey(id);
    let existed = false;
    await this.#retry("deleteSession", async () => {
      const entry = await this.#kv.get(sessionKey);
      const record = toSessionRecord(entry.value);
      if (record === null) {
        if (entry.versionstamp === null) return "done";
        // Not a record: remove it, but report that no session existed.
        const { ok } = await this.#kv.atomic().check(entry)
          .delete(sessionKey).commit();
        return ok ? "done" : "conflict";
      }
      const [guardKey, indexKey] = await Promise.all([
        this.#guardKey(record.did),
        this.#indexKey(record.did, id),
      ]);
      const { ok } = await this.#kv.atomic().check(entry)
        .delete(sessionKey).delete(indexKey)
        .set(guardKey, true, { expireIn: GUARD_TTL_MS })
        .commit();
      existed = ok;
      return ok ? "done" : "conflict";
    });
    return existed;
  }

  /**
   * Deletes every session of a DID.
   *
   * @param did The DID.
   * @returns How many there were.
   */
  async deleteAllSessions(did: string): Promise<number> {
    const guardKey = await this.#guardKey(did);
    let count = 0;
    await this.#retry("deleteAllSessions", async () => {
      const guard = await this.#kv.get(guardKey);
      const batch = (await this.#index(did)).slice(0, DELETE_BATCH);
      if (batch.length === 0) return "done";
      const op = this.#kv.atomic().check(guard)
        .set(guardKey, true, { expireIn: GUARD_TTL_MS });
      const keys = await Promise.all(
        batch.map((entry) => this.#pairKeys(did, entry.id)),
      );
      for (const [sessionKey, indexKey] of keys) {
        op.delete(sessionKey).delete(indexKey);
      }
      if (!(await op.commit()).ok) return "conflict";
      count += batch.length;
      return "progress";
    });
    return count;
  }

  /**
   * Remembers a revoked token id until it expires; the entry carries
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
    const key = await this.#part("revoked_tokens", jti);
    await this.#retry("revokeToken", async () => {
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
   * Tells whether a token id is revoked.
   *
   * @param jti The token id.
   * @param now The manager's clock.
   * @returns Whether it is revoked and its entry has not expired.
   */
  async isTokenRevoked(jti: string, now: number): Promise<boolean> {
    const { value } = await this.#kv.get<unknown>(
      await this.#part("revoked_tokens", jti),
    );
    return typeof value === "number" && value > now;
  }

  // ---- helpers ------------------------------------------------------------

  /**
   * Runs `attempt` until it reports "done". A "conflict" (a lost
   * optimistic-concurrency race) is retried with jittered back-off, at most
   * `maxAttempts` times in a row; "progress" (one batch of a larger job
   * committed) goes straight on.
   */
  async #retry(
    operation: string,
    attempt: () => Promise<Attempt>,
  ): Promise<void> {
    let conflicts = 0;
    for (;;) {
      const outcome = await attempt();
      if (outcome === "done") return;
      if (outcome === "progress") {
        conflicts = 0;
        continue;
      }
      conflicts++;
      if (conflicts >= this.#maxAttempts) break;
      if (conflicts > 2) {
        await new Promise((resolve) =>
          setTimeout(resolve, Math.random() * Math.min(50, 2 ** conflicts))
        );
      }
    }
    throw new StoreError(
      `DenoKvSessionStore gave up on ${operation} after ${conflicts} conflicting attempts in a row; raise maxAttempts if writes to one user are this contended`,
    );
  }

  /** The DID's index entries, as stored (expired ones included). */
  async #index(did: string): Promise<IndexEntry[]> {
    const entries: IndexEntry[] = [];
    const prefix = await this.#part("user_sessions", did);
    for await (const { value } of this.#kv.list({ prefix })) {
      const entry = toIndexEntry(value);
      if (entry !== null) entries.push(entry);
    }
    return entries;
  }

  #sessionKey(id: string): Promise<Deno.KvKey> {
    return this.#part("sessions", id);
  }

  #guardKey(did: string): Promise<Deno.KvKey> {
    return this.#part("users", did);
  }

  async #indexKey(did: string, id: string): Promise<Deno.KvKey> {
    return [...await this.#part("user_sessions", did), await keyPart(id)];
  }

  #pairKeys(did: string, id: string): Promise<[Deno.KvKey, Deno.KvKey]> {
    return Promise.all([this.#sessionKey(id), this.#indexKey(did, id)]);
  }

  async #part(kind: string, value: string): Promise<Deno.KvKey> {
    return [...this.#prefix, kind, await keyPart(value)];
  }
}

/**
 * A string as a key part: itself when short, else its SHA-256 digest. The
 * two cannot collide, as Deno KV orders and compares parts by type first.
 */
async function keyPart(value: string): Promise<string | Uint8Array> {
  const bytes = encoder.encode(value);
  if (bytes.length <= MAX_KEY_PART_BYTES) return value;
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function toIndexEntry(value: unknown): IndexEntry | null {
  if (
    !isObject(value) || typeof value.id !== "string" ||
    typeof value.createdAt !== "number" || typeof value.expiresAt !== "number"
  ) {
    return null;
  }
  return {
    id: value.id,
    createdAt: value.createdAt,
    expiresAt: value.expiresAt,
  };
}
