/**
 * The cookie path: reading the session from a request's Cookie header,
 * with sliding refresh (creating and rotating sessions is in
 * `_cookie_issue.ts`).
 *
 * ## The hot path
 *
 * The first cookie of the session's name is found by searching for the
 * name (not by parsing the header). When it is in the verified-seal cache,
 * live, in its role and not due for a refresh, the answer is built
 * synchronously and handed back as an already-resolved promise; with a
 * store, the record is still read on every request (one `getSession`):
 * the cache answers for the cryptography only. Anything else takes the
 * general path below, with the same rules.
 *
 * ## Duplicate cookies
 *
 * A request may carry several cookies of the session's name (browsers send
 * the most specific Path first; a sibling subdomain can toss more). Values
 * that are not even seal-shaped are skipped at no cost, and seals already
 * in the verified-seal cache cost nothing; at most
 * {@linkcode MAX_VERIFIED_CANDIDATES} others are verified. The first that
 * verifies wins. The response clears the cookie only when every candidate
 * was tried and rejected.
 *
 * ## Refresh
 *
 * A session is re-sealed when it is older than `refreshAfter`, or when its
 * seal was made under a secret id that is not the newest (so secret
 * rotation finishes on each session's next request), unless it is in its
 * last second. With a store, a refresh is one round trip: the
 * `updateSession` write, whose answer is also the revocation check.
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

import {
  decodeCookieValue,
  findCookieValues,
  findFirstCookieValue,
} from "./_cookie.ts";
import { setCookieHeader } from "./_cookie_issue.ts";
import type { ManagerContext } from "./_context.ts";
import {
  type Refreshed,
  RefreshMemo,
  type SharedRefresh,
} from "./_refresh_memo.ts";
import {
  describeFailure,
  logRejection,
  logUnexpected,
  sessionError,
} from "./_results.ts";
import { type ParsedSeal, parseSeal } from "./_seal.ts";
import type { StoreOutcome } from "./_store_calls.ts";
import { copyData, type Verification, type VerifiedSeal } from "./_verifier.ts";
import type { SessionRecord, SessionStore } from "./store.ts";
import type { SessionData, SessionErrorType, SessionResult } from "./types.ts";

/** How many uncached seal-shaped cookies are verified per request. */
export const MAX_VERIFIED_CANDIDATES = 3;

/** One candidate's outcome: a result, and whether its failure clears. */
interface Candidate<T extends object> {
  readonly result: SessionResult<T>;
  /** False for failures that are the server's (store, clock, bug). */
  readonly clears: boolean;
}

/** An accepted seal: the verifier's entry and a copy of its data. */
type Accepted = Extract<Verification, { ok: true }>;

/** Whether a candidate ends the search: a session, or a store failure. */
function isFinal<T extends object>(candidate: Candidate<T>): boolean {
  const error = candidate.result.error;
  return error === null || error.type === "STORE_UNAVAILABLE";
}

/** Reads cookie sessions from requests. */
export class CookiePath<T extends object> {
  readonly #context: ManagerContext;
  readonly #clearHeader: string;
  readonly #memo: RefreshMemo;
  // Read once: the hot path touches nothing it does not need.
  readonly #cookieName: string;
  readonly #setCookiePrefix: string;
  readonly #cookieAttributes: string;
  readonly #sessionTtlMs: number;
  readonly #maxSessionAgeMs: number;
  readonly #refreshAfterMs: number;
  readonly #currentKeyId: string;
  readonly #stateless: boolean;

