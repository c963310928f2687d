/**
 * A request-path store call that is its own state, for the hottest call
 * (a cached cookie's record read): one object per call, with no closures
 * or outcome objects beyond the promise it answers with.
 *
 * @module
 */

import type { Pending } from "./_deadline_queue.ts";
import {
  type CallSite,
  StoreTimeoutError,
  warnUnavailable,
} from "./_store_calls.ts";

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
   * The answer when the store failed or missed the deadline.
   *
   * @returns The call's answer.
   */
  protected abstract onUnavailable(): U | PromiseLike<U>;

  /**
   * Logs a failure found while reading the store's value (an unreadable
   * reply), as a store failure is logged; the caller then answers with
   * {@linkcode onUnavailable}.
   *
   * @param error What was thrown.
   */
  protected storeFailed(error: unknown): void {
    const site = this.#site as CallSite;
    warnUnavailable(site.logger, this.#operation, {
      ok: false,
      error,
      timedOut: false,
    });
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
          if (site.deadlines.settle(this)) this.#answer(true, value);
        },
        (error: unknown) => {
          if (site.deadlines.settle(this)) {
            this.storeFailed(error);
            this.#answer(false, undefined);
          }
        },
      );
      site.deadlines.add(this);
    });
  }

  /** Called by the deadline queue when the deadline passed. */
  expire(): void {
    const site = this.#site as CallSite;
    warnUnavailable(site.logger, this.#operation, {
      ok: false,
      error: new StoreTimeoutError(this.#operation, site.timeoutMs),
      timedOut: true,
    });
    this.#answer(false, undefined);
  }

  #answer(ok: boolean, value: R | undefined): void {
    try {
      (this.#resolve as (value: U | PromiseLike<U>) => void)(
        ok ? this.onValue(value as R) : this.onUnavailable(),
      );
    } catch (error) {
      (this.#reject as (error: unknown) => void)(error);
    }
  }
}
