/**
 * How `PostgresSessionStore` runs its statements: the once-per-store
 * migration before the first one, the check of what the client returned,
 * and the clean-up piggybacked on writes.
 *
 * @module
 */

import { StoreError } from "../errors.ts";
import { toNumber, whole } from "./_postgres_rows.ts";
import { type PostgresStatements, SWEEP_BATCH } from "./_postgres_sql.ts";
import type { PostgresClient } from "./_postgres_options.ts";

/** How often, on the manager's clock, writes trigger a clean-up. */
const SWEEP_INTERVAL_MS = 60_000;
/**
 * How long after expiry the clean-up deletes a row: reads already treat it
 * as absent, and the margin keeps a server whose clock runs ahead from
 * deleting what a server behind it still counts as live.
 */
const SWEEP_MARGIN_MS = 5 * 60_000;

/** SQLSTATEs after which the tables are re-created on the next call. */
const MISSING_OBJECT = new Set(["42P01", "42883", "3F000"]);
/** SQLSTATEs a concurrent migration can raise; the migration is retried. */
const MIGRATION_RACE = new Set(["23505", "40P01", "XX000"]);

/** Runs one store's statements through its client. */
export class PostgresRunner {
  readonly #client: PostgresClient;
  readonly #sql: PostgresStatements;
  readonly #autoMigrate: boolean;
  readonly #cleanup: boolean;
  #ready: Promise<void> | null = null;
  #nextSweep = Number.NEGATIVE_INFINITY;
  #sweeping: Promise<void> | null = null;

  /**
   * @param client The client.
   * @param sql The statements for the store's schema and prefix.
   * @param autoMigrate Whether to migrate before the first statement.
   * @param cleanup Whether writes trigger the clean-up.
   */
  constructor(
    client: PostgresClient,
    sql: PostgresStatements,
    autoMigrate: boolean,
    cleanup: boolean,
  ) {
    this.#client = client;
    this.#sql = sql;
    this.#autoMigrate = autoMigrate;
    this.#cleanup = cleanup;
  }

  /** Runs the migration, retrying what a concurrent one can raise. */
  async migrate(): Promise<void> {
    for (let attempt = 1;; attempt++) {
      try {
        await this.#client.query(this.#sql.migrate, []);
        return;
      } catch (error) {
        if (attempt >= 3 || !MIGRATION_RACE.has(sqlState(error))) throw error;
      }
    }
  }

  /**
   * Runs one statement once the tables exist.
   *
   * @param text The statement.
   * @param values Its parameters.
   * @returns Its rows.
   */
  async query(
    text: string,
    values: unknown[],
  ): Promise<Record<string, unknown>[]> {
    if (this.#autoMigrate) {
      if (this.#ready === null) {
        const ready = this.migrate();
        this.#ready = ready;
        ready.catch(() => {
          if (this.#ready === ready) this.#ready = null;
        });
      }
      await this.#ready;
    }
    let result: { rows: Record<string, unknown>[] };
    try {
      result = await this.#client.query(text, values);
    } catch (error) {
      // The tables were dropped (or the database replaced): re-create them
      // on the next call.
      if (MISSING_OBJECT.has(sqlState(error))) this.#ready = null;
      throw error;
    }
    if (!Array.isArray(result?.rows)) {
      throw new StoreError(
        "PostgresSessionStore: client.query must resolve to an object with a rows array, as pg's Pool does; wrap other clients (see PostgresClient)",
      );
    }
    return result.rows;
  }

  /**
   * Deletes up to a batch of expired rows from each table.
   *
   * @param before The cut-off on the manager's clock.
   * @returns How many rows each table lost.
   */
  async deleteExpired(before: number): Promise<number[]> {
    const [row] = await this.query(this.#sql.deleteExpired, [
      whole("before", before),
      SWEEP_BATCH,
    ]);
    if (row === undefined) return [];
    return ["sessions", "revoked", "values", "locks"].map((table) =>
      toNumber(row[table], table)
    );
  }

  /**
   * Starts a clean-up in the background, at most once a minute of the
   * manager's clock and one at a time; again at the next write when a
   * batch was full. Its failure is ignored: the next interval tries again.
   *
   * @param now The manager's clock at a write.
   */
  maybeSweep(now: number): void {
    if (!this.#cleanup || this.#sweeping !== null || now < this.#nextSweep) {
      return;
    }
    this.#nextSweep = now + SWEEP_INTERVAL_MS;
    this.#sweeping = this.deleteExpired(now - SWEEP_MARGIN_MS).then(
      (counts) => {
        if (counts.some((n) => n >= SWEEP_BATCH)) this.#nextSweep = now;
      },
      () => {},
    ).finally(() => {
      this.#sweeping = null;
    });
  }
}

/** The SQLSTATE of a client error (pg and postgres.js call it `code`). */
function sqlState(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
}
