/**
 * Single-flight sliding refresh: concurrent refresh-due requests carrying
 * one seal share one re-seal and one store write, and a request that still
 * carries a seal refreshed moments ago (in-flight requests, other tabs) is
 * answered with the fresh seal instead of refreshing again.
 *
 * The memo holds cryptography only, never the store's answer: every
 * request that joins a refresh or is answered from the memo still reads
 * the session record itself (the one round trip of the hot path), so a
 * revocation is seen exactly, and a revoked session never receives the
 * fresh seal. Entries answer for `refreshAfter` after their refresh, and
 * the memo is bounded like the verified-seal cache (half `cacheSize`
 * entries, as each keeps two seals; least recently used dropped);
 * refreshes in flight are bounded by the requests in flight.
 *
 * @module
 */

import { LruCache } from "./_lru_cache.ts";
import type { VerifiedSeal } from "./_verifier.ts";

/** A refresh that happened: the fresh seal and what it holds. */
export interface Refreshed {
  /** The fresh seal (as sent in Set-Cookie). */
  readonly value: string;
  /** What the verifier knows of it (its data is never handed out). */
  readonly seal: VerifiedSeal;
  /** Its expiry. */
  readonly expiresAt: number;
  /** When the refresh happened. */
  readonly at: number;
}

/** What a refresh's leader tells the requests that joined it. */
export type SharedRefresh =
  | { readonly type: "fresh"; readonly refreshed: Refreshed }
  /** The store no longer holds the session. */
  | {
    readonly type: "gone";
    readonly error: "SESSION_REVOKED" | "SESSION_EXPIRED";
  }
  /** Nothing was written (the store failed, or sealing did). */
  | { readonly type: "unwritten" };

/** What the memo knows of a seal. */
export type MemoAnswer =
  | { readonly type: "refreshed"; readonly refreshed: Refreshed }
  | { readonly type: "pending"; readonly shared: Promise<SharedRefresh> }
  | undefined;

/** Refreshes in flight and recently done, keyed by the refreshed seal. */
export class RefreshMemo {
  readonly #inFlight = new Map<string, Promise<SharedRefresh>>();
  readonly #done: LruCache<string, Refreshed>;
  readonly #windowMs: number;

  /**
   * @param capacity The most refreshes remembered.
   * @param windowMs How long a refresh answers for (`refreshAfter`).
   */
  constructor(capacity: number, windowMs: number) {
    this.#done = new LruCache(capacity);
    this.#windowMs = windowMs;
  }

  /** How many refreshes are remembered or in flight. */
  get size(): number {
    return this.#done.size + this.#inFlight.size;
  }

  /**
   * What is known of a refresh-due seal at `now`.
   *
   * @param value The seal presented.
   * @param now The current time.
   * @returns A refresh in flight, a recent one that still answers (within
   * the window and before its fresh seal expires), or undefined.
   */
  find(value: string, now: number): MemoAnswer {
    const shared = this.#inFlight.get(value);
    if (shared !== undefined) return { type: "pending", shared };
    const refreshed = this.#done.get(value);
    if (refreshed === undefined) return undefined;
    if (
      now - refreshed.at >= this.#windowMs || now < refreshed.at ||
      now >= refreshed.expiresAt
    ) {
      this.#done.delete(value);
      return undefined;
    }
    return { type: "refreshed", refreshed };
  }

  /**
   * Runs the refresh of `value`, letting later requests for the same seal
   * join it until it settles; a fresh outcome is then remembered.
   *
   * @param value The seal being refreshed.
   * @param run The refresh; must not reject.
   * @returns What `run` resolved to.
   */
  lead(
    value: string,
    run: () => Promise<SharedRefresh>,
  ): Promise<SharedRefresh> {
    const shared = run().then((outcome) => {
      this.#inFlight.delete(value);
      if (outcome.type === "fresh") this.#done.set(value, outcome.refreshed);
      return outcome;
    }, (error: unknown) => {
      this.#inFlight.delete(value);
      throw error;
    });
    this.#inFlight.set(value, shared);
    return shared;
  }

  /**
   * Forgets a seal's refresh (its session was found revoked or expired).
   *
   * @param value The refreshed seal.
   */
  forget(value: string): void {
    this.#done.delete(value);
  }
}
