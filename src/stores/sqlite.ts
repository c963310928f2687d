/**
 * A {@linkcode SessionStore} and {@linkcode KeyValueStore} backed by SQLite:
 * a synchronous handle (`node:sqlite`, `better-sqlite3`, `bun:sqlite`) or
 * libSQL's asynchronous client (`@libsql/client`, Turso).
 *
 * @module
 */

import { assertSessionCap } from "../_session_record.ts";
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
import type { Row, Statement } from "./_sqlite_driver.ts";
import {
  resolveOptions,
  type SqliteSessionStoreOptions,
} from "./_sqlite_options.ts";
import {
  first,
  live,
  metadataJson,
  records,
  text,
  toRow,
} from "./_sqlite_rows.ts";
import { SqliteRunner } from "./_sqlite_runner.ts";
import type { SqliteSql } from "./_sqlite_sql.ts";

export type {
  LibsqlClient,
  LibsqlResult,
  LibsqlStatement,
  SqliteDatabase,
  SqliteStatement,
  SqliteValue,
} from "./_sqlite_driver.ts";
export type { SqliteSessionStoreOptions } from "./_sqlite_options.ts";

/**
 * Keeps sessions, revoked legacy token ids, short-lived values and leases in
 * SQLite. Every process that opens the same file (`deno serve --parallel`
 * workers, several app processes on one machine) or the same libSQL
 * database shares them.
 *
 * - **Tables** are created on first use with `CREATE ... IF NOT EXISTS` in
 *   one `BEGIN IMMEDIATE` transaction, so two processes starting at once
 *   are safe. Needs SQLite 3.35 or later (`RETURNING`) with JSON functions
 *   (built in since 3.38; `node:sqlite`, `better-sqlite3`, Bun and libSQL
 *   all have them).
 * - **Concurrency**: the database is switched to WAL (readers never wait
 *   for the writer) and every write is one statement or one `BEGIN
 *   IMMEDIATE` transaction: the per-user cap, with `replaces`, is one
 *   transaction; a token rotation is one `UPDATE ... WHERE generation = ?`;
 *   `takeValue` is one `DELETE ... RETURNING`; a lease is one upsert. A
 *   synchronous handle runs a transaction without yielding, so nothing else
 *   in the process interleaves; libSQL runs it as one `batch`. When another
 *   process holds the write lock, SQLite waits `busyTimeout` and the store
 *   retries with jittered back-off for up to `maxBusyWait`, so lock
 *   contention does not fail a sign-in or a refresh.
 * - **Expiry**: reads compare `expires_at` with the manager's clock; each
 *   store instance deletes expired rows on a write at most once a minute
 *   (in batches of 500, so it never holds the lock long).
 *
 * The store does not own the connection: close it yourself. The operator
 * keeps the `-wal` and `-shm` files next to the database, backs it up with
 * `VACUUM INTO` or `sqlite3 .backup` (not by copying the file while it is
 * written), and may `VACUUM` now and then to return the space of deleted
 * rows.
 *
 * @example With `node:sqlite` (Node 22+, Deno)
 * ```ts
 * import { SessionManager } from "@tijs/atproto-sessions";
 * import { SqliteSessionStore } from "@tijs/atproto-sessions/stores/sqlite";
 * import { DatabaseSync } from "node:sqlite";
 * import assert from "node:assert/strict";
 *
 * // In production: new DatabaseSync("sessions.db")
 * const database = new DatabaseSync(":memory:");
 * const sessions = new SessionManager({
 *   cookieSecret: "a-secret-of-at-least-32-characters!",
 *   store: new SqliteSessionStore({ database }),
 *   maxSessionsPerUser: 5,
 * });
 * await sessions.createSession({ did: "did:plc:ewvi7nxzyoun6zhxrhs64oiz" });
 * assert.equal((await sessions.listSessions("did:plc:ewvi7nxzyoun6zhxrhs64oiz")).length, 1);
 * database.close();
 * ```
 *
 * @example With libSQL or Turso
 * ```ts ignore
 * import { createClient } from "@libsql/client";
 * import { SqliteSessionStore } from "@tijs/atproto-sessions/stores/sqlite";
 *
 * const client = createClient({ url: "file:sessions.db", timeout: 100 });
 * const store = new SqliteSessionStore({ client });
 * ```
 */
