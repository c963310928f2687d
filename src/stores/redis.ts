/**
 * A {@linkcode SessionStore} and {@linkcode KeyValueStore} backed by Redis
 * or Valkey, one node (with or without replicas) or Redis Cluster, through
 * any client that can send a raw command: node-redis, ioredis, or your own.
 *
 * ## Key layout (under `prefix`, default `atproto-sessions:`)
 *
 * - `sessions:<did>`: a hash per DID, field = session id, value = the
 *   record as JSON. Session ids are `<did>~<random>` (the store's
 *   {@linkcode RedisSessionStore.sessionIdFor}, which the manager calls), so
 *   every session operation, from the id alone, touches exactly this one key:
 *   one hash slot on a cluster, no `CROSSSLOT` ever. The hash's `PX` is the
 *   latest `expiresAt` of its records, counted on the manager's clock.
 * - `value:<namespace>:<key>`: a value stored as `<expiresAt>|<value>` with
 *   `PX`; `values:<namespace>` indexes them (scored by expiry) for
 *   `clearValues`. With `cluster: true` each namespace is split into 16
 *   hash-tagged buckets, `value:{<namespace>:<n>}<key>` and
 *   `values:{<namespace>:<n>}`, so a value and its index share a slot.
 * - `lock:<name>`: a lease, `<expiresAt>|<owner>` with `PX`.
 * - `revoked:<jti>`: a revoked legacy token's expiry, with `PX`.
 *
 * Every read also compares expiry with the manager's `now`; Redis's own
 * expiry is only clean-up.
 *
 * ## Atomicity and round trips
 *
 * Every write is one Lua script, and every script names in `KEYS` each key
 * it touches (never one built in Lua), so it runs on one node of a cluster
 * as well as on a single node. Redis runs scripts one at a time, so:
 * `createSession` applies the cap and the replacement in the same step as
 * the insert (the new record is never a candidate for eviction);
 * `rotateToken` is a compare-and-set on `generation` (of concurrent callers
 * exactly one rotates); `takeValue` and `acquireLock` have one winner.
 * Round trips: `getSession`, `isTokenRevoked`, `getValue` and
 * `listSessions` are one command (`HGET`, `GET`, `GET`, `HVALS`);
 * `updateSession` (the sliding refresh), `createSession`, `rotateToken`,
 * `deleteSession`, `deleteAllSessions`, `revokeToken`, `setValue`,
 * `takeValue`, `deleteValue` and the leases are one `EVALSHA` each (one
 * more, once per node, when a node answers `NOSCRIPT` and the source is
 * sent with `EVAL`); `clearValues` is a `ZRANGE` and a script per bucket.
 * With `durableWrites`, each write that changed something is followed by
 * one `WAIT` (except `updateSession`, see below).
 *
 * ## What the operator needs
 *
 * - Persistence: `appendonly yes` (AOF), or sessions and revocations are
 *   lost on a restart (sessions then fail closed: users sign in again).
 * - Memory: `maxmemory-policy noeviction` (writes fail when full, reads
 *   keep working) or a `volatile-*` policy (every key here has a TTL except
 *   values stored without expiry). `allkeys-*` policies can evict a live
 *   session or a lease.
 * - Replicas and failover: replication is asynchronous, so a write the
 *   primary acknowledged can be lost when it dies. `durableWrites: true`
 *   sends `WAIT 1 <durableTimeout>` after each write (routed to the primary
 *   that took it) and rejects with `StoreError` when no replica
 *   acknowledged in time, so a session created or revoked and reported done
 *   survives a failover to that replica. The sliding refresh
 *   (`updateSession`) is not waited for, keeping it at one round trip: a
 *   refresh lost in a failover only moves the expiry back to the previous
 *   refresh. While a primary is down and not yet replaced, commands for its
 *   slots fail (`CLUSTERDOWN`, connection errors): the manager answers
 *   `STORE_UNAVAILABLE` and bounds each call with its `storeTimeout`.
 *   ioredis follows the promotion by itself; node-redis 4's cluster client
 *   rediscovers slots only on a `MOVED` reply, so it fails the dead
 *   primary's slots until that node rejoins (and redirects it) or the app
 *   reconnects the client. Leave replica reads off (node-redis
 *   `useReplicas`, ioredis `scaleReads`): a lagging replica can still show
 *   a session that was just revoked.
 * - Fail fast while Redis is down: node-redis `disableOfflineQueue: true`,
 *   ioredis `enableOfflineQueue: false` (or a low `maxRetriesPerRequest`).
 *
 * @example One node with node-redis
 * ```ts ignore
 * import { createClient } from "redis";
 * import { SessionManager } from "@tijs/atproto-sessions";
 * import { RedisSessionStore } from "@tijs/atproto-sessions/stores/redis";
 *
 * const client = await createClient({
 *   url: "redis://127.0.0.1:6379",
 *   disableOfflineQueue: true,
 * }).on("error", (error) => console.error("Redis:", error.message)).connect();
 * const sessions = new SessionManager({
 *   cookieSecret: "a-secret-of-at-least-32-characters!",
 *   store: new RedisSessionStore({ command: (args) => client.sendCommand(args) }),
 *   maxSessionsPerUser: 5,
 * });
 * ```
 *
 * @example One node with ioredis
 * ```ts ignore
 * import { Redis } from "ioredis";
 * import { RedisSessionStore } from "@tijs/atproto-sessions/stores/redis";
 *
 * const redis = new Redis("redis://127.0.0.1:6379", { enableOfflineQueue: false });
 * const store = new RedisSessionStore({
 *   command: ([name, ...args]) => redis.call(name!, ...args),
 * });
 * ```
 *
 * @example Redis Cluster with node-redis `createCluster`
 * ```ts ignore
 * import { createCluster } from "redis";
 * import { RedisSessionStore } from "@tijs/atproto-sessions/stores/redis";
 *
 * const cluster = createCluster({
 *   rootNodes: [{ url: "redis://10.0.0.1:6379" }, { url: "redis://10.0.0.2:6379" }],
 *   defaults: { disableOfflineQueue: true },
 * });
 * cluster.on("error", (error) => console.error("Redis:", error.message));
 * await cluster.connect();
 * const store = new RedisSessionStore({
 *   cluster: true,
 *   durableWrites: true,
 *   // The store names the key each command routes on.
 *   command: (args, { key, readonly }) => cluster.sendCommand(key, readonly, args),
 * });
 * ```
 *
 * @example Redis Cluster with ioredis `Cluster`
 * ```ts ignore
 * import { Cluster } from "ioredis";
 * import { RedisSessionStore } from "@tijs/atproto-sessions/stores/redis";
 *
 * const cluster = new Cluster([{ host: "10.0.0.1", port: 6379 }], {
 *   enableOfflineQueue: false,
 * });
 * const store = new RedisSessionStore({
 *   cluster: true,
 *   durableWrites: true,
 *   // ioredis routes on the command's own keys. WAIT has none, so with
 *   // durableWrites send it in a pipeline behind a command on the key.
 *   command: ([name, ...args], { key }) =>
 *     name === "WAIT"
 *       ? cluster.pipeline().exists(key).call(name, ...args).exec()
 *         .then((replies) => {
 *           const [error, acked] = replies?.[1] ?? [new Error("no reply")];
 *           if (error) throw error;
 *           return acked;
 *         })
 *       : cluster.call(name!, ...args),
 * });
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
import { sessionIdFor } from "./_redis_keys.ts";
import { attachHotReader } from "../_hot_read.ts";
import {
  type RedisSessionStoreOptions,
  resolveOptions,
} from "./_redis_options.ts";
import { RedisSessions } from "./_redis_sessions.ts";
import { RedisValues } from "./_redis_values.ts";

export type { RedisRoute } from "./_redis_scripts.ts";
export type { RedisSessionStoreOptions } from "./_redis_options.ts";

/**
 * Keeps sessions, revoked legacy token ids, short-lived values and leases
 * in Redis (one node or a cluster; see the module documentation for the
 * layout, atomicity, round trips and what the operator needs). Every
 * process pointed at the same Redis shares them.
 *
 * @example Against any command function (here a stub)
 * ```ts
 * import { RedisSessionStore } from "@tijs/atproto-sessions/stores/redis";
 * import assert from "node:assert/strict";
 *
 * const sent: string[][] = [];
 * const store = new RedisSessionStore({
 *   command: (args) => {
 *     sent.push(args);
 *     return Promise.resolve(null);
 *   },
 *   prefix: "myapp:",
 * });
 * const id = store.sessionIdFor("did:plc:ewvi7nxzyoun6zhxrhs64oiz", "1234");
 * assert.equal(id, "did:plc:ewvi7nxzyoun6zhxrhs64oiz~1234");
 * assert.equal(await store.getSession(id, Date.now()), null);
 * assert.deepEqual(sent, [
 *   ["HGET", "myapp:sessions:did:plc:ewvi7nxzyoun6zhxrhs64oiz", id],
 * ]);
 * ```
 */