  /**
   * @param context The manager's internals.
   * @param clearHeader The Set-Cookie value that deletes the cookie.
   */
  constructor(context: ManagerContext, clearHeader: string) {
    this.#context = context;
    this.#clearHeader = clearHeader;
    const options = context.options;
    this.#cookieName = options.cookieName;
    this.#setCookiePrefix = `${options.cookieName}=`;
    this.#cookieAttributes = options.cookieAttributes;
    this.#sessionTtlMs = options.sessionTtlMs;
    this.#maxSessionAgeMs = options.maxSessionAgeMs;
    this.#refreshAfterMs = options.refreshAfterMs;
    this.#currentKeyId = context.sealer.currentKeyId;
    this.#stateless = context.store === undefined;
    // Half the cache's size: each entry keeps two seals alive (the one
    // refreshed and the fresh one) when the cache has dropped them.
    this.#memo = new RefreshMemo(
      Math.ceil(context.options.cacheSize / 2),
      context.options.refreshAfterMs,
    );
  }

  /**
   * Reads the session from a request; never throws or rejects.
   *
   * @param request Anything with Web `Headers`.
   * @returns The session or a typed error.
   */
  read(
    request: { readonly headers: Pick<Headers, "get"> },
  ): Promise<SessionResult<T>> {
    const context = this.#context;
    let header: string | null;
    try {
      header = request.headers.get("cookie");
    } catch {
      header = null;
    }
    let first: string | null;
    try {
      first = findFirstCookieValue(header, this.#cookieName);
    } catch {
      first = null;
    }
    if (first === null) {
      context.logger.debug("No session cookie on request");
      return Promise.resolve(
        sessionError("NO_COOKIE", "No session cookie", null),
      );
    }
    let now: number;
    try {
      now = context.now();
    } catch (error) {
      logUnexpected(context.logger, error);
      return Promise.resolve(
        sessionError(
          "INVALID_COOKIE",
          "Session cookie could not be read",
          null,
        ),
      );
    }
    let decided: Candidate<T> | Promise<Candidate<T>> | undefined;
    try {
      // Looked up as sent: cache keys are seals, which hold no "%", so a
      // percent-encoded value misses here and is decoded on the general
      // path.
      const seal = context.verifier.peek(first, "cookie", now);
      if (seal !== undefined) {
        if (this.#stateless && !this.#due(seal, now)) {
          // The hottest case, answered inline: no store, no refresh.
          return Promise.resolve({
            data: copyData(seal) as SessionData & T,
            setCookieHeader: `${this.#setCookiePrefix}${first}; Max-Age=${
              Math.max(0, Math.floor((seal.expiresAt - now) / 1000))
            }${this.#cookieAttributes}`,
            error: null,
          });
        }
        decided = this.#decide(
          first,
          { ok: true, seal, data: copyData(seal) },
          now,
        );
      }
    } catch (error) {
      decided = this.#unexpected(error);
    }
    if (decided === undefined) return this.#readAll(header as string, now);
    if (!(decided instanceof Promise)) {
      return isFinal(decided)
        ? Promise.resolve(decided.result)
        : this.#readAll(header as string, now, decided);
    }
    return decided.then((candidate) =>
      isFinal(candidate)
        ? candidate.result
        : this.#readAll(header as string, now, candidate)
    );
  }

  /**
   * The general path: every cookie of the session's name in header order,
   * the first already decided when `first` is given.
   */
  async #readAll(
    header: string,
    now: number,
    first?: Candidate<T>,
  ): Promise<SessionResult<T>> {
    const context = this.#context;
    let values: string[];
    try {
      values = findCookieValues(header, context.options.cookieName, Infinity);
    } catch (error) {
      return this.#unexpected(error).result;
    }
    let budget = MAX_VERIFIED_CANDIDATES;
    let untried = 0;
    let clears = first?.clears ?? true;
    let shapeError: SessionResult<T> | undefined;
    let sealError: SessionResult<T> | undefined = first?.result;
    for (let i = first === undefined ? 0 : 1; i < values.length; i++) {
      const value = decodeCookieValue(values[i]!);
      if (value === null) {
        shapeError ??= this.#reject(
          "INVALID_COOKIE",
          "Session cookie has an invalid percent-encoding",
        );
        continue;
      }
      const parsed = context.verifier.isCached(value)
        ? undefined
        : parseSeal(value);
      if (parsed === null) {
        shapeError ??= this.#reject(
          "INVALID_COOKIE",
          "Session cookie is not a valid seal",
        );
        continue;
      }
      if (parsed !== undefined) {
        if (budget === 0) {
          untried++;
          continue;
        }
        budget--;
      }
      const candidate = await this.#readSafely(value, parsed, now);
      if (isFinal(candidate)) return candidate.result;
      clears &&= candidate.clears;
      sealError ??= candidate.result;
    }
    const firstError = (sealError ?? shapeError) as SessionResult<T>;
    if (untried > 0 || !clears) {
      if (untried > 0) {
        context.logger.debug("Session cookies left untried; cookie kept", {
          untried,
        });
      }
      return sessionError(
        firstError.error!.type,
        firstError.error!.message,
        null,
      );
    }
    return firstError;
  }

  #reject(type: SessionErrorType, message: string): SessionResult<T> {
    logRejection(this.#context.logger, type, "Session cookie rejected");
    return sessionError(type, message, this.#clearHeader);
  }

  // Last-resort guard: client input must never make the request path throw.
  async #readSafely(
    value: string,
    parsed: ParsedSeal | undefined,
    now: number,
  ): Promise<Candidate<T>> {
    try {
      const verified = await this.#context.verifier.verify(
        value,
        "cookie",
        now,
        parsed,
      );
      if (verified.ok) return await this.#decide(value, verified, now);
      switch (verified.reason) {
        case "MALFORMED":
          return this.#fail(
            "INVALID_COOKIE",
            "Session cookie is not a valid seal",
          );
        case "WRONG_KIND":
          return this.#fail(
            "INVALID_COOKIE",
            "A Bearer token is not a session cookie",
          );
        case "EXPIRED":
          return this.#fail("SESSION_EXPIRED", "Session expired");
        default:
          return this.#fail(verified.reason, describeFailure(verified.reason));
      }
    } catch (error) {
      return this.#unexpected(error);
    }
  }

  #unexpected(error: unknown): Candidate<T> {
    logUnexpected(this.#context.logger, error);
    return {
      result: sessionError(
        "INVALID_COOKIE",
        "Session cookie could not be read",
        null,
      ),
      clears: false,
    };
  }

  /**
   * What an authentic, live cookie yields: synchronously when nothing has
   * to be awaited (no store, no refresh). Never rejects.
   */
  #decide(
    value: string,
    accepted: Accepted,
    now: number,
  ): Candidate<T> | Promise<Candidate<T>> {
    const { seal, data } = accepted;
    const store = this.#context.store;
    const expiresAt = this.#expiry(seal, now);
    const due = this.#due(seal, now);
    if (store === undefined) {
      return due
        ? this.#refreshSafely(value, seal, data, expiresAt, now, undefined)
        : this.#unchanged(value, seal, data, now);
    }
    const id = seal.sessionId;
    if (id === undefined) {
      return this.#fail("SESSION_REVOKED", "Session has no server-side record");
    }
    if (due) {
      return this.#refreshSafely(value, seal, data, expiresAt, now, store);
    }
    return this.#readRecord(store, id, now).then((read) => {
      try {
        if (!read.ok) return this.#unavailable();
        return this.#checkRecord(read.value, data, seal, now) ??
          this.#unchanged(value, seal, data, now);
      } catch (error) {
        return this.#unexpected(error);
      }
    });
  }

  /** When the session expires if re-sealed now. */
  #expiry(seal: VerifiedSeal, now: number): number {
    return Math.min(
      now + this.#sessionTtlMs,
      seal.createdAt + this.#maxSessionAgeMs,
    );
  }

  /**
   * Whether a session is re-sealed now: older than `refreshAfter`, or
   * sealed under a secret id that is not the newest; never in its last
   * second (or in clockSkew grace past its absolute lifetime), where it is
   * served as it is rather than re-sealed with no lifetime.
   */
  #due(seal: VerifiedSeal, now: number): boolean {
    return this.#expiry(seal, now) - now >= 1000 &&
      (now - seal.lastAccessed >= this.#refreshAfterMs ||
        seal.key.keyId !== this.#currentKeyId);
  }

  async #refreshSafely(
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
      return this.#unexpected(error);
    }
  }

  /** A refresh: joined, answered from the memo, or led. */
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
      if (!read.ok) return this.#unavailable();
      const gone = this.#checkRecord(read.value, data, seal, now);
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
    switch (shared.type) {
      case "fresh":
        return this.#fresh(shared.refreshed, now);
      case "gone":
        return shared.error === "SESSION_EXPIRED"
          ? this.#fail("SESSION_EXPIRED", "Session expired")
          : this.#fail("SESSION_REVOKED", "Session was revoked");
      default:
        return this.#unchanged(value, seal, data, now);
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
    data.lastAccessed = now;
    if (store === undefined) {
      const refreshed = await this.#reseal(data, expiresAt, now);
      return {
        candidate: this.#fresh(refreshed, now, data),
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
      const gone = this.#checkRecord(written.value, data, seal, now);
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
        candidate: this.#fresh(refreshed, now, data),
        shared: { type: "fresh", refreshed },
      };
    }
    const unwritten = { type: "unwritten" } as const;
    if (written.timedOut) {
      return { candidate: this.#unavailable(), shared: unwritten };
    }
    const read = await this.#readRecord(store, id, now);
    if (!read.ok) return { candidate: this.#unavailable(), shared: unwritten };
    const gone = this.#checkRecord(read.value, data, seal, now);
    if (gone !== undefined) return { candidate: gone, shared: unwritten };
    context.logger.warn(
      "Session refresh could not be written; serving the unchanged seal",
      { type: "STORE_UNAVAILABLE", operation: "updateSession" },
    );
    data.lastAccessed = seal.lastAccessed;
    return {
      candidate: this.#unchanged(value, seal, data, now),
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

  #checkRecord(
    record: SessionRecord | null,
    data: SessionData,
    seal: VerifiedSeal,
    now: number,
  ): Candidate<T> | undefined {
    if (record === null && now >= seal.expiresAt) {
      // The store already forgot a session in its clockSkew grace.
      return this.#fail("SESSION_EXPIRED", "Session expired");
    }
    if (
      record === null || record.did !== data.did || record.kind !== "cookie"
    ) {
      return this.#fail("SESSION_REVOKED", "Session was revoked");
    }
    return undefined;
  }

  /** The fresh seal of a refresh, with `data` or a copy of its data. */
  #fresh(
    refreshed: Refreshed,
    now: number,
    data: SessionData = copyData(refreshed.seal),
  ): Candidate<T> {
    return {
      result: {
        data: data as SessionData & T,
        setCookieHeader: setCookieHeader(
          this.#context,
          refreshed.value,
          refreshed.expiresAt - now,
        ),
        error: null,
      },
      clears: true,
    };
  }

  #unchanged(
    value: string,
    seal: VerifiedSeal,
    data: SessionData,
    now: number,
  ): Candidate<T> {
    return {
      result: {
        data: data as SessionData & T,
        setCookieHeader: setCookieHeader(
          this.#context,
          value,
          seal.expiresAt - now,
        ),
        error: null,
      },
      clears: true,
    };
  }

  #fail(type: SessionErrorType, message: string): Candidate<T> {
    return { result: this.#reject(type, message), clears: true };
  }

  #unavailable(): Candidate<T> {
    return {
      result: sessionError(
        "STORE_UNAVAILABLE",
        "Session store unavailable",
        null,
      ),
      clears: false,
    };
  }
}
