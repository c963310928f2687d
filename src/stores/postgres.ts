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

import { assertSessionCap, newestFirst } from "../_session_record.ts";
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
  isLive,
  keyText,
  metadataParam,
  recordParams,
  rowToRecord,
  toText,
  valueOf,
  whole,
} from "./_postgres_rows.ts";
import { PostgresRunner } from "./_postgres_runner.ts";
import {
  assertIdentifier,
  MAX_PREFIX_LENGTH,
  type PostgresStatements,
  postgresStatements,
} from "./_postgres_sql.ts";

/**
 * The one method the store needs from a PostgreSQL client: run one
 * parameterised statement (`$1`, `$2`... bound to `values`) and resolve to
 * its rows as objects keyed by column name. `npm:pg`'s `Pool` and `Client`
 * have it as they are; for postgres.js,
 * `{ query: async (text, values) => ({ rows: await sql.unsafe(text, values as never[]) }) }`.
 * Use a pool: the store sends independent statements and never needs two
 * of them on one connection.
 *
 * @example A pool from npm:pg
 * ```ts ignore
 * import pg from "pg";
 * import type { PostgresClient } from "@tijs/atproto-sessions/stores/postgres";
 *
 * const client: PostgresClient = new pg.Pool({ connectionString: "postgres://app@127.0.0.1/app" });
 * ```
 */
export interface PostgresClient {
  /**
   * Runs one statement with its parameters.
   *
   * @param text The SQL, with `$n` placeholders.
   * @param values The parameters: strings, numbers and null.
   * @returns The rows.
   */
  query(
    text: string,
    values: unknown[],
  ): Promise<{ rows: Record<string, unknown>[] }>;
}

/**
 * Options for `new PostgresSessionStore(options)`.
 *
 * @example Separate tables for a second app in the same database
 * ```ts ignore
 * import pg from "pg";
 * import type { PostgresSessionStoreOptions } from "@tijs/atproto-sessions/stores/postgres";
 *
 * const options: PostgresSessionStoreOptions = {
 *   client: new pg.Pool(),
 *   schema: "auth",
 *   tablePrefix: "admin_sessions_",
 * };
 * ```
 */
export interface PostgresSessionStoreOptions {
  /** The client (a pool) that runs the statements. */
  client: PostgresClient;
  /**
   * The schema holding the tables; created if missing. Lowercase letters,
   * digits and underscores.
   * @default {"public"}
   */
  schema?: string;
  /**
   * Prepended to every table and function name, so one schema can hold
   * several stores. Lowercase letters, digits and underscores; at most 40.
   * @default {"atproto_sessions_"}
   */
  tablePrefix?: string;
  /**
   * Create the tables on first use. Turn it off when the app's database
   * role may not run DDL: run {@linkcode PostgresSessionStore.migrate}
   * (or the SQL of `migrationSql()`) as the owner at deploy time instead.
   * @default {true}
   */
  autoMigrate?: boolean;
  /**
   * Delete expired rows as the store is written to, at most once a minute
   * per store instance (see {@linkcode PostgresSessionStore.deleteExpired}).
   * Turn it off only if you call `deleteExpired()` on a schedule yourself.
   * @default {true}
   */
  cleanup?: boolean;
}

/** The defaults of {@linkcode PostgresSessionStoreOptions}. */
const DEFAULTS: Readonly<
  Required<Omit<PostgresSessionStoreOptions, "client">>
