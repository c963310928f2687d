/**
 * How `SqliteSessionStore` runs its SQL: tables created on first use,
 * lock contention retried with jittered back-off for a bounded time, and
 * the occasional sweep of expired rows.
 *
 * @module
 */

import { StoreError } from "../errors.ts";
import type { Row, Statement } from "./_sqlite_driver.ts";
import type { ResolvedOptions } from "./_sqlite_options.ts";
import { SWEEP_BATCH } from "./_sqlite_sql.ts";

/** The expiry sweep runs at most this often, on the manager's clock. */
const SWEEP_INTERVAL_MS = 60_000;
/** Batches (of `SWEEP_BATCH` rows per table) one sweep deletes at most. */
const SWEEP_ROUNDS = 20;
/** The longest back-off between two attempts on a locked database. */
const MAX_BACKOFF_MS = 100;

/** Runs the store's statements on its connection. */
export class SqliteRunner {
  readonly #options: ResolvedOptions;
  #ready: Promise<void> | undefined;
  #nextSweep = Number.NEGATIVE_INFINITY;

  /** @param options The validated options. */
  constructor(options: ResolvedOptions) {
    this.#options = options;
  }

  /** Runs one statement, retrying lock contention. */
  query(operation: string, statement: Statement): Promise<Row[]> {
    return this.#retry(operation, () => this.#options.driver.query(statement));
  }

  /** Runs statements in one transaction, retrying lock contention. */
  transaction(
    operation: string,
    statements: readonly Statement[],
  ): Promise<Row[][]> {
    return this.#retry(
      operation,
      () => this.#options.driver.transaction(statements),
    );
  }

  /**
   * Runs `attempt` once the tables exist, retrying lock contention with
   * jittered back-off for up to `maxBusyWait`; other errors reject at once.
   */
  async #retry<T>(operation: string, attempt: () => Promise<T>): Promise<T> {
    const start = performance.now();
    for (let attempts = 1;; attempts++) {
      try {
        this.#ready ??= this.#open().catch((error) => {
          this.#ready = undefined;
          throw error;
        });
        await this.#ready;
        return await attempt();
      } catch (error) {
        if (!this.#options.driver.retryable(error)) throw error;
        const elapsed = performance.now() - start;
        if (elapsed >= this.#options.maxBusyWait) {
          throw new StoreError(
            `SqliteSessionStore gave up on ${operation}: the database stayed locked by another connection for ${
              Math.round(elapsed)
            } ms over ${attempts} attempts; look for a long transaction, or raise maxBusyWait`,
            { cause: error },
          );
        }
        const backoff = Math.min(MAX_BACKOFF_MS, 2 ** Math.min(attempts, 10));
        await new Promise((resolve) =>
          setTimeout(
            resolve,
            Math.min(
              1 + Math.random() * backoff,
              this.#options.maxBusyWait - elapsed,
            ),
          )
        );
      }
    }
  }

  /** Sets the pragmas and creates the tables, idempotently. */
  async #open(): Promise<void> {
    if (this.#options.setPragmas) {
      if (this.#options.sync) {
        await this.#options.driver.pragma(
          `PRAGMA busy_timeout = ${this.#options.busyTimeout}`,
        );
      }
      await this.#options.driver.pragma("PRAGMA journal_mode = WAL");
    }
    await this.#options.driver.transaction(this.#options.sql.schema);
  }

  /**
   * Deletes expired rows at most once a minute of the manager's clock, in
   * batches; best effort (a failure waits for the next sweep).
   */
  async sweep(now: number): Promise<void> {
    if (!Number.isFinite(now) || now < this.#nextSweep) return;
    this.#nextSweep = now + SWEEP_INTERVAL_MS;
    try {
      for (let round = 0; round < SWEEP_ROUNDS; round++) {
        const results = await this.#options.driver.transaction(
          this.#options.sql.sweep(now),
        );
        if (results.every((rows) => rows.length < SWEEP_BATCH)) return;
      }
    } catch {
      // Busy or failing: expired rows are invisible anyway; try next time.
    }
  }
}
