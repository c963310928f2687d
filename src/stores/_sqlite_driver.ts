/**
 * The two kinds of SQLite connection `SqliteSessionStore` accepts, typed
 * structurally, and one small driver interface over both: a synchronous
 * handle (`node:sqlite`'s `DatabaseSync`, `better-sqlite3`, `bun:sqlite`)
 * and libSQL's asynchronous client (`@libsql/client`, Turso).
 *
 * @module
 */

/** A value bound to a statement parameter. */
export type SqliteValue = string | number | bigint | null;

/**
 * A prepared statement of a synchronous SQLite handle: the part of
 * `node:sqlite`'s `StatementSync`, `better-sqlite3`'s `Statement` and
 * `bun:sqlite`'s `Statement` the store uses.
 *
 * @example
 * ```ts
 * import type { SqliteStatement } from "@tijs/atproto-sessions/stores/sqlite";
 * import { DatabaseSync } from "node:sqlite";
 *
 * const statement: SqliteStatement = new DatabaseSync(":memory:").prepare("SELECT 1 AS one");
 * ```
 */
export interface SqliteStatement {
  /** Runs a statement that returns no rows. */
  run(...params: SqliteValue[]): unknown;
  /** Runs a statement and returns its first row. */
  get(...params: SqliteValue[]): unknown;
  /** Runs a statement and returns all its rows, as objects keyed by column. */
  all(...params: SqliteValue[]): unknown[];
}

/**
 * A synchronous SQLite handle: the part of `node:sqlite`'s `DatabaseSync`,
 * `better-sqlite3`'s `Database` and `bun:sqlite`'s `Database` the store
 * uses.
 *
 * @example
 * ```ts
 * import type { SqliteDatabase } from "@tijs/atproto-sessions/stores/sqlite";
 * import { DatabaseSync } from "node:sqlite";
 *
 * const database: SqliteDatabase = new DatabaseSync(":memory:");
 * ```
 */
export interface SqliteDatabase {
  /** Compiles one SQL statement. */
  prepare(sql: string): SqliteStatement;
  /** Runs SQL text that may hold several statements and returns no rows. */
  exec(sql: string): unknown;
}

/**
 * One statement for a {@linkcode LibsqlClient}: SQL with `?` placeholders
 * and their values.
 *
 * @example
 * ```ts
 * import type { LibsqlStatement } from "@tijs/atproto-sessions/stores/sqlite";
 *
 * const statement: LibsqlStatement = { sql: "SELECT ? AS one", args: [1] };
 * ```
 */
export interface LibsqlStatement {
  /** The SQL text. */
  sql: string;
  /** The positional arguments. */
  args: SqliteValue[];
}

/**
 * What a {@linkcode LibsqlClient} resolves to for one statement: its rows,
 * as objects keyed by column name.
 *
 * @example
 * ```ts
 * import type { LibsqlResult } from "@tijs/atproto-sessions/stores/sqlite";
 *
 * const result: LibsqlResult = { rows: [{ one: 1 }] };
 * ```
 */
export interface LibsqlResult {
  /** The rows. */
  readonly rows: ArrayLike<Record<string, unknown>>;
}

/**
 * libSQL's asynchronous client (`createClient()` from `@libsql/client`, for
 * a local `file:` database, an embedded replica or a Turso / sqld server):
 * the part of it the store uses.
 *
 * @example
 * ```ts ignore
 * import { createClient } from "@libsql/client";
 * import type { LibsqlClient } from "@tijs/atproto-sessions/stores/sqlite";
 *
 * const client: LibsqlClient = createClient({ url: "file:sessions.db", timeout: 100 });
 * ```
 */
export interface LibsqlClient {
  /** Runs one statement. */
  execute(statement: LibsqlStatement): Promise<LibsqlResult>;
  /**
   * Runs statements in one transaction (`"write"`: `BEGIN IMMEDIATE`),
   * all or none.
   */
  batch(
    statements: LibsqlStatement[],
    mode: "write",
  ): Promise<ArrayLike<LibsqlResult>>;
  /** `"file"` for a local database; `"http"`, `"ws"`... for a server. */
  readonly protocol?: string;
  /** Closes the client's connections; new ones open on the next call. */
  reconnect?(): unknown;
}

/** A statement the store runs: whether it returns rows decides how. */
export interface Statement {
  readonly sql: string;
  readonly args: SqliteValue[];
  /** True for `SELECT` and `... RETURNING`. */
  readonly rows: boolean;
}

/** A row, keyed by column name. */
export type Row = Record<string, unknown>;

/** What the store needs from a connection, whichever kind it is. */
export interface Driver {
  /** Runs one statement on its own (autocommit); resolves to its rows. */
  query(statement: Statement): Promise<Row[]>;
  /**
   * Runs statements in one `BEGIN IMMEDIATE` transaction; resolves to the
   * rows of each. Rolls back when one fails.
   */
  transaction(statements: readonly Statement[]): Promise<Row[][]>;
  /** Runs a `PRAGMA` outside any transaction; resolves to its rows. */
  pragma(sql: string): Promise<Row[]>;
  /**
   * Tells whether an error is transient contention that did not apply the
   * operation, so that retrying is safe and may succeed.
   */
  retryable(error: unknown): boolean;
}

/**
 * A driver over a synchronous handle. A transaction runs from `BEGIN
 * IMMEDIATE` to `COMMIT` without yielding, so no other JavaScript in the
 * process interleaves with it; SQLite's write lock serialises processes.
 * Prepared statements are cached per SQL text.
 */