> = Object.freeze({
  schema: "public",
  tablePrefix: "atproto_sessions_",
  autoMigrate: true,
  cleanup: true,
});

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
  readonly #sql: PostgresStatements;
  readonly #runner: PostgresRunner;

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
    if (typeof options?.client?.query !== "function") {
      throw new TypeError(
        `Cannot create PostgresSessionStore: client must have a query(text, values) method, such as a pg Pool: received ${
          options === null || options === undefined
            ? String(options)
            : options.client === null
            ? "null"
            : typeof options.client
        }`,
      );
    }
    const schema = options.schema ?? DEFAULTS.schema;
    const prefix = options.tablePrefix ?? DEFAULTS.tablePrefix;
    assertIdentifier("schema", schema, 63, false);
    assertIdentifier("tablePrefix", prefix, MAX_PREFIX_LENGTH, true);
    for (const name of ["autoMigrate", "cleanup"] as const) {
      const value = options[name];
      if (value !== undefined && typeof value !== "boolean") {
        throw new TypeError(
          `Cannot create PostgresSessionStore: ${name} must be a boolean: received ${typeof value}`,
        );
      }
    }
    this.#sql = postgresStatements(schema, prefix);
    this.#runner = new PostgresRunner(
      options.client,
      this.#sql,
      options.autoMigrate ?? DEFAULTS.autoMigrate,
      options.cleanup ?? DEFAULTS.cleanup,
    );
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
    return this.#runner.migrate();
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
    return this.#sql.migrate;
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
    const counts = await this.#runner.deleteExpired(before);
    return counts.reduce((sum, n) => sum + n, 0);
  }

  // ---- SessionStore -------------------------------------------------------

  /**
   * Stores a record in one call of the `create_session` function: under a
   * per-DID lock it deletes `replaces` (same DID only), inserts the record
   * and evicts the DID's oldest other active sessions beyond the cap.
   *
   * @param record The new session.
   * @param options The cap and the session it replaces.
   * @param now The manager's clock.
   * @returns The evicted records, oldest first.
   */
  async createSession(
    record: SessionRecord,
    options: CreateSessionOptions,
    now: number,
  ): Promise<readonly SessionRecord[]> {
    const cap = options?.maxSessionsPerUser;
    assertSessionCap(cap);
    const rows = await this.#runner.query(this.#sql.createSession, [
      ...recordParams(record),
      cap ?? null,
      typeof options?.replaces === "string" ? toText(options.replaces) : null,
      whole("now", now),
    ]);
    this.#runner.maybeSweep(now);
    return rows.map(rowToRecord);
  }

  /**
   * Returns an active session.
   *
   * @param id The session id.
   * @param now The manager's clock.
   * @returns The record, or null when absent or expired.
   */
  async getSession(id: string, now: number): Promise<SessionRecord | null> {
    const [row] = await this.#runner.query(this.#sql.getSession, [
      toText(id),
      whole("now", now),
    ]);
    return row === undefined ? null : rowToRecord(row);
  }

  /**
   * Updates an active session in one `UPDATE`; `metadata` is merged into
   * the record's (`jsonb ||`).
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
    const [row] = await this.#runner.query(this.#sql.updateSession, [
      toText(id),
      update.lastAccessed === undefined
        ? null
        : whole("lastAccessed", update.lastAccessed),
      update.expiresAt === undefined
        ? null
        : whole("expiresAt", update.expiresAt, Math.ceil),
      metadataParam(update.metadata),
      whole("now", now),
    ]);
    return row === undefined ? null : rowToRecord(row);
  }

  /**
   * Rotates a token's record if it is active and at `generation`: one
   * `UPDATE ... WHERE generation = $2`, so of concurrent callers exactly
   * one rotates. A caller that did not rotate then reads the record as it
   * stands.
   *
   * @param id The session id.
   * @param generation The generation the caller holds.
   * @param rotation The new times and sealed successor.
   * @param now The manager's clock.
   * @returns Whether this call rotated, and the record.
   */
  async rotateToken(
    id: string,
    generation: number,
    rotation: TokenRotation,
    now: number,
  ): Promise<RotationResult> {
    const [row] = await this.#runner.query(this.#sql.rotateToken, [
      toText(id),
      whole("generation", generation),
      whole("lastAccessed", rotation.lastAccessed),
      whole("expiresAt", rotation.expiresAt, Math.ceil),
      toText(rotation.successor),
      whole("now", now),
    ]);
    if (row !== undefined) {
      return Object.freeze({ rotated: true, record: rowToRecord(row) });
    }
    return Object.freeze({
      rotated: false,
      record: await this.getSession(id, now),
    });
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
    const rows = await this.#runner.query(this.#sql.listSessions, [
      toText(did),
      whole("now", now),
    ]);
    return rows.map(rowToRecord).sort(newestFirst);
  }

  /**
   * Deletes one session.
   *
   * @param id The session id.
   * @returns The deleted record, or null.
   */
  async deleteSession(id: string): Promise<SessionRecord | null> {
    const [row] = await this.#runner.query(this.#sql.deleteSession, [
      toText(id),
    ]);
    return row === undefined ? null : rowToRecord(row);
  }

  /**
   * Deletes every session of a DID in one `DELETE`.
   *
   * @param did The DID.
   * @returns The deleted records, newest first.
   */
  async deleteAllSessions(did: string): Promise<readonly SessionRecord[]> {
    const rows = await this.#runner.query(this.#sql.deleteAllSessions, [
      toText(did),
    ]);
    return rows.map(rowToRecord).sort(newestFirst);
  }

  /**
   * Remembers a revoked legacy token id until it expires, keeping the later
   * of two expiries.
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
    if (!(expiresAt > now)) return;
    await this.#runner.query(this.#sql.revokeToken, [
      toText(jti),
      whole("expiresAt", expiresAt, Math.ceil),
    ]);
    this.#runner.maybeSweep(now);
  }

  /**
   * Tells whether a legacy token id is revoked.
   *
   * @param jti The token id.
   * @param now The manager's clock.
   * @returns Whether it is revoked and its entry has not expired.
   */
  async isTokenRevoked(jti: string, now: number): Promise<boolean> {
    const rows = await this.#runner.query(this.#sql.isTokenRevoked, [
      toText(jti),
      whole("now", now),
    ]);
    return rows.length > 0;
  }

  // ---- KeyValueStore ------------------------------------------------------

  /**
   * Returns a live value.
   *
   * @param namespace The namespace.
   * @param key The key.
   * @param now The manager's clock.
   * @returns The value, or null.
   */
  async getValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<string | null> {
    const [row] = await this.#runner.query(this.#sql.getValue, [
      namespace,
      await keyText(key),
      whole("now", now),
    ]);
    return row === undefined ? null : valueOf(row);
  }

  /**
   * Stores (or overwrites) a value until `expiresAt`.
   *
   * @param namespace The namespace.
   * @param key The key.
   * @param value The value.
   * @param expiresAt When it expires, or null for never.
   * @param now The manager's clock.
   */
  async setValue(
    namespace: ValueNamespace,
    key: string,
    value: string,
    expiresAt: number | null,
    now: number,
  ): Promise<void> {
    await this.#runner.query(this.#sql.setValue, [
      namespace,
      await keyText(key),
      toText(value),
      expiresAt === null ? null : whole("expiresAt", expiresAt, Math.ceil),
    ]);
    this.#runner.maybeSweep(now);
  }

  /**
   * Reads and deletes a value in one `DELETE ... RETURNING`: of concurrent
   * callers, one receives it.
   *
   * @param namespace The namespace.
   * @param key The key.
   * @param now The manager's clock.
   * @returns The value if it was live, else null.
   */
  async takeValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<string | null> {
    const [row] = await this.#runner.query(this.#sql.takeValue, [
      namespace,
      await keyText(key),
    ]);
    return row !== undefined && isLive(row, now) ? valueOf(row) : null;
  }

  /**
   * Deletes a value.
   *
   * @param namespace The namespace.
   * @param key The key.
   * @param now The manager's clock.
   * @returns Whether a live value existed.
   */
  async deleteValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<boolean> {
    const [row] = await this.#runner.query(this.#sql.takeValue, [
      namespace,
      await keyText(key),
    ]);
    return row !== undefined && isLive(row, now);
  }

  /**
   * Deletes every value of a namespace.
   *
   * @param namespace The namespace.
   */
  async clearValues(namespace: ValueNamespace): Promise<void> {
    await this.#runner.query(this.#sql.clearValues, [namespace]);
  }

  /**
   * Takes (or extends) a lease in one `INSERT ... ON CONFLICT DO UPDATE
   * ... WHERE` statement.
   *
   * @param name The lock's name.
   * @param owner The caller's unique owner id.
   * @param leaseMs How long the lease lasts.
   * @param now The manager's clock.
   * @returns Whether `owner` now holds it.
   */
  async acquireLock(
    name: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<boolean> {
    const rows = await this.#runner.query(this.#sql.acquireLock, [
      await keyText(name),
      toText(owner),
      whole("lease", now + leaseMs, Math.ceil),
      whole("now", now),
    ]);
    this.#runner.maybeSweep(now);
    return rows.length > 0;
  }

  /**
   * Extends a lease the owner still holds.
   *
   * @param name The lock's name.
   * @param owner The owner id.
   * @param leaseMs How long from `now` the lease lasts.
   * @param now The manager's clock.
   * @returns Whether it did.
   */
  async renewLock(
    name: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<boolean> {
    const rows = await this.#runner.query(this.#sql.renewLock, [
      await keyText(name),
      toText(owner),
      whole("lease", now + leaseMs, Math.ceil),
      whole("now", now),
    ]);
    return rows.length > 0;
  }

  /**
   * Frees a lease if `owner` holds it.
   *
   * @param name The lock's name.
   * @param owner The owner id.
   */
  async releaseLock(name: string, owner: string): Promise<void> {
    await this.#runner.query(this.#sql.releaseLock, [
      await keyText(name),
      toText(owner),
    ]);
  }
}
