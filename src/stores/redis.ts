/**
 * A {@linkcode SessionStore} backed by Redis (or Valkey), through any client
 * that can send a raw command.
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
 * Options for `new RedisSessionStore(options)`: a function that sends one
 * command, and an optional key prefix.
 *
 * @example With node-redis
 * ```ts ignore
 * import { createClient } from "redis";
 * import type { RedisSessionStoreOptions } from "@tijs/atproto-sessions/stores/redis";
 *
 * const client = await createClient({ url: "redis://127.0.0.1:6379" }).connect();
 * const options: RedisSessionStoreOptions = {
 *   command: (args) => client.sendCommand(args),
 * };
 * ```
 */
export interface RedisSessionStoreOptions {
  /**
   * Sends one command, such as `["GET", "key"]`, and resolves to its reply
   * decoded the usual way: a string or null for a bulk string, a number for
   * an integer, an array for an array. It rejects on an error reply or a
   * lost connection. With node-redis: `(args) => client.sendCommand(args)`;
   * with ioredis: `([name, ...rest]) => redis.call(name!, ...rest)`.
   */
  command(args: string[]): Promise<unknown>;
  /**
   * Prepended to every key, so one Redis database can hold several apps.
   * @default {"atproto-sessions:"}
   */
  prefix?: string;
}

/** The defaults of {@linkcode RedisSessionStoreOptions}. */
const DEFAULTS: Readonly<{ prefix: string }> = Object.freeze({
  prefix: "atproto-sessions:",
});

// Every script reads and writes keys derived from the arguments (a DID's
// sessions from its sorted set), so the store needs one Redis node or a
// primary with replicas; it does not support Redis Cluster.

/**
 * KEYS: record, DID set. ARGV: record JSON, TTL ms, createdAt, id, cap (-1
 * for none), now, record key prefix. Stores the record, then walks the DID's
 * set newest first: drops members whose record is gone, skips records
 * expired on the manager's clock, keeps `cap` live ones and evicts the rest.
 * Returns the evicted ids.
 */
const CREATE_SCRIPT = `
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
local cap = tonumber(ARGV[5])
local now = tonumber(ARGV[6])
local kept = 0
local evicted = {}
local members = redis.call('ZREVRANGE', KEYS[2], 0, -1)
for i = 1, #members do
  local id = members[i]
  local key = ARGV[7] .. id
  local raw = redis.call('GET', key)
  if not raw then
    redis.call('ZREM', KEYS[2], id)
  elseif cap >= 0 then
    local ok, record = pcall(cjson.decode, raw)
    local expiresAt = nil
    if ok and type(record) == 'table' then expiresAt = tonumber(record.expiresAt) end
    if expiresAt ~= nil and expiresAt > now then
      if kept < cap then
        kept = kept + 1
      else
        redis.call('DEL', key)
        redis.call('ZREM', KEYS[2], id)
        evicted[#evicted + 1] = id
      end
    end
  end
end
return evicted
`;

/**
 * KEYS: record, DID set. ARGV: expected record JSON, new record JSON, TTL
 * ms, createdAt, id. A compare-and-set: writes only if the record is still
 * the one the caller read. Returns 1 when written, 0 otherwise.
 */
const UPDATE_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[3])
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1
`;

/**
 * KEYS: DID set. ARGV: record key prefix. Returns the DID's record JSONs,
 * newest first, dropping members whose record is gone.
 */
const LIST_SCRIPT = `
local records = {}
local members = redis.call('ZREVRANGE', KEYS[1], 0, -1)
for i = 1, #members do
  local raw = redis.call('GET', ARGV[1] .. members[i])
  if raw then
    records[#records + 1] = raw
  else
    redis.call('ZREM', KEYS[1], members[i])
  end
end
return records
`;

/**
 * KEYS: record. ARGV: DID set key prefix, id. Deletes the record and its
 * member in the DID's set. Returns 1 if the record existed, 0 otherwise.
 */
const DELETE_SCRIPT = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
redis.call('DEL', KEYS[1])
local ok, record = pcall(cjson.decode, raw)
if ok and type(record) == 'table' and type(record.did) == 'string' then
  redis.call('ZREM', ARGV[1] .. record.did, ARGV[2])
end
return 1
`;

/**
 * KEYS: DID set. ARGV: record key prefix. Deletes every record in the set
 * and the set. Returns how many records existed.
 */
const DELETE_ALL_SCRIPT = `
local count = 0
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
for i = 1, #members do
  count = count + redis.call('DEL', ARGV[1] .. members[i])
end
redis.call('DEL', KEYS[1])
return count
`;

/**
 * KEYS: revoked-token key. ARGV: expiresAt, TTL ms. Keeps the later of two
 * expiries. Returns 1 when written.
 */
const REVOKE_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '')
if current ~= nil and current >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

const decoder = new TextDecoder();