export class SyncDriver implements Driver {
  readonly #database: SqliteDatabase;
  readonly #statements = new Map<string, SqliteStatement>();

  constructor(database: SqliteDatabase) {
    this.#database = database;
  }

  query(statement: Statement): Promise<Row[]> {
    try {
      return Promise.resolve(this.#run(statement));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  transaction(statements: readonly Statement[]): Promise<Row[][]> {
    try {
      this.#database.exec("BEGIN IMMEDIATE");
    } catch (error) {
      return Promise.reject(error);
    }
    try {
      const results = statements.map((statement) => this.#run(statement));
      this.#database.exec("COMMIT");
      return Promise.resolve(results);
    } catch (error) {
      try {
        this.#database.exec("ROLLBACK");
      } catch {
        // SQLite already rolled back (or the connection is gone).
      }
      return Promise.reject(error);
    }
  }

  pragma(sql: string): Promise<Row[]> {
    return this.query({ sql, args: [], rows: true });
  }

  retryable(error: unknown): boolean {
    return isBusy(error);
  }

  #run(statement: Statement): Row[] {
    let prepared = this.#statements.get(statement.sql);
    if (prepared === undefined) {
      prepared = this.#database.prepare(statement.sql);
      this.#statements.set(statement.sql, prepared);
    }
    if (!statement.rows) {
      prepared.run(...statement.args);
      return [];
    }
    return prepared.all(...statement.args) as Row[];
  }
}

/**
 * A driver over libSQL's client: a transaction is one `batch(..., "write")`
 * (one round trip to a remote server, `BEGIN IMMEDIATE` locally), never an
 * interactive transaction.
 *
 * libSQL's local client (`libsql` 0.5, `@libsql/client` 0.18) does not
 * reset a statement that failed with `SQLITE_BUSY`: it stays active on its
 * pooled connection until garbage-collected, so later transactions there
 * fail ("cannot commit transaction - SQL statements in progress") and,
 * worse, later autocommit writes there are not committed. So on lock
 * contention a local (`file:`) client is told to `reconnect()` (close its
 * pool) at once, before the store retries on a fresh connection; a
 * concurrent call that had borrowed a closed connection fails with
 * `CLIENT_CLOSED` "closed while this operation was in flight" before
 * running anything, and is retried too.
 */
export class LibsqlDriver implements Driver {
  readonly #client: LibsqlClient;

  constructor(client: LibsqlClient) {
    this.#client = client;
  }

  async query(statement: Statement): Promise<Row[]> {
    try {
      const result = await this.#client.execute({
        sql: statement.sql,
        args: statement.args,
      });
      return Array.from(result.rows);
    } catch (error) {
      throw await this.#recover(error);
    }
  }

  async transaction(statements: readonly Statement[]): Promise<Row[][]> {
    try {
      const results = await this.#client.batch(
        statements.map(({ sql, args }) => ({ sql, args })),
        "write",
      );
      return Array.from(results, (result) => Array.from(result.rows));
    } catch (error) {
      throw await this.#recover(error);
    }
  }

  pragma(sql: string): Promise<Row[]> {
    return this.query({ sql, args: [], rows: true });
  }

  retryable(error: unknown): boolean {
    return isBusy(error) || closedInFlight(error);
  }

  /** Drops a local client's connections after lock contention. */
  async #recover(error: unknown): Promise<unknown> {
    if (
      this.#client.protocol === "file" &&
      typeof this.#client.reconnect === "function" && isBusy(error)
    ) {
      try {
        await this.#client.reconnect();
      } catch {
        // The retry reports whatever is still wrong.
      }
    }
    return error;
  }
}

/** libSQL's error for a pooled connection closed under a pending call. */
function closedInFlight(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "CLIENT_CLOSED" &&
    /in flight/.test(messageOf(error));
}

function messageOf(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === "string" ? message : "";
}

/** SQLite's primary result codes for a lock held by another connection. */
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;

/**
 * Tells whether an error is lock contention (`SQLITE_BUSY`,
 * `SQLITE_LOCKED`, their extended codes, "database is locked"), as
 * `node:sqlite` (`errcode`), `better-sqlite3` and `bun:sqlite` (`code`),
 * and libSQL (`code`, `rawCode`, or a `cause`) report it.
 *
 * @param error What a driver threw.
 * @returns Whether retrying may succeed.
 */
export function isBusy(error: unknown): boolean {
  for (let depth = 0; depth < 4; depth++) {
    if (error === null || typeof error !== "object") return false;
    const fields = error as Record<string, unknown>;
    for (const name of ["errcode", "rawCode", "errno", "extendedCode"]) {
      const code = fields[name];
      if (typeof code === "number") {
        const primary = code & 0xff;
        if (primary === SQLITE_BUSY || primary === SQLITE_LOCKED) return true;
      }
    }
    for (const name of ["code", "extendedCode"]) {
      const code = fields[name];
      if (
        typeof code === "string" &&
        /^SQLITE_(BUSY|LOCKED)(_|$)/.test(code)
      ) {
        return true;
      }
    }
    if (
      typeof fields.message === "string" &&
      /database (table )?is locked|SQLITE_BUSY/i.test(fields.message)
    ) {
      return true;
    }
    error = fields.cause;
  }
  return false;
}