export class SqliteSessionStore implements SessionStore, KeyValueStore {
  readonly #sql: SqliteSql;
  readonly #run: SqliteRunner;

  /**
   * Creates a store over an open connection; tables are created on first
   * use.
   *
   * @param options The connection (`database` or `client`) and tuning.
   * @throws {TypeError} When neither or both of `database` and `client` are
   * given, either has the wrong shape, or `tablePrefix` is not an
   * identifier.
   * @throws {RangeError} When `busyTimeout` or `maxBusyWait` is not a
   * non-negative integer.
   */
  constructor(options: SqliteSessionStoreOptions) {
    const resolved = resolveOptions(options);
    this.#sql = resolved.sql;
    this.#run = new SqliteRunner(resolved);
  }

  // ---- SessionStore ---------------------------------------------------------

  /**
   * Stores a record in one transaction with the replacement and the cap (the
   * new record is never evicted); see {@linkcode SessionStore.createSession}.
   *
   * @throws {RangeError} When `maxSessionsPerUser` is not a non-negative
   * integer.
   */
  async createSession(
    record: SessionRecord,
    options: CreateSessionOptions,
    now: number,
  ): Promise<readonly SessionRecord[]> {
    const cap = options?.maxSessionsPerUser;
    assertSessionCap(cap);
    const statements: Statement[] = [];
    if (options?.replaces !== undefined) {
      statements.push(
        this.#sql.deleteReplaced(options.replaces, record.did, record.id),
      );
    }
    statements.push(this.#sql.insertSession(toRow(record)));
    if (cap !== undefined) {
      statements.push(
        this.#sql.evict(record.did, record.id, Math.max(0, cap - 1), now),
      );
    }
    const results = await this.#run.transaction("createSession", statements);
    const evicted = cap === undefined ? [] : records(results.at(-1) ?? []);
    await this.#run.sweep(now);
    return evicted;
  }

  /** Returns an active session; see {@linkcode SessionStore.getSession}. */
  async getSession(id: string, now: number): Promise<SessionRecord | null> {
    return first(
      await this.#run.query("getSession", this.#sql.getSession(id, now)),
    );
  }

  /**
   * Updates an active session in one statement, merging `metadata`; see
   * {@linkcode SessionStore.updateSession}.
   */
  async updateSession(
    id: string,
    update: SessionRecordUpdate,
    now: number,
  ): Promise<SessionRecord | null> {
    const statement = this.#sql.updateSession(
      id,
      update.lastAccessed ?? null,
      update.expiresAt ?? null,
      metadataJson(update.metadata),
      now,
    );
    return first(await this.#run.query("updateSession", statement));
  }

  /**
   * Rotates a token with one compare-and-set `UPDATE`: of concurrent rotations
   * at most one wins. See {@linkcode SessionStore.rotateToken}.
   */
  async rotateToken(
    id: string,
    generation: number,
    rotation: TokenRotation,
    now: number,
  ): Promise<RotationResult> {
    const rotated = first(
      await this.#run.query(
        "rotateToken",
        this.#sql.rotateToken(
          id,
          generation,
          rotation.lastAccessed,
          rotation.expiresAt,
          rotation.successor,
          now,
        ),
      ),
    );
    if (rotated !== null) return { rotated: true, record: rotated };
    return { rotated: false, record: await this.getSession(id, now) };
  }

  /**
   * Lists a DID's active sessions, newest first; see
   * {@linkcode SessionStore.listSessions}.
   */
  async listSessions(
    did: string,
    now: number,
  ): Promise<readonly SessionRecord[]> {
    return records(
      await this.#run.query("listSessions", this.#sql.listSessions(did, now)),
    );
  }

  /** Deletes one session; see {@linkcode SessionStore.deleteSession}. */
  async deleteSession(id: string): Promise<SessionRecord | null> {
    return first(
      await this.#run.query("deleteSession", this.#sql.deleteSession(id)),
    );
  }

  /**
   * Deletes every session of a DID in one statement; see
   * {@linkcode SessionStore.deleteAllSessions}.
   */
  async deleteAllSessions(did: string): Promise<readonly SessionRecord[]> {
    return records(
      await this.#run.query(
        "deleteAllSessions",
        this.#sql.deleteAllSessions(did),
      ),
    );
  }

  /**
   * Remembers a revoked legacy token id until it expires; see
   * {@linkcode SessionStore.revokeToken}.
   */
  async revokeToken(
    jti: string,
    expiresAt: number,
    now: number,
  ): Promise<void> {
    if (!Number.isFinite(expiresAt) || expiresAt <= now) return;
    await this.#run.query("revokeToken", this.#sql.revokeToken(jti, expiresAt));
    await this.#run.sweep(now);
  }

  /**
   * Tells whether a legacy token id is revoked; see
   * {@linkcode SessionStore.isTokenRevoked}.
   */
  async isTokenRevoked(jti: string, now: number): Promise<boolean> {
    const rows = await this.#run.query(
      "isTokenRevoked",
      this.#sql.isTokenRevoked(jti, now),
    );
    return rows.length > 0;
  }

  // ---- KeyValueStore --------------------------------------------------------

  /** Returns a live value; see {@linkcode KeyValueStore.getValue}. */
  async getValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<string | null> {
    const rows = await this.#run.query(
      "getValue",
      this.#sql.getValue(namespace, key, now),
    );
    return text(rows[0]?.value);
  }

  /** Stores or overwrites a value; see {@linkcode KeyValueStore.setValue}. */
  async setValue(
    namespace: ValueNamespace,
    key: string,
    value: string,
    expiresAt: number | null,
    now: number,
  ): Promise<void> {
    await this.#run.query(
      "setValue",
      this.#sql.setValue(namespace, key, value, expiresAt),
    );
    await this.#run.sweep(now);
  }

  /**
   * Reads and deletes a live value with one `DELETE ... RETURNING`: in any
   * process, at most one caller receives it. See
   * {@linkcode KeyValueStore.takeValue}.
   */
  async takeValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<string | null> {
    const row = await this.#deleteValue("takeValue", namespace, key);
    return row !== undefined && live(row, now) ? text(row.value) : null;
  }

  /** Deletes a value; see {@linkcode KeyValueStore.deleteValue}. */
  async deleteValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<boolean> {
    const row = await this.#deleteValue("deleteValue", namespace, key);
    return row !== undefined && live(row, now);
  }

  /**
   * Deletes every value of a namespace; see
   * {@linkcode KeyValueStore.clearValues}.
   */
  async clearValues(namespace: ValueNamespace): Promise<void> {
    await this.#run.query("clearValues", this.#sql.clearValues(namespace));
  }

  /**
   * Takes a lease with one upsert (free, run out, or already `owner`'s, which
   * extends it); see {@linkcode KeyValueStore.acquireLock}.
   */
  async acquireLock(
    name: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<boolean> {
    const rows = await this.#run.query(
      "acquireLock",
      this.#sql.acquireLock(name, owner, now + leaseMs, now),
    );
    await this.#run.sweep(now);
    return rows.length > 0;
  }

  /**
   * Extends the holder's live lease; see {@linkcode KeyValueStore.renewLock}.
   */
  async renewLock(
    name: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<boolean> {
    const rows = await this.#run.query(
      "renewLock",
      this.#sql.renewLock(name, owner, now + leaseMs, now),
    );
    return rows.length > 0;
  }

  /**
   * Frees the lease if `owner` holds it; see
   * {@linkcode KeyValueStore.releaseLock}.
   */
  async releaseLock(name: string, owner: string): Promise<void> {
    await this.#run.query("releaseLock", this.#sql.releaseLock(name, owner));
  }

  /** Deletes a value row; resolves to the row it deleted, if any. */
  async #deleteValue(
    operation: string,
    namespace: ValueNamespace,
    key: string,
  ): Promise<Row | undefined> {
    const rows = await this.#run.query(
      operation,
      this.#sql.deleteValue(namespace, key),
    );
    return rows[0];
  }
}