/**
 * Keeps sessions and revoked token ids in Redis, through whichever client
 * the app already uses: the store only needs a function that sends one
 * command. Every process pointed at the same Redis shares the sessions.
 *
 * Layout, under `prefix`: `session:<id>` the record as JSON;
 * `did:<did>` a sorted set of the DID's session ids scored by `createdAt`;
 * `revoked:<jti>` a revoked token's expiry. Every key carries a `PX` expiry
 * counted on the manager's clock (`expiresAt - now`), so Redis drops it when
 * the session or token expires; reads also compare `expiresAt` with the
 * manager's clock. Creating a session (with the per-user cap), deleting all
 * of a DID's sessions and revoking a token each run as one Lua script, so
 * they are atomic; scripts are sent with `EVALSHA`, falling back to `EVAL`
 * when Redis answers `NOSCRIPT`. Needs one Redis node or a primary (not
 * Redis Cluster).
 *
 * Configure the client to fail fast while Redis is down (node-redis:
 * `disableOfflineQueue: true`; ioredis: `enableOfflineQueue: false` or a
 * low `maxRetriesPerRequest`), so requests get `STORE_UNAVAILABLE` at once
 * instead of queueing until Redis returns.
 *
 * @example With node-redis
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
 * @example With ioredis
 * ```ts ignore
 * import Redis from "ioredis";
 * import { RedisSessionStore } from "@tijs/atproto-sessions/stores/redis";
 *
 * const redis = new Redis("redis://127.0.0.1:6379", { enableOfflineQueue: false });
 * const store = new RedisSessionStore({
 *   command: ([name, ...args]) => redis.call(name!, ...args),
 * });
 * ```
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
 * assert.equal(await store.getSession("some-id", Date.now()), null);
 * assert.deepEqual(sent, [["GET", "myapp:session:some-id"]]);
 * ```
 */
export class RedisSessionStore implements SessionStore {
  readonly #command: (args: string[]) => Promise<unknown>;
  readonly #prefix: string;
  readonly #shas = new Map<string, Promise<string>>();

  /**
   * Creates a store that sends its commands through `options.command`.
   *
   * @param options The command function and an optional key prefix.
   * @throws {TypeError} When `command` is not a function or `prefix` is not
   * a string.
   */
  constructor(options: RedisSessionStoreOptions) {
    if (typeof options?.command !== "function") {
      throw new TypeError(
        `Cannot create RedisSessionStore: command must be a function that sends one command, such as (args) => client.sendCommand(args): received ${
          options === null ? "null" : typeof options?.command
        }`,
      );
    }
    const prefix = options.prefix ?? DEFAULTS.prefix;
    if (typeof prefix !== "string") {
      throw new TypeError(
        `Cannot create RedisSessionStore: prefix must be a string: received ${typeof prefix}`,
      );
    }
    this.#command = options.command;
    this.#prefix = prefix;
  }

