/**
 * The hot cookie path with a store: a cached, live seal not due for a
 * refresh, whose record is read on every request (the one round trip).
 *
 * One {@linkcode HotCookieRead} object is the whole state of a read, and
 * the answer is built in the reaction that receives the store's reply:
 * through the store's {@linkcode HotReader} when it has one (its raw
 * reply, decoded here; see `_hot_read.ts`), else through `getSession`.
 *
 * @module
 */

import type { Candidate, CookieAnswers } from "./_cookie_answers.ts";
import type { ManagerContext } from "./_context.ts";
import { type HotReader, hotReaderOf } from "./_hot_read.ts";
import type { StoreCalls } from "./_store_calls.ts";
import { copyData, type VerifiedSeal } from "./_verifier.ts";
import { WatchedCall } from "./_watched_call.ts";
import type { SessionRecord, SessionStore } from "./store.ts";
import type { SessionData, SessionResult } from "./types.ts";

/** What the hot path needs of the cookie path. */
export interface CookieServing<T extends object> {
  /** The Set-Cookie line serving `value` unchanged. */
  setCookie(value: string, seal: VerifiedSeal, now: number): string;
  /** The general path, with the first cookie already rejected. */
  readAll(
    header: string,
    now: number,
    first: Candidate<T>,
  ): Promise<SessionResult<T>>;
}

/** Reads the records of hot cookies, for one manager. */
export class HotCookiePath<T extends object> {
  readonly store: SessionStore;
  readonly answers: CookieAnswers<T>;
  readonly serving: CookieServing<T>;
  readonly #calls: StoreCalls;
  readonly #clockSkewMs: number;

  /**
   * @param context The manager's internals.
   * @param store The manager's store.
   * @param answers The cookie path's answers.
   * @param serving The cookie path's Set-Cookie line and general path.
   */
  constructor(
    context: ManagerContext,
    store: SessionStore,
    answers: CookieAnswers<T>,
    serving: CookieServing<T>,
  ) {
    this.store = store;
    this.answers = answers;
    this.serving = serving;
    this.#calls = context.storeCalls;
    this.#clockSkewMs = context.options.clockSkewMs;
  }

  /**
   * Reads the record of a cached, live seal and answers; never rejects.
   *
   * @param id The seal's session id.
   * @param value The cookie value as sent.
   * @param seal What the verifier knows of it.
   * @param header The whole Cookie header (for the general path).
   * @param now The request's clock reading.
   * @returns The session, or the general path's answer.
   */
  read(
    id: string,
    value: string,
    seal: VerifiedSeal,
    header: string,
    now: number,
  ): Promise<SessionResult<T>> {
    // Looked up per request: an app that patches getSession later is
    // read through its patch.
    const reader = hotReaderOf(this.store);
    let handle: unknown = id;
    let pending: Promise<unknown>;
    try {
      if (reader === undefined) {
        // Within clockSkew grace the record counts as live, like the seal.
        pending = Promise.resolve(
          this.store.getSession(id, now - this.#clockSkewMs),
        );
      } else {
        handle = reader.open(id);
        pending = reader.start(handle);
      }
    } catch (error) {
      pending = Promise.reject(error);
    }
    return this.#calls.watch(
      "getSession",
      pending,
      new HotCookieRead(this, reader, handle, value, seal, header, now),
    );
  }

  /**
   * The answer for the record read.
   *
   * @param record The live record, or null.
   * @param value The cookie value as sent.
   * @param seal What the verifier knows of it.
   * @param header The whole Cookie header.
   * @param now The request's clock reading.
   * @returns The session when the record stands behind the seal, else
   * the general path with this cookie rejected.
   */
  answer(
    record: SessionRecord | null,
    value: string,
    seal: VerifiedSeal,
    header: string,
    now: number,
  ): SessionResult<T> | Promise<SessionResult<T>> {
    let rejected: Candidate<T> | undefined;
    try {
      rejected = this.answers.checkRecord(record, seal.data.did, seal, now);
      if (rejected === undefined) {
        return {
          data: copyData(seal) as SessionData & T,
          setCookieHeader: this.serving.setCookie(value, seal, now),
          error: null,
        };
      }
    } catch (error) {
      rejected = this.answers.unexpected(error);
    }
    // Revoked (or a bug): another cookie of the name may still be valid.
    return this.serving.readAll(header, now, rejected);
  }

  /**
   * The time a record must be live at for a request at `now`.
   *
   * @param now The request's clock reading.
   * @returns `now` less the clockSkew grace.
   */
  asOf(now: number): number {
    return now - this.#clockSkewMs;
  }
}

/** One hot read of a cookie's session record. */
class HotCookieRead<T extends object>
  extends WatchedCall<unknown, SessionResult<T>> {
  readonly #path: HotCookiePath<T>;
  readonly #reader: HotReader | undefined;
  readonly #handle: unknown;
  readonly #value: string;
  readonly #seal: VerifiedSeal;
  readonly #header: string;
  readonly #now: number;

  constructor(
    path: HotCookiePath<T>,
    reader: HotReader | undefined,
    handle: unknown,
    value: string,
    seal: VerifiedSeal,
    header: string,
    now: number,
  ) {
    super();
    this.#path = path;
    this.#reader = reader;
    this.#handle = handle;
    this.#value = value;
    this.#seal = seal;
    this.#header = header;
    this.#now = now;
  }

  protected onValue(
    reply: unknown,
  ): SessionResult<T> | Promise<SessionResult<T>> {
    const path = this.#path;
    const reader = this.#reader;
    let record: SessionRecord | null;
    if (reader === undefined) {
      record = reply as SessionRecord | null;
    } else {
      try {
        record = reader.finish(this.#handle, reply, path.asOf(this.#now));
      } catch (error) {
        // An unreadable record: as getSession would have rejected.
        this.storeFailed(error);
        return path.answers.unavailable().result;
      }
    }
    return path.answer(
      record,
      this.#value,
      this.#seal,
      this.#header,
      this.#now,
    );
  }

  protected onUnavailable(): SessionResult<T> {
    // Already logged; every failure answers alike.
    return this.#path.answers.unavailable().result;
  }
}