export class RedisSessionStore implements SessionStore, KeyValueStore {
  readonly #sessions: RedisSessions;
  readonly #values: RedisValues;

  /**
   * Creates a store that sends its commands through `options.command`.
   *
   * @param options The command function and optional settings.
   * @throws {TypeError} When `command` is not a function, `prefix` is not a
   * string (or holds `{` or `}` with `cluster: true`), or `cluster` or
   * `durableWrites` is not a boolean.
   * @throws {RangeError} When `durableTimeout` is not a positive integer.
   */
  constructor(options: RedisSessionStoreOptions) {
    const context = resolveOptions(options);
    this.#sessions = new RedisSessions(context);
    this.#values = new RedisValues(context);
    attachHotReader(
      this,
      this.#sessions.hotRead,
      RedisSessionStore.prototype.getSession,
    );
  }

  /**
   * The id to store and seal for a new session: `<did>~<id>`, so the store
   * finds the DID's hash (and cluster slot) from the id alone. The manager
   * calls it; `createSession` refuses ids that do not start with the
   * record's DID this way.
   *
   * @param did The session's DID.
   * @param id A freshly generated id.
   * @returns The id to use.
   */
  sessionIdFor(did: string, id: string): string {
    return sessionIdFor(did, id);
  }

  /**
   * Stores a record, with the cap and `replaces` applied in the same script:
   * one round trip. See {@linkcode SessionStore.createSession}.
   *
   * @throws {TypeError} When the id was not made by `sessionIdFor`.
   * @throws {RangeError} When the cap is not a non-negative integer.
   */
  createSession(
    record: SessionRecord,
    options: CreateSessionOptions,
    now: number,
  ): Promise<readonly SessionRecord[]> {
    return this.#sessions.createSession(record, options, now);
  }

