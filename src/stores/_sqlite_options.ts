/**
 * The options of `SqliteSessionStore`, their defaults and their
 * validation.
 *
 * @module
 */

import {
  type Driver,
  type LibsqlClient,
  LibsqlDriver,
  SyncDriver,
} from "./_sqlite_driver.ts";
import type { SqliteDatabase } from "./_sqlite_driver.ts";
import { SqliteSql } from "./_sqlite_sql.ts";

/**
 * Options for `new SqliteSessionStore(options)`: exactly one of `database`
 * (a synchronous handle) or `client` (libSQL), and tuning.
 *
 * @example
 * ```ts
 * import type { SqliteSessionStoreOptions } from "@tijs/atproto-sessions/stores/sqlite";
 * import { DatabaseSync } from "node:sqlite";
 *
 * const options: SqliteSessionStoreOptions = {
 *   database: new DatabaseSync(":memory:"),
 *   tablePrefix: "myapp_sessions_",
 * };
 * ```
 */
export interface SqliteSessionStoreOptions {
  /**
   * A synchronous handle: `new DatabaseSync(path)` (`node:sqlite`, Node 22+
   * and Deno), `new Database(path)` (`better-sqlite3`, or `bun:sqlite`).
   * Best its own connection: the store sets its `busy_timeout`.
   */
  database?: SqliteDatabase | undefined;
  /**
   * libSQL's client, `createClient({ url, timeout })` from
   * `@libsql/client`. For a local `file:` database pass `timeout` (its busy
   * timeout, in milliseconds; libSQL's default is not to wait).
   */
  client?: LibsqlClient | undefined;
  /**
   * Prepended to the store's table names (`<prefix>sessions`,
   * `<prefix>revoked_tokens`, `<prefix>values`, `<prefix>locks`), so the
   * tables can share a database with the app's own. Letters, digits and
   * underscores, not starting with a digit.
   * @default {"atproto_sessions_"}
   */
  tablePrefix?: string;
  /**
   * Whether the store sets `PRAGMA journal_mode = WAL` (kept in the file)
   * and, on a synchronous handle, `PRAGMA busy_timeout` (kept by the
   * connection) when first used. Turn off when the operator manages them,
   * or for a remote libSQL server that refuses them.
   * @default {true}
   */
  setPragmas?: boolean;
  /**
   * How long SQLite itself waits for another connection's lock, per
   * attempt, in milliseconds (`PRAGMA busy_timeout`, synchronous handles
   * only). A synchronous handle blocks its thread while it waits, so this
   * is short; the store then retries without blocking (`maxBusyWait`).
   * @default {50}
   */
  busyTimeout?: number;
  /**
   * How long, in milliseconds, an operation that found the database locked
   * (`SQLITE_BUSY`, "database is locked") keeps retrying, with jittered
   * back-off, before it rejects with a `StoreError`.
   * @default {2000}
   */
  maxBusyWait?: number;
}

/** The defaults of {@linkcode SqliteSessionStoreOptions}. */
const DEFAULTS: Readonly<{
  tablePrefix: string;
  setPragmas: boolean;
  busyTimeout: number;
  maxBusyWait: number;
}> = Object.freeze({
  tablePrefix: "atproto_sessions_",
  setPragmas: true,
  busyTimeout: 50,
  maxBusyWait: 2000,
});

/** The options once validated: a driver, the SQL and the timings. */
export interface ResolvedOptions {
  readonly driver: Driver;
  readonly sql: SqliteSql;
  /** Whether `driver` is over a synchronous handle. */
  readonly sync: boolean;
  readonly setPragmas: boolean;
  readonly busyTimeout: number;
  readonly maxBusyWait: number;
}

/**
 * Validates the options and picks the driver.
 *
 * @param options What the caller passed.
 * @returns The resolved options.
 * @throws {TypeError} When neither or both connections are given, one has
 * the wrong shape, or `tablePrefix` is not an identifier.
 * @throws {RangeError} When a timing is not a non-negative integer.
 */
export function resolveOptions(
  options: SqliteSessionStoreOptions,
): ResolvedOptions {
  const { database, client } = options ?? {};
  if ((database === undefined) === (client === undefined)) {
    throw new TypeError(
      `Cannot create SqliteSessionStore: pass exactly one of database (node:sqlite, better-sqlite3, bun:sqlite) or client (@libsql/client): received ${
        database === undefined && client === undefined ? "neither" : "both"
      }`,
    );
  }
  let driver: Driver;
  if (database !== undefined) {
    if (!hasMethods(database, ["prepare", "exec"])) {
      throw new TypeError(
        `Cannot create SqliteSessionStore: database must be a synchronous handle with prepare() and exec(), such as new DatabaseSync(path) from node:sqlite: received ${
          describe(database)
        }`,
      );
    }
    driver = new SyncDriver(database);
  } else {
    if (!hasMethods(client, ["execute", "batch"])) {
      throw new TypeError(
        `Cannot create SqliteSessionStore: client must be a libSQL client with execute() and batch(), such as createClient({ url }) from @libsql/client: received ${
          describe(client)
        }`,
      );
    }
    driver = new LibsqlDriver(client as LibsqlClient);
  }
  const prefix = options.tablePrefix ?? DEFAULTS.tablePrefix;
  if (
    typeof prefix !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(prefix)
  ) {
    throw new TypeError(
      `Cannot create SqliteSessionStore: tablePrefix must be letters, digits and underscores, not starting with a digit, such as "myapp_": received ${
        typeof prefix === "string" ? JSON.stringify(prefix) : typeof prefix
      }`,
    );
  }
  return {
    driver,
    sql: new SqliteSql(prefix),
    sync: database !== undefined,
    setPragmas: options.setPragmas ?? DEFAULTS.setPragmas,
    busyTimeout: milliseconds(
      "busyTimeout",
      options.busyTimeout ?? DEFAULTS.busyTimeout,
    ),
    maxBusyWait: milliseconds(
      "maxBusyWait",
      options.maxBusyWait ?? DEFAULTS.maxBusyWait,
    ),
  };
}

function hasMethods(value: unknown, names: readonly string[]): boolean {
  return typeof value === "object" && value !== null &&
    names.every((name) =>
      typeof (value as Record<string, unknown>)[name] === "function"
    );
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  const name = (value as { constructor?: { name?: unknown } }).constructor
    ?.name;
  return typeof name === "string" ? `an object (${name})` : "an object";
}

function milliseconds(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `Cannot create SqliteSessionStore: ${name} must be a non-negative integer number of milliseconds: received ${
        String(value)
      }`,
    );
  }
  return value;
}
