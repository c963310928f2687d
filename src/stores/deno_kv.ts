/**
 * A {@linkcode SessionStore} and {@linkcode KeyValueStore} backed by Deno
 * KV, shared by every isolate and process that opens the same database
 * (Deno Deploy, or a local SQLite file opened by several handles,
 * `deno serve --parallel` workers or processes).
 *
 * @example
 * ```ts
 * import { DenoKvSessionStore } from "@tijs/atproto-sessions/stores/deno-kv";
 * import assert from "node:assert/strict";
 *
 * const kv = await Deno.openKv(":memory:");
 * const store = new DenoKvSessionStore(kv);
 * await store.setValue("oauth_state", "state-1", "{}", 2_000, 1_000);
 * assert.equal(await store.takeValue("oauth_state", "state-1", 1_500), "{}");
 * kv.close();
 * ```
 *
 * @module
 */

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
import { KvKeys } from "./_deno_kv_keys.ts";
import {
  type DenoKvSessionStoreOptions,
  resolveOptions,
} from "./_deno_kv_options.ts";
import { KvSessions } from "./_deno_kv_sessions.ts";
import { KvValues } from "./_deno_kv_values.ts";

export type { DenoKvSessionStoreOptions };

/**
 * Keeps sessions, revoked legacy token ids, short-lived values and leases
 * in Deno KV. Every instance that opens the same database sees the same
 * data, so a revocation in one isolate holds in all of them. The store does
 * not own the `Deno.Kv`: close it yourself.
 *
 * **Key layout**, under `prefix`: `["sessions", id]` the record;
 * `["user_sessions", did, id]` the per-DID index, a copy of the record;
 * `["users", did]` the DID's change marker; `["revoked_tokens", jti]` a
 * revoked legacy token's expiry; `["values", namespace, key]` a value with
 * its expiry; `["locks", name]` a lease's owner and expiry. An id, DID,
 * jti, key or name longer than 256 UTF-8 bytes is keyed by its SHA-256.
 * Records and index entries written by earlier versions are read (as
 * cookie sessions never rotated) and rewritten at their next change.
 *
 * **Atomicity.** Every change is one atomic commit checked against the
 * versionstamps it read, so it holds across handles and processes. The cap
 * and `replaces` commit with the new record, checked against the DID's
 * marker, which every change to the DID's set of sessions rewrites; the
 * new record is never the one evicted. `rotateToken`, `takeValue` and the
 * leases are compare-and-set on the entry's versionstamp: of concurrent
 * callers, one wins. (Only a backlog of more than 100 sessions over the
 * cap, after the cap was lowered, is evicted over several commits.)
 *
 * **Expiry.** Entries carry `expireIn`, but Deno KV deletes lazily, so
 * every read also compares `expiresAt` with the manager's clock.
 *
 * **Round trips.** `getSession`, `listSessions`, `isTokenRevoked`,
 * `getValue`, `setValue`: one. `updateSession` (the sliding refresh),
 * `rotateToken`, `deleteSession`, `takeValue`, `deleteValue`, the lock
 * methods, `revokeToken`: a `get` and a commit. `createSession`: one commit
 * without cap or `replaces`; a `getMany` and a commit with `replaces`; a
 * `getMany`, a `list` and a commit with a cap. `deleteAllSessions`: a
 * `get`, a `list` and a commit per 100 sessions; `clearValues`: a `list`
 * and a commit per 500 values. Lost races and lock contention add rounds.
 *
 * **Retries.** A commit that lost a race re-reads and runs again (at most
 * `maxAttempts` in a row). A local file shared by several handles or
 * processes answers `database is locked` while another holds the write
 * lock; nothing was written, so the store waits a jittered, growing pause
 * and runs the round again (at most `lockRetries` in a row) instead of
 * failing the request. Deno Deploy's KV has no such lock; there only lost
 * races are retried. Any other error rejects at once.
 *
 * **What you need.** Deno 2 runs Deno KV with `--unstable-kv` (or
 * `"unstable": ["kv"]` in `deno.json`); a local file needs
 * `--allow-read` and `--allow-write` for its path. `Deno.openKv(path)`
 * itself can throw `database is locked` while another process opens the
 * same file: retry the open at start-up. Let the manager's store deadline
 * bound each call; expired entries need no sweeping.
 *
 * @example Sessions with a per-user cap
 * ```ts
 * import { DenoKvSessionStore } from "@tijs/atproto-sessions/stores/deno-kv";
 * import assert from "node:assert/strict";
 *
 * // In production: await Deno.openKv() (Deno Deploy) or a file path.
 * const kv = await Deno.openKv(":memory:");
 * const store = new DenoKvSessionStore(kv);
 * const did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
 * const session = (id: string, createdAt: number) => ({
 *   id, did, kind: "cookie" as const, createdAt, lastAccessed: createdAt,
 *   expiresAt: createdAt + 60_000, authenticatedAt: createdAt,
 *   generation: 0, rotatedAt: null, successor: null, metadata: {},
 * });
 * await store.createSession(session("a", 1_000), { maxSessionsPerUser: 1 }, 1_000);
 * const evicted = await store.createSession(
 *   session("b", 2_000), { maxSessionsPerUser: 1 }, 2_000,
 * );
 * assert.deepEqual(evicted.map((r) => r.id), ["a"]);
 * assert.deepEqual((await store.listSessions(did, 2_000)).map((r) => r.id), ["b"]);
 * kv.close();
 * ```
 */
export class DenoKvSessionStore implements SessionStore, KeyValueStore {
  readonly #sessions: KvSessions;
  readonly #values: KvValues;

