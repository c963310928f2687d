/**
 * Deadlines for store calls: every call is bounded by `storeTimeout`, its
 * timer cleared as soon as it settles, and a settlement that arrives after
 * the deadline is swallowed (the store's late answer or rejection goes
 * nowhere, and no promise is left unhandled).
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

  /**
   * @param timeoutMs The `storeTimeout` option.
   * @param logger The guarded logger.
   */
  constructor(timeoutMs: number, logger: Logger) {
    this.#timeoutMs = timeoutMs;
    this.#logger = logger;
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
  async request<R>(
    operation: string,
    call: () => Promise<R>,
  ): Promise<StoreOutcome<R>> {
    const outcome = await settleWithin(operation, call, this.#timeoutMs);
    if (!outcome.ok) {
      this.#logger.warn("Session store unavailable; no session granted", {
        type: "STORE_UNAVAILABLE",
        operation,
        error: describeStoreError(outcome.error),
      });
    }
    return outcome;
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
