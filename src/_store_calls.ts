/**
 * Deadlines for store calls: every call is bounded by `storeTimeout`, its
 * timer cleared as soon as it settles, and a settlement that arrives after
 * the deadline is swallowed (the store's late answer or rejection goes
 * nowhere, and no promise is left unhandled).
 *
 * Request-path calls share one timer per manager instead of one each (a
 * timer costs about 2 µs to arm and clear, a tenth of a local Redis round
 * trip): every call has the same deadline length, so deadlines arrive in
 * call order and a FIFO queue with one timer armed for its oldest pending
 * entry is exact. The timer is cleared when the queue has stayed empty for
 * a few microtask hops (so a caller awaiting one call before starting the
 * next reuses it), always before the task ends, so nothing is left pending
 * between requests; and a call that has already
 * settled a microtask after it started (an in-memory store) never enters
 * the queue.
 *
 * @module
 */

import { StoreError } from "./errors.ts";
import type { Logger } from "./logger.ts";

/** The outcome of a bounded store call; never rejects. */
export type StoreOutcome<R> =
  | { readonly ok: true; readonly value: R }
  | {
    readonly ok: false;
    readonly error: unknown;
    /** True when the deadline passed before the store answered. */
    readonly timedOut: boolean;
  };

/** The error a call that missed its deadline fails with. */
export class StoreTimeoutError extends Error {
  /**
   * @param operation The store method.
   * @param timeoutMs The deadline that passed.
   */
  constructor(operation: string, timeoutMs: number) {
    super(`Session store did not answer ${operation} within ${timeoutMs} ms`);
    this.name = "StoreTimeoutError";
  }
}

/**
 * Runs a store call with a deadline.
 *
 * @param operation The store method, for the error message.
 * @param call Starts the call.
 * @param timeoutMs The deadline in milliseconds.
 * @returns The value, or the error (a {@linkcode StoreTimeoutError} when
 * the deadline passed); never rejects.
 */
export function settleWithin<R>(
  operation: string,
  call: () => Promise<R>,
  timeoutMs: number,
): Promise<StoreOutcome<R>> {
  return new Promise((resolve) => {
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (outcome: StoreOutcome<R>): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      resolve(outcome);
    };
    let pending: Promise<R>;
    try {
      pending = Promise.resolve(call());
    } catch (error) {
      finish({ ok: false, error, timedOut: false });
      return;
    }
    pending.then(
      (value) => finish({ ok: true, value }),
      (error: unknown) => finish({ ok: false, error, timedOut: false }),
    );
    if (!settled) {
      timer = setTimeout(() => {
        timer = undefined;
        finish({
          ok: false,
          error: new StoreTimeoutError(operation, timeoutMs),
          timedOut: true,
        });
      }, timeoutMs);
    }
  });
}

/** Microtask hops an idle queue waits before clearing its timer. */
const IDLE_HOPS = 32;

/** A call waiting for its answer or its deadline. */
interface Pending {
  /** When it times out, in `performance.now()` milliseconds. */
  readonly deadline: number;
  /** Settles it as timed out; a no-op once it settled. */
  readonly expire: () => void;
  settled: boolean;
}

/**
 * Deadlines of equal length, in call order, behind one timer: see the
 * module documentation.
 */
class DeadlineQueue {
  readonly #timeoutMs: number;
  #queue: Pending[] = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #idleCheck = false;
  #idleHops = 0;

