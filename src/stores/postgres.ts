/**
 * A {@linkcode SessionStore} and {@linkcode KeyValueStore} backed by
 * PostgreSQL, through any client with a `query(text, values)` method:
 * `npm:pg`'s `Pool` as it stands, `npm:postgres` with a one-line wrapper.
 *
 * @example With node-postgres (`npm:pg`)
 * ```ts ignore
 * import pg from "pg";
 * import { SessionManager } from "@tijs/atproto-sessions";
 * import { PostgresSessionStore } from "@tijs/atproto-sessions/stores/postgres";
 *
 * const pool = new pg.Pool({
 *   connectionString: "postgres://app@127.0.0.1/app",
 *   connectionTimeoutMillis: 2_000, // fail fast while PostgreSQL is down
 *   statement_timeout: 5_000, // a hung statement ends on the server too
 * });
 * pool.on("error", (error) => console.error("PostgreSQL:", error.message));
 * const sessions = new SessionManager({
 *   cookieSecret: "a-secret-of-at-least-32-characters!",
 *   store: new PostgresSessionStore({ client: pool }),
 *   maxSessionsPerUser: 5,
 * });
 * ```
 *
 * @example With postgres.js (`npm:postgres`): the one-line wrapper
 * ```ts ignore
 * import postgres from "postgres";
 * import { PostgresSessionStore } from "@tijs/atproto-sessions/stores/postgres";
 *
 * const sql = postgres("postgres://app@127.0.0.1/app", { connect_timeout: 2 });
 * const store = new PostgresSessionStore({
 *   client: { query: async (text, values) => ({ rows: await sql.unsafe(text, values as never[]) }) },
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
import {
  type PostgresContext,
  type PostgresSessionStoreOptions,
  resolveOptions,
} from "./_postgres_options.ts";
import { PostgresSessions } from "./_postgres_sessions.ts";
import { PostgresValues } from "./_postgres_values.ts";

export type {
  PostgresClient,
  PostgresSessionStoreOptions,
} from "./_postgres_options.ts";

/**
 * Keeps sessions, revoked legacy token ids, short-lived values (AT
 * Protocol OAuth state and sessions, hand-off codes) and leases (the OAuth
 * `requestLock`) in PostgreSQL. Every process pointed at the same database
 * shares them.
 *
 * Tables, in `schema` with `tablePrefix` (defaults `public` and
 * `atproto_sessions_`): `sessions`, `revoked_tokens`, `values`, `locks`, and
 * a function `create_session`. They are created on first use (or by
 * {@linkcode PostgresSessionStore.migrate}) under an advisory lock, so
 * processes starting together do not collide. Times are the manager's
 * clock, in whole milliseconds (`bigint` columns), and every read compares
 * them with the `now` it is given.
 *
 * Atomicity, with a pool that gives no connection affinity: every
 * operation is ONE statement. `createSession` calls `create_session`, which
 * takes a per-DID transaction advisory lock and then replaces, inserts and
 * evicts, so the cap is exact under any concurrency and the new record is
 * never evicted. `rotateToken` is `UPDATE ... WHERE generation = $n`
 * (compare-and-set, one winner); `takeValue` is `DELETE ... RETURNING` (one
 * taker); `acquireLock` is `INSERT ... ON CONFLICT DO UPDATE ... WHERE
 * expired OR same owner RETURNING` (one holder). The transaction isolation
 * must be READ COMMITTED, PostgreSQL's default.
 *
 * Clean-up needs no cron: a write triggers, at most once a minute per store
 * instance and in the background, one statement deleting rows that expired
 * more than five minutes ago (up to 1000 per table, sooner again when there
 * were more). Autovacuum then reclaims the space; keep it on.
 *
 * @example Against any client (here a stub that records the statements)
 * ```ts
 * import { PostgresSessionStore } from "@tijs/atproto-sessions/stores/postgres";
 * import assert from "node:assert/strict";
 *
 * const sent: unknown[][] = [];
 * const store = new PostgresSessionStore({
 *   client: {
 *     query: (text, values) => {
 *       sent.push([text.split(" ")[0], ...values]);
 *       return Promise.resolve({ rows: [] });
 *     },
 *   },
 *   autoMigrate: false,
 * });
 * assert.equal(await store.getSession("some-id", 1000), null);
 * assert.deepEqual(sent, [["SELECT", "some-id", 1000]]);
 * ```
 */
export class PostgresSessionStore implements SessionStore, KeyValueStore {
  readonly #context: PostgresContext;
  readonly #sessions: PostgresSessions;
  readonly #values: PostgresValues;

  /**
   * Creates a store that runs its statements through `options.client`.
   * Sends nothing until first used.
   *
   * @param options The client, and optionally the schema and table prefix.
   * @throws {TypeError} When `client` has no `query` method or an option
   * has the wrong type.
   * @throws {RangeError} When `schema` or `tablePrefix` is not a plain
   * lowercase identifier.
   */
  constructor(options: PostgresSessionStoreOptions) {
    this.#context = resolveOptions(options);
    this.#sessions = new PostgresSessions(this.#context);
    this.#values = new PostgresValues(this.#context);
  }

  /**
   * Creates the schema, tables, indexes and the `create_session` function
   * if they are missing (or older than this version). Idempotent, and safe
   * to run from several processes at once: it runs as one `DO` block under
   * a transaction advisory lock. The store runs it on first use unless
   * `autoMigrate` is false.
   *
   * @returns When the tables exist.
   *
   * @example At deploy time, as the database owner
   * ```ts ignore
   * import pg from "pg";
   * import { PostgresSessionStore } from "@tijs/atproto-sessions/stores/postgres";
   *
   * const pool = new pg.Pool({ connectionString: Deno.env.get("OWNER_DATABASE_URL") });
   * await new PostgresSessionStore({ client: pool }).migrate();
   * await pool.end();
   * ```
   */
  migrate(): Promise<void> {
    return this.#context.runner.migrate();
  }

