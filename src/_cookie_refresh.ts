/**
 * The sliding refresh of a cookie session: re-sealing it with a new
 * expiry and, with a store, writing the record in the same single round
 * trip (`updateSession`, whose answer is also the revocation check).
 *
 * Concurrent refreshes of one seal share one re-seal and one write, and a
 * seal refreshed less than `refreshAfter` ago is answered with the fresh
 * seal (see `_refresh_memo.ts`); those requests read the record
 * themselves, so revocation stays exact.
 *
 * When the write fails (a Redis replica or MISCONF refusing writes) but did
 * not time out, the record is read instead: if it is live, the session is
 * served with its unchanged seal and a `warn` is logged.
 *
 * @module
 */

import type { Candidate, CookieAnswers } from "./_cookie_answers.ts";
import type { ManagerContext } from "./_context.ts";
import {
  type Refreshed,
  RefreshMemo,
  type SharedRefresh,
} from "./_refresh_memo.ts";
import type { StoreOutcome } from "./_store_calls.ts";
import type { VerifiedSeal } from "./_verifier.ts";
import type { SessionRecord, SessionStore } from "./store.ts";
import type { SessionData } from "./types.ts";

/** Refreshes cookie sessions, one refresh per seal at a time. */
export class CookieRefresh<T extends object> {
  readonly #context: ManagerContext;
  readonly #answers: CookieAnswers<T>;
  readonly #memo: RefreshMemo;

  /**
   * @param context The manager's internals.
   * @param answers The cookie path's answers.
   */
  constructor(context: ManagerContext, answers: CookieAnswers<T>) {
    this.#context = context;
    this.#answers = answers;
    // Half the cache's size: each entry keeps two seals alive (the one
    // refreshed and the fresh one) when the cache has dropped them.
    this.#memo = new RefreshMemo(
      Math.ceil(context.options.cacheSize / 2),
      context.options.refreshAfterMs,
    );
  }

  /**
   * Refreshes a session due for it: joined, answered from the memo, or
   * led. Never rejects.
   *
   * @param value The seal as sent.
   * @param seal What the verifier knows of it.
   * @param data A copy of its data (the leader's result holds it).
   * @param expiresAt The expiry of the fresh seal.
   * @param now The current time.
   * @param store The store, if any.
   * @returns The candidate.
   */
  async refresh(
    value: string,
    seal: VerifiedSeal,
    data: SessionData,
    expiresAt: number,
    now: number,
    store: SessionStore | undefined,
  ): Promise<Candidate<T>> {
    try {
      return await this.#refresh(value, seal, data, expiresAt, now, store);
    } catch (error) {
      return this.#answers.unexpected(error);
    }
  }

  async #refresh(
    value: string,
    seal: VerifiedSeal,
    data: SessionData,
    expiresAt: number,
    now: number,
    store: SessionStore | undefined,
  ): Promise<Candidate<T>> {
    const memo = this.#memo;
    const known = memo.find(value, now);
    if (known === undefined) {
      let leader: Candidate<T> | undefined;
      const shared = await memo.lead(value, async () => {
        const led = await this.#lead(value, seal, data, expiresAt, now, store);
        leader = led.candidate;
        return led.shared;
      });
      return leader ?? this.#fromShared(shared, value, seal, data, now);
    }
    // Another request refreshes (or just refreshed) this seal: with a
    // store, check this request's own view of the record meanwhile.
    const own = store === undefined || seal.sessionId === undefined
      ? undefined
      : this.#readRecord(store, seal.sessionId, now);
    const shared = known.type === "pending"
      ? await known.shared
      : { type: "fresh", refreshed: known.refreshed } as const;
    if (own !== undefined) {
      const read = await own;
      if (!read.ok) return this.#answers.unavailable();
      const gone = this.#answers.checkRecord(read.value, data.did, seal, now);
      if (gone !== undefined) {
        memo.forget(value);
        return gone;
      }
    }
    return this.#fromShared(shared, value, seal, data, now);
  }

  /** What a request that joined a refresh answers. */
  #fromShared(
    shared: SharedRefresh,
    value: string,
    seal: VerifiedSeal,
    data: SessionData,
    now: number,
  ): Candidate<T> {
    const answers = this.#answers;
    switch (shared.type) {
      case "fresh":
        return answers.fresh(shared.refreshed, now);
      case "gone":
        return shared.error === "SESSION_EXPIRED"
          ? answers.fail("SESSION_EXPIRED", "Session expired")
          : answers.fail("SESSION_REVOKED", "Session was revoked");
      default:
        return answers.unchanged(value, seal, data, now);
    }
  }

  /** The refresh itself: at most one write and one re-seal. */
  async #lead(
    value: string,
    seal: VerifiedSeal,
    data: SessionData,
    expiresAt: number,
    now: number,
    store: SessionStore | undefined,
  ): Promise<{ candidate: Candidate<T>; shared: SharedRefresh }> {
    const context = this.#context;
    const answers = this.#answers;
    data.lastAccessed = now;
    if (store === undefined) {
      const refreshed = await this.#reseal(data, expiresAt, now);
      return {
        candidate: answers.fresh(refreshed, now, data),
        shared: { type: "fresh", refreshed },
      };
    }
    const id = seal.sessionId as string;
    // Within clockSkew grace the record counts as live, like the seal.
    const asOf = now - context.options.clockSkewMs;
    const written = await context.requestStoreCall(
      "updateSession",
      () => store.updateSession(id, { lastAccessed: now, expiresAt }, asOf),
    );
    if (written.ok) {
      const gone = answers.checkRecord(written.value, data.did, seal, now);
      if (gone !== undefined) {
        return {
          candidate: gone,
          shared: {
            type: "gone",
            error: gone.result.error!.type === "SESSION_EXPIRED"
              ? "SESSION_EXPIRED"
              : "SESSION_REVOKED",
          },
        };
      }
      const refreshed = await this.#reseal(data, expiresAt, now);
      return {
        candidate: answers.fresh(refreshed, now, data),
        shared: { type: "fresh", refreshed },
      };
    }
    const unwritten = { type: "unwritten" } as const;
    if (written.timedOut) {
      return { candidate: answers.unavailable(), shared: unwritten };
    }
    const read = await this.#readRecord(store, id, now);
    if (!read.ok) {
      return { candidate: answers.unavailable(), shared: unwritten };
    }
    const gone = answers.checkRecord(read.value, data.did, seal, now);
    if (gone !== undefined) return { candidate: gone, shared: unwritten };
    context.logger.warn(
      "Session refresh could not be written; serving the unchanged seal",
      { type: "STORE_UNAVAILABLE", operation: "updateSession" },
    );
    data.lastAccessed = seal.lastAccessed;
    return {
      candidate: answers.unchanged(value, seal, data, now),
      shared: unwritten,
    };
  }

  async #reseal(
    data: SessionData,
    expiresAt: number,
    now: number,
  ): Promise<Refreshed> {
    const { value, seal } = await this.#context.sealer.sealVerified(
      data,
      "cookie",
      expiresAt,
      now,
    );
    return { value, seal, expiresAt, at: now };
  }

  #readRecord(
    store: SessionStore,
    id: string,
    now: number,
  ): Promise<StoreOutcome<SessionRecord | null>> {
    // Within clockSkew grace the record counts as live, like the seal.
    const asOf = now - this.#context.options.clockSkewMs;
    return this.#context.requestStoreCall(
      "getSession",
      () => store.getSession(id, asOf),
    );
  }
}
