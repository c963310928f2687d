/**
 * The client interface and options of `PostgresSessionStore`, and their
 * validation.
 *
 * @module
 */

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

/** What a store runs on, once its options are checked. */
export interface PostgresContext {
  /** The statements for the store's schema and prefix. */
  readonly sql: PostgresStatements;
  /** Runs them through the client (migration, clean-up). */
  readonly runner: PostgresRunner;
}

/**
 * Checks the options and builds the statements and the runner.
 *
 * @param options The options passed to the constructor.
 * @returns The statements and the runner.
 * @throws {TypeError} When `client` has no `query` method or an option
 * has the wrong type.
 * @throws {RangeError} When `schema` or `tablePrefix` is not a plain
 * lowercase identifier.
 */
export function resolveOptions(
  options: PostgresSessionStoreOptions,
): PostgresContext {
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
  const sql = postgresStatements(schema, prefix);
  const runner = new PostgresRunner(
    options.client,
    sql,
    options.autoMigrate ?? DEFAULTS.autoMigrate,
    options.cleanup ?? DEFAULTS.cleanup,
  );
  return { sql, runner };
}