  /** Returns an active session: one `HGET`. See {@linkcode SessionStore.getSession}. */
  getSession(id: string, now: number): Promise<SessionRecord | null> {
    return this.#sessions.getSession(id, now);
  }

  /**
   * Updates an active session (the sliding refresh; `metadata` is merged) in
   * one script: one round trip. See {@linkcode SessionStore.updateSession}.
   */
  updateSession(
    id: string,
    update: SessionRecordUpdate,
    now: number,
  ): Promise<SessionRecord | null> {
    return this.#sessions.updateSession(id, update, now);
  }

  /**
   * Rotates a token's record in one compare-and-set script: of concurrent
   * callers, one rotates. See {@linkcode SessionStore.rotateToken}.
   */
  rotateToken(
    id: string,
    generation: number,
    rotation: TokenRotation,
    now: number,
  ): Promise<RotationResult> {
    return this.#sessions.rotateToken(id, generation, rotation, now);
  }

  /** Lists a DID's active sessions, newest first: one `HVALS`. See {@linkcode SessionStore.listSessions}. */
  listSessions(did: string, now: number): Promise<readonly SessionRecord[]> {
    return this.#sessions.listSessions(did, now);
  }

  /**
   * Deletes one session in one script; a stored entry that is not a record is
   * deleted and reported as null. See {@linkcode SessionStore.deleteSession}.
   */
  deleteSession(id: string): Promise<SessionRecord | null> {
    return this.#sessions.deleteSession(id);
  }

  /**
   * Deletes every session of a DID in one script, an expired one not yet
   * cleaned up included. See {@linkcode SessionStore.deleteAllSessions}.
   */
  deleteAllSessions(did: string): Promise<readonly SessionRecord[]> {
    return this.#sessions.deleteAllSessions(did);
  }

  /**
   * Remembers a revoked legacy token id until it expires, keeping the later of
   * two expiries. See {@linkcode SessionStore.revokeToken}.
   */
  revokeToken(jti: string, expiresAt: number, now: number): Promise<void> {
    return this.#sessions.revokeToken(jti, expiresAt, now);
  }

  /**
   * Tells whether a legacy token id is revoked: one `GET`. See
   * {@linkcode SessionStore.isTokenRevoked}.
   */
  isTokenRevoked(jti: string, now: number): Promise<boolean> {
    return this.#sessions.isTokenRevoked(jti, now);
  }

  /** Returns a live value: one `GET`. See {@linkcode KeyValueStore.getValue}. */
  getValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<string | null> {
    return this.#values.getValue(namespace, key, now);
  }

  /**
   * Stores a value until `expiresAt` (null: until deleted); see
   * {@linkcode KeyValueStore.setValue}.
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
   * Reads and deletes a live value in one script: one caller receives it. See
   * {@linkcode KeyValueStore.takeValue}.
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
   * Deletes every value of a namespace that existed when it started; see
   * {@linkcode KeyValueStore.clearValues}.
   */
  clearValues(namespace: ValueNamespace): Promise<void> {
    return this.#values.clearValues(namespace);
  }

  /**
   * Takes a free or run-out lease for `owner`, or extends its own; see
   * {@linkcode KeyValueStore.acquireLock}.
   */
  acquireLock(
    name: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<boolean> {
    return this.#values.acquireLock(name, owner, leaseMs, now);
  }

  /** Extends `owner`'s live lease; see {@linkcode KeyValueStore.renewLock}. */
  renewLock(
    name: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<boolean> {
    return this.#values.renewLock(name, owner, leaseMs, now);
  }

  /**
   * Frees the lease if `owner` holds it; see
   * {@linkcode KeyValueStore.releaseLock}.
   */
  releaseLock(name: string, owner: string): Promise<void> {
    return this.#values.releaseLock(name, owner);
  }
}
