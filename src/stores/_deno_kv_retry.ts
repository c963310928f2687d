/**
 * The retry loop of the Deno KV store: lost optimistic-concurrency races
 * and SQLite lock contention ("database is locked") are both retried, each
 * bounded, with jittered back-off.
 *
 * @module
 */

import { StoreError } from "../errors.ts";

/** What one round of a read-check-commit loop achieved. */
export type Attempt = "done" | "conflict" | "progress";

/** How many failed rounds in a row an operation tolerates. */
export interface RetryLimits {
  /** Lost races (`commit()` answered `ok: false`) before giving up. */
  readonly maxAttempts: number;
  /** Rounds that met a locked database before giving up (0: none). */
  readonly lockRetries: number;
}

/** The longest pause between two rounds that met a locked database. */
export const MAX_LOCK_DELAY_MS = 100;

/**
 * Tells whether a Deno KV error is SQLite lock contention: another handle
 * or process holds the file's write lock (`SQLITE_BUSY`, `SQLITE_LOCKED`).
 * Nothing was written when a call fails this way, so the round can run
 * again.
 *
 * @param error What a Deno KV call rejected with.
 * @returns Whether it is lock contention.
 */
export function isLockError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return /database (?:table )?is locked|SQLITE_BUSY|SQLITE_LOCKED/i.test(
    error.message,
  );
}

/**
 * The pause before the next round after `failures` rounds in a row met a
 * locked database: "full jitter", uniformly random below
 * `min(100, 2 * 2^failures)` milliseconds, so handles that collided spread
 * out instead of colliding again.
 *
 * @param failures Rounds that met a lock so far (at least 1).
 * @returns Milliseconds to wait.
 */
export function lockDelay(failures: number): number {
  return Math.random() *
    Math.min(MAX_LOCK_DELAY_MS, 2 * 2 ** Math.min(failures, 10));
}

/**
 * Runs `attempt` until it reports "done". A "conflict" (a lost
 * optimistic-concurrency race) runs again at once for the first two, then
 * after a jittered pause below `min(50, 2^n)` ms, at most `maxAttempts` in
 * a row; a round that throws lock contention runs again after
 * {@linkcode lockDelay}, at most `lockRetries` times in a row; "progress"
 * (one batch of a larger job committed) goes straight on and resets both
 * counts. Any other error rejects at once.
 *
 * @param operation The store method, for the error message.
 * @param limits The bounds.
 * @param attempt One read-check-commit round.
 * @param firstError What the caller's own first round threw, when it ran
 * one outside the loop (a hot read): treated as that round's failure.
 * @throws {StoreError} When a bound is reached; a lock's error is the cause.
 */
export async function retry(
  operation: string,
  limits: RetryLimits,
  attempt: () => Promise<Attempt>,
  firstError?: unknown,
): Promise<void> {
  let conflicts = 0;
  let locked = 0;
  const meetLock = async (error: unknown): Promise<void> => {
    if (!isLockError(error)) throw error;
    locked++;
    if (locked > limits.lockRetries) {
      throw new StoreError(
        `DenoKvSessionStore gave up on ${operation}: the database was locked by another handle or process ${locked} times in a row; raise lockRetries, or open the file from fewer handles`,
        { cause: error },
      );
    }
    await sleep(lockDelay(locked));
  };
  if (firstError !== undefined) await meetLock(firstError);
  for (;;) {
    let outcome: Attempt;
    try {
      outcome = await attempt();
    } catch (error) {
      await meetLock(error);
      continue;
    }
    if (outcome === "done") return;
    if (outcome === "progress") {
      conflicts = 0;
      locked = 0;
      continue;
    }
    conflicts++;
    if (conflicts >= limits.maxAttempts) {
      throw new StoreError(
        `DenoKvSessionStore gave up on ${operation} after ${conflicts} conflicting attempts in a row; raise maxAttempts if writes to one user are this contended`,
      );
    }
    if (conflicts > 2) {
      await sleep(Math.random() * Math.min(50, 2 ** conflicts));
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