  /**
   * Creates a store over an open `Deno.Kv`.
   *
   * @param kv A database from `Deno.openKv()`; the caller closes it.
   * @param options The key prefix and retry limits.
   * @throws {TypeError} When `kv` is not a `Deno.Kv` or `prefix` is not an
   * array of key parts.
   * @throws {RangeError} When `maxAttempts` is not a positive integer or
   * `lockRetries` not a non-negative one.
   */
  constructor(kv: Deno.Kv, options: DenoKvSessionStoreOptions = {}) {
    const { prefix, limits } = resolveOptions(kv, options);
    const keys = new KvKeys(prefix);
    this.#sessions = new KvSessions(kv, keys, limits);
    this.#values = new KvValues(kv, keys, limits);
  }

  /**
   * Stores a new record; the cap and `replaces` commit with it (it is never the
   * one evicted). See {@linkcode SessionStore.createSession}.
   *
   * @throws {TypeError} When `record` is not a session record.
   * @throws {RangeError} When the cap is not a non-negative integer.
   */
  createSession(
    record: SessionRecord,
    options: CreateSessionOptions,
    now: number,
  ): Promise<readonly SessionRecord[]> {
    return this.#sessions.createSession(record, options, now);
  }

  /**
   * Returns an active session: one `get`. See
   * {@linkcode SessionStore.getSession}.
   */
  getSession(id: string, now: number): Promise<SessionRecord | null> {
    return this.#sessions.getSession(id, now);
  }

  /**
   * Updates an active session (the sliding refresh; `metadata` is merged): a
   * `get` and a checked commit. See {@linkcode SessionStore.updateSession}.
   */
  updateSession(
    id: string,
    update: SessionRecordUpdate,
    now: number,
  ): Promise<SessionRecord | null> {
    return this.#sessions.updateSession(id, update, now);
  }

  /**
   * Rotates a token's record with a commit checked against its versionstamp:
   * across handles and processes, at most one caller rotates. See
   * {@linkcode SessionStore.rotateToken}.
   */
  rotateToken(
    id: string,
    generation: number,
    rotation: TokenRotation,
    now: number,
  ): Promise<RotationResult> {
    return this.#sessions.rotateToken(id, generation, rotation, now);
  }

  /**
   * Lists a DID's active sessions, newest first: one `list`. See
   * {@linkcode SessionStore.listSessions}.
   */
  listSessions(did: string, now: number): Promise<readonly SessionRecord[]> {
    return this.#sessions.listSessions(did, now);
  }

  /**
   * Deletes one session, expired or not; see
   * {@linkcode SessionStore.deleteSession}.
   */
  deleteSession(id: string): Promise<SessionRecord | null> {
    return this.#sessions.deleteSession(id);
  }

  /**
   * Deletes every session of a DID (expired or not), 100 per commit; see
   * {@linkcode SessionStore.deleteAllSessions}.
   */
  deleteAllSessions(did: string): Promise<readonly SessionRecord[]> {
    return this.#sessions.deleteAllSessions(did);
  }

  /**
   * Remembers a revoked legacy token id until it expires; see
   * {@linkcode SessionStore.revokeToken}.
   */
  revokeToken(jti: string, expiresAt: number, now: number): Promise<void> {
    return this.#sessions.revokeToken(jti, expiresAt, now);
  }

  /**
   * Tells whether a legacy token id is revoked: one `get`. See
   * {@linkcode SessionStore.isTokenRevoked}.
   */
  isTokenRevoked(jti: string, now: number): Promise<boolean> {
    return this.#sessions.isTokenRevoked(jti, now);
  }

  /**
   * Returns a live value: one `get`. See {@linkcode KeyValueStore.getValue}.
   */
  getValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<string | null> {
    return this.#values.getValue(namespace, key, now);
  }

  /**
   * Stores a value until `expiresAt`; see {@linkcode KeyValueStore.setValue}.
   *
   * @throws {TypeError} When `value` is not a string.
   */
  setValue(
    namespace: ValueNamespace,
    key: string,
    value: string,
    expiresAt: number | null,
    now: number,
  ): Promise<void> {
    return this.#values.setValue(namespace, key, value, expiresAt, now);
  }

  /**
   * Reads and deletes a live value; across processes, at most one caller
   * receives it. See {@linkcode KeyValueStore.takeValue}.
   */
  takeValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<string | null> {
    return this.#values.takeValue(namespace, key, now);
  }

  /** Deletes a value; see {@linkcode KeyValueStore.deleteValue}. */
  deleteValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<boolean> {
    return this.#values.deleteValue(namespace, key, now);
  }

  /**
   * Deletes every value of a namespace, 500 per commit; see
   * {@linkcode KeyValueStore.clearValues}.
   */
  clearValues(namespace: ValueNamespace): Promise<void> {
    return this.#values.clearValues(namespace);
  }

  /**
   * Takes or extends a lease; see {@linkcode KeyValueStore.acquireLock}.
   *
   * @throws {RangeError} When `leaseMs` is not a positive number.
   */
  acquireLock(
    name: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<boolean> {
    return this.#values.acquireLock(name, owner, leaseMs, now);
  }

  /**
   * Extends `owner`'s live lease; see {@linkcode KeyValueStore.renewLock}.
   *
   * @throws {RangeError} When `leaseMs` is not a positive number.
   */
  renewLock(
    name: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<boolean> {
    return this.#values.renewLock(name, owner, leaseMs, now);
  }

  /**
   * Frees the lease if `owner` holds it, never another's; see
   * {@linkcode KeyValueStore.releaseLock}.
   */
  releaseLock(name: string, owner: string): Promise<void> {
    return this.#values.releaseLock(name, owner);
  }
}
