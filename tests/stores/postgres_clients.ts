/**
 * The two PostgreSQL clients the store is tested with, connected to a
 * server from `tests/_postgres_server.ts`: an `npm:pg` Pool as it is, and
 * `npm:postgres` through the one-line wrapper the docs show.
 *
 * @module
 */

import pg from "npm:pg@8";
import postgres from "npm:postgres@3";
import type { PostgresClient } from "../../src/stores/postgres.ts";

/** A connected client and how to close it. */
export interface TestClient {
  /** What the store receives. */
  readonly client: PostgresClient;
  /** Ends the pool (waits for its queries). */
  end(): Promise<void>;
}

/** Pool settings that make a stopped server fail calls fast, not hang. */
export interface ClientTimeouts {
  /** Give up connecting after this long. */
  connectMs?: number;
  /** Give up on a statement after this long (client and server side). */
  statementMs?: number;
}

/**
 * An `npm:pg` Pool, passed to the store as it is.
 *
 * @param url The server's URL.
 * @param timeouts Fail-fast settings.
 * @returns The client.
 */
export function pgPool(url: string, timeouts: ClientTimeouts = {}): TestClient {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: timeouts.connectMs ?? 5_000,
    ...(timeouts.statementMs === undefined ? {} : {
      query_timeout: timeouts.statementMs,
      statement_timeout: timeouts.statementMs,
    }),
  });
  // An idle connection the server ends (a restart) must not crash the test.
  pool.on("error", () => {});
  return { client: pool, end: () => pool.end() };
}

/**
 * `npm:postgres` through the documented wrapper.
 *
 * @param url The server's URL.
 * @returns The client.
 */
export function postgresJs(url: string): TestClient {
  const sql = postgres(url, { max: 10, onnotice: () => {} });
  return {
    // The wrapper from the docs, verbatim.
    client: {
      query: async (text, values) => ({
        rows: await sql.unsafe(text, values as never[]),
      }),
    },
    end: () => sql.end({ timeout: 5 }),
  };
}