  /**
   * The SQL that {@linkcode PostgresSessionStore.migrate} runs, for
   * migration tools and DBAs: one idempotent `DO` block.
   *
   * @returns The statement.
   *
   * @example
   * ```ts
   * import { PostgresSessionStore } from "@tijs/atproto-sessions/stores/postgres";
   * import assert from "node:assert/strict";
   *
   * const store = new PostgresSessionStore({
   *   client: { query: () => Promise.resolve({ rows: [] }) },
   *   schema: "auth",
   * });
   * assert.match(store.migrationSql(), /CREATE TABLE IF NOT EXISTS "auth"\."atproto_sessions_sessions"/);
   * ```
   */
  migrationSql(): string {
    return this.#context.sql.migrate;
  }

  /**
   * Deletes rows that expired at or before `before`: sessions, revoked
   * token ids, values and leases, up to 1000 of each in one statement.
   * Writes call it on their own (see the class notes); call it yourself
   * only with `cleanup: false`.
   *
   * @param before A time on the manager's clock.
   * @returns How many rows it deleted.
   *
   * @example From a scheduler, with the store's own clean-up off
   * ```ts ignore
   * import pg from "pg";
   * import { PostgresSessionStore } from "@tijs/atproto-sessions/stores/postgres";
   *
   * const store = new PostgresSessionStore({ client: new pg.Pool(), cleanup: false });
   * setInterval(() => store.deleteExpired(Date.now() - 300_000), 60_000);
   * ```
   */
  async deleteExpired(before: number): Promise<number> {
    const counts = await this.#context.runner.deleteExpired(before);
    return counts.reduce((sum, n) => sum + n, 0);
  }

  // ---- SessionStore -------------------------------------------------------

  /**
   * Stores a record in one call of the `create_session` function, which under a
   * per-DID lock deletes `replaces` (same DID only), inserts the record and
   * evicts beyond the cap; resolves to the evicted records, oldest first. See
   * {@linkcode SessionStore.createSession}.
   *
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
   * Returns an active session: one `SELECT`. See
   * {@linkcode SessionStore.getSession}.
   */
  getSession(id: string, now: number): Promise<SessionRecord | null> {
    return this.#sessions.getSession(id, now);
  }

  /**
   * Updates an active session in one `UPDATE`, merging `metadata` (`jsonb ||`);
   * see {@linkcode SessionStore.updateSession}.
   */
  updateSession(
    id: string,
    update: SessionRecordUpdate,
    now: number,
  ): Promise<SessionRecord | null> {
    return this.#sessions.updateSession(id, update, now);
  }

  /**
   * Rotates a token's record with one `UPDATE ... WHERE generation = $2`: of
   * concurrent callers exactly one rotates. See
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
   * Lists a DID's active sessions, newest first; see
   * {@linkcode SessionStore.listSessions}.
   */
  listSessions(did: string, now: number): Promise<readonly SessionRecord[]> {
    return this.#sessions.listSessions(did, now);
  }

  /** Deletes one session; see {@linkcode SessionStore.deleteSession}. */
  deleteSession(id: string): Promise<SessionRecord | null> {
    return this.#sessions.deleteSession(id);
  }

  /**
   * Deletes every session of a DID in one `DELETE`; see
   * {@linkcode SessionStore.deleteAllSessions}.
   */
  deleteAllSessions(did: string): Promise<readonly SessionRecord[]> {
    return this.#sessions.deleteAllSessions(did);
  }

  /**
   * Remembers a revoked legacy token id until it expires, keeping the later of
   * two expiries; see {@linkcode SessionStore.revokeToken}.
   */
  revokeToken(jti: string, expiresAt: number, now: number): Promise<void> {
    return this.#sessions.revokeToken(jti, expiresAt, now);
  }

  /**
   * Tells whether a legacy token id is revoked; see
   * {@linkcode SessionStore.isTokenRevoked}.
   */
  isTokenRevoked(jti: string, now: number): Promise<boolean> {
    return this.#sessions.isTokenRevoked(jti, now);
  }

  // ---- KeyValueStore ------------------------------------------------------

  /** Returns a live value; see {@linkcode KeyValueStore.getValue}. */
  getValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<string | null> {
    return this.#values.getValue(namespace, key, now);
  }

  /**
   * Stores (or overwrites) a value until `expiresAt`; see
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
   * Reads and deletes a value in one `DELETE ... RETURNING`: of concurrent
   * callers, one receives it. See {@linkcode KeyValueStore.takeValue}.
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
   * Deletes every value of a namespace; see
   * {@linkcode KeyValueStore.clearValues}.
   */
  clearValues(namespace: ValueNamespace): Promise<void> {
    return this.#values.clearValues(namespace);
  }

  /**
   * Takes (or extends) a lease in one `INSERT ... ON CONFLICT DO UPDATE ...
   * WHERE` statement; see {@linkcode KeyValueStore.acquireLock}.
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
   * Extends a lease the owner still holds; see
   * {@linkcode KeyValueStore.renewLock}.
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
   * Frees a lease if `owner` holds it; see
   * {@linkcode KeyValueStore.releaseLock}.
   */
  releaseLock(name: string, owner: string): Promise<void> {
    return this.#values.releaseLock(name, owner);
  }
}
