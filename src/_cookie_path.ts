/**
 * The cookie path: reading the session from a request's Cookie header,
 * with sliding refresh (creating and rotating sessions is in
 * `_cookie_issue.ts`).
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
 * ## Refresh and a store that refuses writes
 *
 * A refresh due with a store is one `updateSession` round trip. When that
 * write fails (a Redis replica or MISCONF refusing writes) but did not
 * time out, the record is read instead: if it is live, the session is
 * served with its unchanged seal and a `warn` is logged.
 *
 * @module
 */

import { decodeCookieValue, findCookieValues } from "./_cookie.ts";
import { setCookieHeader } from "./_cookie_issue.ts";
import type { ManagerContext } from "./_context.ts";
import {
  describeFailure,
  logRejection,
  logUnexpected,
  sessionError,
} from "./_results.ts";
import { type ParsedSeal, parseSeal } from "./_seal.ts";
import type { VerifiedSeal } from "./_verifier.ts";
import type { SessionRecord } from "./store.ts";
import type { SessionData, SessionErrorType, SessionResult } from "./types.ts";

/** How many uncached seal-shaped cookies are verified per request. */
export const MAX_VERIFIED_CANDIDATES = 3;

/** One candidate's outcome: a result, and whether its failure clears. */
interface Candidate<T extends object> {
  readonly result: SessionResult<T>;
  /** False for failures that are the server's (store, clock, bug). */
  readonly clears: boolean;
}

/** Reads cookie sessions from requests. */
export class CookiePath<T extends object> {
  readonly #context: ManagerContext;
  readonly #clearHeader: string;

  /**
   * @param context The manager's internals.
   * @param clearHeader The Set-Cookie value that deletes the cookie.
   */
  constructor(context: ManagerContext, clearHeader: string) {
    this.#context = context;
    this.#clearHeader = clearHeader;
  }

  /**
   * Reads the session from a request; never throws.
   *
   * @param request Anything with Web `Headers`.
   * @returns The session or a typed error.
   */
  async read(
    request: { readonly headers: Pick<Headers, "get"> },
  ): Promise<SessionResult<T>> {
    const context = this.#context;
    let header: string | null;
    try {
      header = request.headers.get("cookie");
    } catch {
      header = null;
    }
    const values = findCookieValues(
      header,
      context.options.cookieName,
      Infinity,
    );
    if (values.length === 0) {
      context.logger.debug("No session cookie on request");
      return sessionError("NO_COOKIE", "No session cookie", null);
    }
    let now: number;
    try {
      now = context.now();
    } catch (error) {
      logUnexpected(context.logger, error);
      return sessionError(
        "INVALID_COOKIE",
        "Session cookie could not be read",
        null,
      );
    }
    let budget = MAX_VERIFIED_CANDIDATES;
    let untried = 0;
    let clears = true;
    let shapeError: SessionResult<T> | undefined;
    let sealError: SessionResult<T> | undefined;
    for (const raw of values) {
      const value = decodeCookieValue(raw);
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
      const { result } = candidate;
      if (result.error === null || result.error.type === "STORE_UNAVAILABLE") {
        return result;
      }
      clears &&= candidate.clears;
      sealError ??= result;
    }
    const first = (sealError ?? shapeError) as SessionResult<T>;
    if (untried > 0 || !clears) {
      if (untried > 0) {
        context.logger.debug("Session cookies left untried; cookie kept", {
          untried,
        });
      }
      return sessionError(first.error!.type, first.error!.message, null);
    }
    return first;
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
      return await this.#readOne(value, parsed, now);
    } catch (error) {
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
  }

  async #readOne(
    value: string,
    parsed: ParsedSeal | undefined,
    now: number,
  ): Promise<Candidate<T>> {
    const context = this.#context;
    const verified = await context.verifier.verify(
      value,
      "cookie",
      now,
      parsed,
    );
    if (!verified.ok) {
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
    }
    const { seal, data } = verified;
    const { options, store } = context;
    const expiresAt = context.sealer.expiryFrom(
      seal.createdAt,
      now,
      options.sessionTtlMs,
    );
    // A session in its last second (or in clockSkew grace past its absolute
    // lifetime) is served as it is rather than re-sealed with no lifetime.
    const refresh = now - seal.lastAccessed >= options.refreshAfterMs &&
      expiresAt - now >= 1000;
    if (store === undefined) {
      return refresh
        ? await this.#refreshed(data, expiresAt, now)
        : this.#unchanged(value, seal, data, now);
    }
    const id = seal.sessionId;
    if (id === undefined) {
      return this.#fail("SESSION_REVOKED", "Session has no server-side record");
    }
    // Within clockSkew grace the record counts as live, like the seal.
    const asOf = now - options.clockSkewMs;
    if (refresh) {
      data.lastAccessed = now;
      const written = await context.requestStoreCall(
        "updateSession",
        () => store.updateSession(id, { lastAccessed: now, expiresAt }, asOf),
      );
      if (written.ok) {
        const gone = this.#checkRecord(written.value, data, seal, now);
        return gone ?? await this.#refreshed(data, expiresAt, now);
      }
      if (written.timedOut) return this.#unavailable();
      const read = await context.requestStoreCall(
        "getSession",
        () => store.getSession(id, asOf),
      );
      if (!read.ok) return this.#unavailable();
      const gone = this.#checkRecord(read.value, data, seal, now);
      if (gone !== undefined) return gone;
      context.logger.warn(
        "Session refresh could not be written; serving the unchanged seal",
        { type: "STORE_UNAVAILABLE", operation: "updateSession" },
      );
      data.lastAccessed = seal.lastAccessed;
      return this.#unchanged(value, seal, data, now);
    }
    const read = await context.requestStoreCall(
      "getSession",
      () => store.getSession(id, asOf),
    );
    if (!read.ok) return this.#unavailable();
    return this.#checkRecord(read.value, data, seal, now) ??
      this.#unchanged(value, seal, data, now);
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

  async #refreshed(
    data: SessionData,
    expiresAt: number,
    now: number,
  ): Promise<Candidate<T>> {
    data.lastAccessed = now;
    const fresh = await this.#context.sealer.seal(
      data,
      "cookie",
      expiresAt,
      now,
    );
    return {
      result: {
        data: data as SessionData & T,
        setCookieHeader: setCookieHeader(this.#context, fresh, expiresAt - now),
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
