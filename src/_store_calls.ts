/**
 * Deadlines for store calls: every call is bounded by `storeTimeout`, no
 * timer outlives the calls it bounds, and a settlement that arrives after
 * the deadline is swallowed (the store's late answer or rejection goes
 * nowhere, and no promise is left unhandled).
 *
 * Management calls ({@linkcode settleWithin}) arm a timer each and clear it
 * when they settle. Request-path calls share one timer per manager and pay
 * for no clock reading, timer or `queueMicrotask` of their own (see
 * `_deadline_queue.ts`, which says what each costs); and
 * {@linkcode StoreCalls.requestThen} hands the outcome to a continuation in
 * the very reaction that receives the store's answer, so the request path
 * adds no promise hop of its own.
 *
 * @module
 */

import { DeadlineQueue } from "./_deadline_queue.ts";
import { StoreError } from "./errors.ts";
import { type CallSite, WatchedCall } from "./_watched_call.ts";
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

/** One `requestThen` call: its outcome goes to `then`. */
class ThenCall<R, U> extends WatchedCall<R, U> {
  readonly #then: (outcome: StoreOutcome<R>) => U | PromiseLike<U>;

  constructor(then: (outcome: StoreOutcome<R>) => U | PromiseLike<U>) {
    super();
    this.#then = then;
  }

  protected onValue(value: R): U | PromiseLike<U> {
    return this.#then({ ok: true, value });
  }

  protected onUnavailable(
    error: unknown,
    timedOut: boolean,
  ): U | PromiseLike<U> {
    return this.#then({ ok: false, error, timedOut });
  }
}

function warnUnavailable(
  logger: Logger,
  operation: string,
  outcome: Extract<StoreOutcome<unknown>, { ok: false }>,
): void {
  logger.warn("Session store unavailable; no session granted", {
    type: "STORE_UNAVAILABLE",
    operation,
    error: describeStoreError(outcome.error),
  });
}

const identity = <R>(outcome: StoreOutcome<R>): StoreOutcome<R> => outcome;

/**
 * Store calls with the manager's deadline, logging and error mapping.
 */
export class StoreCalls {
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  readonly #site: CallSite;

  /**
   * @param timeoutMs The `storeTimeout` option.
   * @param logger The guarded logger.
   */
  constructor(timeoutMs: number, logger: Logger) {
    this.#timeoutMs = timeoutMs;
    this.#logger = logger;
    this.#site = {
      deadlines: new DeadlineQueue(timeoutMs),
      unavailable: (operation, error, timedOut) =>
        warnUnavailable(logger, operation, { ok: false, error, timedOut }),
      timeoutError: (operation) => new StoreTimeoutError(operation, timeoutMs),
    };
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
    return this.requestThen(operation, call, identity);
  }

  /**
   * A request-path call whose outcome goes straight to `then`, in the
   * reaction that receives the store's answer (or at the deadline): like
   * `request(operation, call).then(then)` without the extra hop. A failure
   * or a missed deadline is logged as in {@linkcode request}.
   *
   * @param operation The store method.
   * @param call Starts the call.
   * @param then Maps the outcome; the returned promise rejects only when
   * `then` throws.
   * @returns What `then` returned.
   */
  requestThen<R, U>(
    operation: string,
    call: () => Promise<R>,
    then: (outcome: StoreOutcome<R>) => U | PromiseLike<U>,
  ): Promise<U> {
    let pending: Promise<R>;
    try {
      pending = Promise.resolve(call());
    } catch (error) {
      const outcome = { ok: false, error, timedOut: false } as const;
      warnUnavailable(this.#logger, operation, outcome);
      try {
        return Promise.resolve(then(outcome));
      } catch (thrown) {
        return Promise.reject(thrown);
      }
    }
    return new ThenCall(then).start(this.#site, operation, pending);
  }

  /**
   * A request-path call as one object (see {@linkcode WatchedCall}): like
   * {@linkcode requestThen} on a promise already made, with no closures of
   * its own.
   *
   * @param operation The store method.
   * @param pending The store's answer.
   * @param call What answers it.
   * @returns The call's answer.
   */
  watch<R, U>(
    operation: string,
    pending: Promise<R>,
    call: WatchedCall<R, U>,
  ): Promise<U> {
    return call.start(this.#site, operation, pending);
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
