/**
 * A request-path store call that is its own state: one object per call,
 * settled by the store's answer or by the manager's shared deadline, with
 * no closures or outcome objects beyond the promise it answers with.
 * `StoreCalls.requestThen` is built on it, and the hottest call (a cached
 * cookie's record read) subclasses it directly.
 *
 * @module
 */

import type { DeadlineQueue, Pending } from "./_deadline_queue.ts";

/** What every request-path call of one manager shares. */
export interface CallSite {
  readonly deadlines: DeadlineQueue;
  /**
   * Logs a failed call or a missed deadline (a `warn` of type
   * `STORE_UNAVAILABLE`).
   */
  unavailable(operation: string, error: unknown, timedOut: boolean): void;
  /** The error a call that missed its deadline fails with. */
  timeoutError(operation: string): Error;
}

/**
 * A request-path call that is its own state: one object per call, with
 * no closures or outcome objects beyond the promise it answers with.
 * A subclass says what the store's value and its unavailability answer;
 * a failure or a missed deadline is logged as in
 * {@linkcode StoreCalls.request} before {@linkcode WatchedCall.onUnavailable}
 * runs. Start it with {@linkcode StoreCalls.watch}.
 */
export abstract class WatchedCall<R, U> implements Pending {
  deadline = 0;
  settled = false;
  #site: CallSite | undefined;
  #operation = "";
  #resolve: ((value: U | PromiseLike<U>) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;

  /**
   * The answer to the store's value.
   *
   * @param value What the store resolved to.
   * @returns The call's answer.
   */
  protected abstract onValue(value: R): U | PromiseLike<U>;

  /**
   * The answer when the store failed or missed the deadline (already
   * logged).
   *
   * @param error What the store failed with, or the timeout error.
   * @param timedOut Whether the deadline passed first.
   * @returns The call's answer.
   */
  protected abstract onUnavailable(
    error: unknown,
    timedOut: boolean,
  ): U | PromiseLike<U>;

  /**
   * Logs a failure found while reading the store's value (an unreadable
   * reply), as a store failure is logged; the caller then answers with
   * {@linkcode onUnavailable}.
   *
   * @param error What was thrown.
   */
  protected storeFailed(error: unknown): void {
    (this.#site as CallSite).unavailable(this.#operation, error, false);
  }

  /**
   * Waits for `pending` or the deadline; see {@linkcode StoreCalls.watch}.
   *
   * @param site The manager's deadline queue and logger.
   * @param operation The store method, for log lines.
   * @param pending The store's answer.
   * @returns The answer; rejects only when a subclass method throws.
   */
  start(site: CallSite, operation: string, pending: Promise<R>): Promise<U> {
    this.#site = site;
    this.#operation = operation;
    return new Promise<U>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      pending.then(
        (value) => {
          if (site.deadlines.settle(this)) this.#answer(true, value, false);
        },
        (error: unknown) => {
          if (site.deadlines.settle(this)) {
            site.unavailable(operation, error, false);
            this.#answer(false, error, false);
          }
        },
      );
      site.deadlines.add(this);
    });
  }

  /** Called by the deadline queue when the deadline passed. */
  expire(): void {
    const site = this.#site as CallSite;
    const error = site.timeoutError(this.#operation);
    site.unavailable(this.#operation, error, true);
    this.#answer(false, error, true);
  }

  /** Answers with the store's value (`ok`) or its failure. */
  #answer(ok: boolean, value: unknown, timedOut: boolean): void {
    try {
      (this.#resolve as (value: U | PromiseLike<U>) => void)(
        ok ? this.onValue(value as R) : this.onUnavailable(value, timedOut),
      );
    } catch (error) {
      (this.#reject as (error: unknown) => void)(error);
    }
  }
}
