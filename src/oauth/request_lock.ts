/**
 * `requestLock(name, fn)` over a {@linkcode KeyValueStore}'s leases: the
 * cross-process lock AT Protocol OAuth clients take around every token
 * refresh, because a refresh token is single-use and two processes
 * refreshing one session at once make the PDS revoke it.
 *
 * @module
 */

import { StoreError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { KeyValueStore } from "../store.ts";
import { storageKey } from "./_keys.ts";
import type { RequestLock } from "./types.ts";

/**
 * Thrown by `requestLock` when the lease is held by another process for
 * longer than `lockWait`, or the store cannot be reached to take it; `fn`
 * did not run. OAuth clients turn it into a failed `restore()`, which
 * `getOAuthSession` reports as `OAUTH_UNAVAILABLE`.
 *
 * @example
 * ```ts
 * import { RequestLockError, StoreError } from "@tijs/atproto-sessions";
 * import assert from "node:assert/strict";
 *
 * const error = new RequestLockError("Could not take the lock");
 * assert.ok(error instanceof StoreError);
 * assert.equal(error.name, "RequestLockError");
 * ```
 */
export class RequestLockError extends StoreError {
  /**
   * Creates a lock error.
   *
   * @param message What could not be acquired, and for how long it waited.
   * @param options Standard error options; the store's error as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** What {@linkcode createRequestLock} needs. */
export interface RequestLockContext {
  /** The store holding the leases. */
  readonly store: KeyValueStore;
  /** The lease length, in milliseconds. */
  readonly leaseMs: number;
  /** The longest wait for a held lease, in milliseconds. */
  readonly waitMs: number;
  /** The bound on each store call, in milliseconds. */
  readonly storeTimeoutMs: number;
  /** The manager's clock (lease times). */
  now(): number;
  /** A fresh unique lease owner. */
  generateId(): string;
  /** Bounds a promise (see `OAuthHost.withDeadline`). */
  withDeadline<R>(promise: Promise<R>, ms: number): Promise<R>;
  /** Where lost leases and failed releases are reported. */
  readonly logger: Logger;
}

/** The first pause between attempts; doubles up to the cap. */
const FIRST_BACKOFF_MS = 10;
const MAX_BACKOFF_MS = 200;

/**
 * Creates a `requestLock` that takes the lease atomically in the store
 * (`acquireLock`), renews it every third of the lease while `fn` runs
 * (so a slow refresh keeps it, and a crashed holder's lease runs out),
 * waits for a held lease with jittered exponential backoff for at most
 * `waitMs`, **throws** {@linkcode RequestLockError} rather than running `fn`
 * unlocked, and releases the lease in `finally`.
 *
 * @param context The store, the timings and the manager's clock.
 * @returns The lock function.
 *
 * @example Two callers of one lock run one after the other
 * ```ts
 * import { createRequestLock } from "./request_lock.ts";
 * import { MemorySessionStore } from "../stores/memory.ts";
 * import { noopLogger } from "../logger.ts";
 * import assert from "node:assert/strict";
 *
 * const requestLock = createRequestLock({
 *   store: new MemorySessionStore(),
 *   leaseMs: 10_000,
 *   waitMs: 15_000,
 *   storeTimeoutMs: 5_000,
 *   now: Date.now,
 *   generateId: () => crypto.randomUUID(),
 *   withDeadline: (promise) => promise,
 *   logger: noopLogger,
 * });
 * const order: string[] = [];
 * const work = (name: string) => async () => {
 *   order.push(`${name} in`);
 *   await new Promise((resolve) => setTimeout(resolve, 5));
 *   order.push(`${name} out`);
 * };
 * await Promise.all([requestLock("l", work("a")), requestLock("l", work("b"))]);
 * assert.deepEqual(order, ["a in", "a out", "b in", "b out"]);
 * ```
 */
export function createRequestLock(context: RequestLockContext): RequestLock {
  const { store, leaseMs, waitMs, storeTimeoutMs, logger } = context;
  const bounded = <R>(promise: Promise<R>): Promise<R> =>
    context.withDeadline(promise, storeTimeoutMs);

  return async <R>(name: string, fn: () => R | PromiseLike<R>): Promise<R> => {
    const key = await storageKey("lock", name);
    const owner = context.generateId();
    // Waiting is measured on a monotonic clock, not the injectable manager
    // clock: a frozen test clock must not make the wait endless.
    const started = performance.now();
    let backoff = FIRST_BACKOFF_MS;
    for (;;) {
      let acquired: boolean;
      try {
        acquired = await bounded(
          store.acquireLock(key, owner, leaseMs, context.now()),
        );
      } catch (error) {
        throw new RequestLockError(
          "Could not take the OAuth request lock: the session store failed or did not answer",
          { cause: error },
        );
      }
      if (acquired) break;
      const waited = performance.now() - started;
      if (waited >= waitMs) {
        throw new RequestLockError(
          `Could not take the OAuth request lock within ${waitMs} ms: another process holds it (raise lockWait if refreshes are this slow)`,
        );
      }
      const pause = Math.min(backoff, waitMs - waited) *
        (0.5 + Math.random() / 2);
      await new Promise((resolve) => setTimeout(resolve, pause));
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }

    let renewal: Promise<unknown> = Promise.resolve();
    const timer = setInterval(() => {
      renewal = bounded(store.renewLock(key, owner, leaseMs, context.now()))
        .then((held) => {
          if (!held) {
            logger.warn("OAuth request lock lease lost while held", {
              lock: "requestLock",
            });
          }
        }, () => {
          logger.warn("OAuth request lock lease could not be renewed", {
            lock: "requestLock",
          });
        });
    }, Math.max(1, Math.floor(leaseMs / 3)));
    try {
      return await fn();
    } finally {
      clearInterval(timer);
      await renewal;
      try {
        await bounded(store.releaseLock(key, owner));
      } catch {
        // The lease runs out on its own.
        logger.warn("OAuth request lock could not be released", {
          lock: "requestLock",
        });
      }
    }
  };
}