  /**
   * Stores a record and, with a cap, atomically evicts the DID's oldest
   * active sessions so that at most `maxSessionsPerUser` remain.
   *
   * @param record The new session.
   * @param maxSessionsPerUser The cap, or undefined for none.
   * @param now The manager's clock.
   * @returns The evicted ids.
   */
  async createSession(
    record: SessionRecord,
    maxSessionsPerUser: number | undefined,
    now: number,
  ): Promise<readonly string[]> {
    assertSessionCap(maxSessionsPerUser);
    const stored = freezeRecord(record);
    const reply = await this.#eval(CREATE_SCRIPT, [
      this.#sessionKey(stored.id),
      this.#didKey(stored.did),
    ], [
      JSON.stringify(stored),
      String(timeToLive(stored.expiresAt, now)),
      String(stored.createdAt),
      stored.id,
      String(maxSessionsPerUser ?? -1),
      String(now),
      this.#sessionKey(""),
    ]);
    return toArray(reply).map(toText);
  }

  /**
   * Returns an active session.
   *
   * @param id The session id.
   * @param now The manager's clock.
   * @returns The record, or null when absent or expired.
   */
  async getSession(id: string, now: number): Promise<SessionRecord | null> {
    const raw = toTextOrNull(
      await this.#command(["GET", this.#sessionKey(id)]),
    );
    if (raw === null) return null;
    const record = parseRecord(raw);
    return record.expiresAt > now ? record : null;
  }

  /**
   * Updates an active session; `metadata` is merged into the record's. Runs
   * as a compare-and-set, retried if the record changed meanwhile.
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
    const key = this.#sessionKey(id);
    for (let attempt = 0; attempt < 100; attempt++) {
      const raw = toTextOrNull(await this.#command(["GET", key]));
      if (raw === null) return null;
      const record = parseRecord(raw);
      if (record.expiresAt <= now) return null;
      const updated = freezeRecord({
        ...record,
        lastAccessed: update.lastAccessed ?? record.lastAccessed,
        expiresAt: update.expiresAt ?? record.expiresAt,
        metadata: { ...record.metadata, ...update.metadata },
      });
      const written = await this.#eval(UPDATE_SCRIPT, [
        key,
        this.#didKey(updated.did),
      ], [
        raw,
        JSON.stringify(updated),
        String(timeToLive(updated.expiresAt, now)),
        String(updated.createdAt),
        updated.id,
      ]);
      if (toInteger(written) === 1) return updated;
    }
    throw new StoreError(
      "RedisSessionStore gave up on updateSession after 100 conflicting attempts",
    );
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
    const reply = await this.#eval(LIST_SCRIPT, [this.#didKey(did)], [
      this.#sessionKey(""),
    ]);
    return toArray(reply)
      .map((raw) => parseRecord(toText(raw)))
      .filter((record) => record.expiresAt > now && record.did === did)
      .sort(newestFirst);
  }

  /**
   * Deletes one session.
   *
   * @param id The session id.
   * @returns Whether it existed.
   */
  async deleteSession(id: string): Promise<boolean> {
    const reply = await this.#eval(DELETE_SCRIPT, [this.#sessionKey(id)], [
      this.#didKey(""),
      id,
    ]);
    return toInteger(reply) === 1;
  }

  /**
   * Deletes every session of a DID.
   *
   * @param did The DID.
   * @returns How many there were.
   */
  async deleteAllSessions(did: string): Promise<number> {
    const reply = await this.#eval(DELETE_ALL_SCRIPT, [this.#didKey(did)], [
      this.#sessionKey(""),
    ]);
    return toInteger(reply);
  }

  /**
   * Remembers a revoked token id until it expires, as a key Redis drops
   * then.
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
    await this.#eval(REVOKE_SCRIPT, [this.#revokedKey(jti)], [
      String(expiresAt),
      String(timeToLive(expiresAt, now)),
    ]);
  }

  /**
   * Tells whether a token id is revoked.
   *
   * @param jti The token id.
   * @param now The manager's clock.
   * @returns Whether it is revoked and its entry has not expired.
   */
  async isTokenRevoked(jti: string, now: number): Promise<boolean> {
    const raw = toTextOrNull(
      await this.#command(["GET", this.#revokedKey(jti)]),
    );
    return raw !== null && Number(raw) > now;
  }

  // ---- helpers ------------------------------------------------------------

  #sessionKey(id: string): string {
    return `${this.#prefix}session:${id}`;
  }

  #didKey(did: string): string {
    return `${this.#prefix}did:${did}`;
  }

  #revokedKey(jti: string): string {
    return `${this.#prefix}revoked:${jti}`;
  }

  /** Runs a script by its SHA-1, sending its source once Redis lacks it. */
  async #eval(
    script: string,
    keys: string[],
    args: string[],
  ): Promise<unknown> {
    let sha = this.#shas.get(script);
    if (sha === undefined) {
      sha = sha1(script);
      this.#shas.set(script, sha);
    }
    const rest = [String(keys.length), ...keys, ...args];
    try {
      return await this.#command(["EVALSHA", await sha, ...rest]);
    } catch (error) {
      if (!String((error as Error)?.message ?? error).includes("NOSCRIPT")) {
        throw error;
      }
      return await this.#command(["EVAL", script, ...rest]);
    }
  }
}

async function sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(text),
  );
  return Array.from(
    new Uint8Array(digest),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}

function unexpected(reply: unknown): StoreError {
  return new StoreError(
    `RedisSessionStore received an unexpected reply of type ${
      reply === null ? "null" : typeof reply
    }; the command function must resolve to decoded replies (strings, numbers, arrays, null)`,
  );
}

function toTextOrNull(reply: unknown): string | null {
  return reply === null || reply === undefined ? null : toText(reply);
}

function toText(reply: unknown): string {
  if (typeof reply === "string") return reply;
  if (reply instanceof Uint8Array) return decoder.decode(reply);
  throw unexpected(reply);
}

function toInteger(reply: unknown): number {
  if (typeof reply === "number" && Number.isSafeInteger(reply)) return reply;
  if (typeof reply === "bigint") return Number(reply);
  if (typeof reply === "string" && /^-?\d+$/.test(reply)) return Number(reply);
  throw unexpected(reply);
}

function toArray(reply: unknown): unknown[] {
  if (Array.isArray(reply)) return reply;
  throw unexpected(reply);
}

/** A stored JSON record as a frozen record; throws when it is not one. */
function parseRecord(raw: string): SessionRecord {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new StoreError("RedisSessionStore found a session that is not JSON", {
      cause: error,
    });
  }
  const record = toSessionRecord(value);
  if (record === null) {
    throw new StoreError(
      "RedisSessionStore found a session record of the wrong shape",
    );
  }
  return record;
}