  /** @param timeoutMs The length of every deadline. */
  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Starts the deadline of a call.
   *
   * @param expire Settles the call as timed out.
   * @returns The entry to pass to {@linkcode done}.
   */
  add(expire: () => void): Pending {
    const entry: Pending = {
      deadline: performance.now() + this.#timeoutMs,
      expire,
      settled: false,
    };
    this.#queue.push(entry);
    if (this.#timer === undefined) this.#arm(this.#timeoutMs);
    return entry;
  }

  /**
   * Marks a call settled (its deadline no longer matters).
   *
   * @param entry The call's entry.
   */
  done(entry: Pending): void {
    entry.settled = true;
    this.#dropSettled();
    if (
      this.#head === this.#queue.length && this.#timer !== undefined &&
      !this.#idleCheck
    ) {
      this.#idleCheck = true;
      this.#idleHops = 0;
      queueMicrotask(this.#checkIdle);
    }
  }

  // Clearing the timer waits a few microtask hops: a caller that awaits
  // one call and starts the next in the same task (sequential requests)
  // keeps the armed timer instead of arming a new one each time. It is
  // still cleared before the task ends, so nothing stays pending.
  readonly #checkIdle = (): void => {
    if (this.#head < this.#queue.length) {
      this.#idleCheck = false;
      return;
    }
    if (++this.#idleHops < IDLE_HOPS) {
      queueMicrotask(this.#checkIdle);
      return;
    }
    this.#idleCheck = false;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  };

  #dropSettled(): void {
    const queue = this.#queue;
    while (this.#head < queue.length && queue[this.#head]!.settled) {
      this.#head++;
    }
    if (this.#head === queue.length) {
      queue.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #arm(delayMs: number): void {
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, delayMs));
  }

  #fire(): void {
    this.#timer = undefined;
    const now = performance.now();
    // Re-read the queue each time: an expiry settles a call, whose done()
    // may compact it.
    while (this.#head < this.#queue.length) {
      const entry = this.#queue[this.#head]!;
      if (!entry.settled && entry.deadline > now) break;
      this.#head++;
      if (!entry.settled) {
        entry.settled = true;
        entry.expire();
      }
    }
    this.#dropSettled();
    if (this.#head < this.#queue.length) {
      this.#arm(Math.ceil(this.#queue[this.#head]!.deadline - now));
    }
  }
}

/**
 * A short description of a store error for a log line: its message, or
 * its type when it is not an Error.
 *
 * @param error What the store rejected with.
 * @returns The description.
 */
export function describeStoreError(error: unknown): string {
  return error instanceof Error ? error.message : typeof error;
}

/**
 * Store calls with the manager's deadline, logging and error mapping.
 */
export class StoreCalls {
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  readonly #deadlines: DeadlineQueue;

  /**
   * @param timeoutMs The `storeTimeout` option.
   * @param logger The guarded logger.
   */
  constructor(timeoutMs: number, logger: Logger) {
    this.#timeoutMs = timeoutMs;
    this.#logger = logger;
    this.#deadlines = new DeadlineQueue(timeoutMs);
  }

  /** The deadline of every call, in milliseconds. */
  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  /**
   * A request-path call: never rejects; a failure or a missed deadline is
   * logged as a `warn` with type `STORE_UNAVAILABLE` and returned.
   *
   * @param operation The store method.
   * @param call Starts the call.
   * @returns The outcome.
   */
  request<R>(
    operation: string,
    call: () => Promise<R>,
  ): Promise<StoreOutcome<R>> {
    return new Promise((resolve) => {
      let entry: Pending | undefined;
      let settled = false;
      const finish = (outcome: StoreOutcome<R>): void => {
        if (settled) return;
        settled = true;
        if (entry !== undefined) this.#deadlines.done(entry);
        if (!outcome.ok) {
          this.#logger.warn("Session store unavailable; no session granted", {
            type: "STORE_UNAVAILABLE",
            operation,
            error: describeStoreError(outcome.error),
          });
        }
        resolve(outcome);
      };
      let pending: Promise<R>;
      try {
        pending = Promise.resolve(call());
      } catch (error) {
        finish({ ok: false, error, timedOut: false });
        return;
      }
      pending.then(
        (value) => finish({ ok: true, value }),
        (error: unknown) => finish({ ok: false, error, timedOut: false }),
      );
      // Armed a microtask later: a store that answers at once (memory, or
      // a cached reply) has settled by then and needs no deadline.
      queueMicrotask(() => {
        if (settled) return;
        entry = this.#deadlines.add(() =>
          finish({
            ok: false,
            error: new StoreTimeoutError(operation, this.#timeoutMs),
            timedOut: true,
          })
        );
      });
    });
  }

  /**
   * A management call: resolves to the value, or throws a `StoreError`
   * whose `cause` is the store's error (or the missed deadline).
   *
   * @param operation The store method.
   * @param call Starts the call.
   * @returns The value.
   * @throws {StoreError} When the store fails or misses the deadline.
   */
  async manage<R>(operation: string, call: () => Promise<R>): Promise<R> {
    const outcome = await settleWithin(operation, call, this.#timeoutMs);
    if (outcome.ok) return outcome.value;
    this.#logger.warn("Session store unavailable", {
      type: "STORE_UNAVAILABLE",
      operation,
      error: describeStoreError(outcome.error),
    });
    throw new StoreError(
      outcome.timedOut
        ? `Session store did not answer ${operation} within ${this.#timeoutMs} ms (storeTimeout)`
        : `Session store failed during ${operation}`,
      { cause: outcome.error },
    );
  }
}
