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
 * store, the record is still read on every request (one `getSession`),
 * and the answer is built in the reaction that receives the store's reply
 * (no promise hop of the manager's own): the cache answers for the
 * cryptography only. Anything else takes the general path below, with the
 * same rules.
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
 * last second. The refresh itself is in `_cookie_refresh.ts`; the answers
 * and the record check in `_cookie_answers.ts`.
 *
 * @module
 */

import { type Candidate, CookieAnswers, isFinal } from "./_cookie_answers.ts";
import {
  decodeCookieValue,
  findCookieValues,
  findFirstCookieValue,
} from "./_cookie.ts";
import { CookieRefresh } from "./_cookie_refresh.ts";
import type { ManagerContext } from "./_context.ts";
import { describeFailure, sessionError } from "./_results.ts";
import { type ParsedSeal, parseSeal } from "./_seal.ts";
import { copyData, type Verification, type VerifiedSeal } from "./_verifier.ts";
import { HotCookiePath } from "./_cookie_hot_read.ts";
import type { SessionStore } from "./store.ts";
import type { SessionData, SessionResult } from "./types.ts";

/** How many uncached seal-shaped cookies are verified per request. */
export const MAX_VERIFIED_CANDIDATES = 3;

/** An accepted seal: the verifier's entry and a copy of its data. */
type Accepted = Extract<Verification, { ok: true }>;

/** Reads cookie sessions from requests. */
export class CookiePath<T extends object> {
  readonly #context: ManagerContext;
  readonly #answers: CookieAnswers<T>;
  readonly #refresh: CookieRefresh<T>;
  // Read once: the hot path touches nothing it does not need.
  readonly #store: SessionStore | undefined;
  readonly #cookieName: string;
  readonly #setCookiePrefix: string;
  readonly #cookieAttributes: string;
  readonly #sessionTtlMs: number;
  readonly #maxSessionAgeMs: number;
  readonly #refreshAfterMs: number;
  readonly #clockSkewMs: number;
  readonly #currentKeyId: string;
  readonly #hot: HotCookiePath<T> | undefined;

  /**
   * @param context The manager's internals.
   * @param clearHeader The Set-Cookie value that deletes the cookie.
   */
  constructor(context: ManagerContext, clearHeader: string) {
    this.#context = context;
    this.#answers = new CookieAnswers(context, clearHeader);
    this.#refresh = new CookieRefresh(context, this.#answers);
    const options = context.options;
    this.#store = context.store;
    this.#cookieName = options.cookieName;
    this.#setCookiePrefix = `${options.cookieName}=`;
    this.#cookieAttributes = options.cookieAttributes;
    this.#sessionTtlMs = options.sessionTtlMs;
    this.#maxSessionAgeMs = options.maxSessionAgeMs;
    this.#refreshAfterMs = options.refreshAfterMs;
    this.#clockSkewMs = options.clockSkewMs;
    this.#currentKeyId = context.sealer.currentKeyId;
    this.#hot = context.store === undefined
      ? undefined
      : new HotCookiePath(context, context.store, this.#answers, {
        setCookie: (value, seal, now) => this.#setCookie(value, seal, now),
        readAll: (header, now, first) => this.#readAll(header, now, first),
      });
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
      return Promise.resolve(this.#answers.unexpected(error).result);
    }
    let decided: Candidate<T> | Promise<Candidate<T>> | undefined;
    try {
      // Looked up as sent: cache keys are seals, which hold no "%", so a
      // percent-encoded value misses here and is decoded on the general
      // path.
      const seal = context.verifier.peek(first, "cookie", now);
      if (seal !== undefined) {
        if (!this.#due(seal, now)) {
          const store = this.#store;
          if (store === undefined) {
            // The hottest case, answered inline: no store, no refresh.
            return Promise.resolve({
              data: copyData(seal) as SessionData & T,
              setCookieHeader: this.#setCookie(first, seal, now),
              error: null,
            });
          }
          const id = seal.sessionId;
          if (id !== undefined) {
            return (this.#hot as HotCookiePath<T>).read(
              id,
              first,
              seal,
              header as string,
              now,
            );
          }
        }
        decided = this.#decide(
          first,
          { ok: true, seal, data: copyData(seal) },
          now,
        );
      }
    } catch (error) {
      decided = this.#answers.unexpected(error);
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

  /** The Set-Cookie line serving `value` unchanged. */
  #setCookie(value: string, seal: VerifiedSeal, now: number): string {
    const maxAge = Math.max(0, Math.floor((seal.expiresAt - now) / 1000));
    // The cache entry is this exact value's, so its line is too.
    if (seal.servedMaxAge === maxAge) return seal.servedLine;
    const line =
      `${this.#setCookiePrefix}${value}; Max-Age=${maxAge}${this.#cookieAttributes}`;
    seal.servedMaxAge = maxAge;
    seal.servedLine = line;
    return line;
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
    const answers = this.#answers;
    let values: string[];
    try {
      values = findCookieValues(header, this.#cookieName, Infinity);
    } catch (error) {
      return answers.unexpected(error).result;
    }
    let budget = MAX_VERIFIED_CANDIDATES;
    let untried = 0;
    let clears = first?.clears ?? true;
    let shapeError: SessionResult<T> | undefined;
    let sealError: SessionResult<T> | undefined = first?.result;
    for (let i = first === undefined ? 0 : 1; i < values.length; i++) {
      const value = decodeCookieValue(values[i]!);
      if (value === null) {
        shapeError ??= answers.reject(
          "INVALID_COOKIE",
          "Session cookie has an invalid percent-encoding",
        );
        continue;
      }
      const parsed = context.verifier.isCached(value)
        ? undefined
        : parseSeal(value);
      if (parsed === null) {
        shapeError ??= answers.reject(
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

  // Last-resort guard: client input must never make the request path throw.
  async #readSafely(
    value: string,
    parsed: ParsedSeal | undefined,
    now: number,
  ): Promise<Candidate<T>> {
    const answers = this.#answers;
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
          return answers.fail(
            "INVALID_COOKIE",
            "Session cookie is not a valid seal",
          );
        case "WRONG_KIND":
          return answers.fail(
            "INVALID_COOKIE",
            "A Bearer token is not a session cookie",
          );
        case "EXPIRED":
          return answers.fail("SESSION_EXPIRED", "Session expired");
        default:
          return answers.fail(
            verified.reason,
            describeFailure(verified.reason),
          );
      }
    } catch (error) {
      return answers.unexpected(error);
    }
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
    const store = this.#store;
    const answers = this.#answers;
    if (store !== undefined && seal.sessionId === undefined) {
      return answers.fail(
        "SESSION_REVOKED",
        "Session has no server-side record",
      );
    }
    if (this.#due(seal, now)) {
      return this.#refresh.refresh(
        value,
        seal,
        data,
        this.#expiry(seal, now),
        now,
        store,
      );
    }
    if (store === undefined) return answers.unchanged(value, seal, data, now);
    const id = seal.sessionId as string;
    const asOf = now - this.#clockSkewMs;
    return this.#context.storeCalls.requestThen(
      "getSession",
      () => store.getSession(id, asOf),
      (read): Candidate<T> => {
        try {
          if (!read.ok) return answers.unavailable();
          return answers.checkRecord(read.value, data.did, seal, now) ??
            answers.unchanged(value, seal, data, now);
        } catch (error) {
          return answers.unexpected(error);
        }
      },
    );
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
}
