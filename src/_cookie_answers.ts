/**
 * What the cookie path answers: the typed result of one candidate cookie
 * (served unchanged, served with a fresh seal, rejected, or the store
 * unavailable), whether a failure clears the cookie, and the revocation
 * rule a session record is checked against.
 *
 * @module
 */

import { setCookieHeader } from "./_cookie_issue.ts";
import type { ManagerContext } from "./_context.ts";
import type { Refreshed } from "./_refresh_memo.ts";
import { logRejection, logUnexpected, sessionError } from "./_results.ts";
import { copyData, type VerifiedSeal } from "./_verifier.ts";
import type { SessionRecord } from "./store.ts";
import type { SessionData, SessionErrorType, SessionResult } from "./types.ts";

/** One candidate's outcome: a result, and whether its failure clears. */
export interface Candidate<T extends object> {
  readonly result: SessionResult<T>;
  /** False for failures that are the server's (store, clock, bug). */
  readonly clears: boolean;
}

/**
 * Whether a candidate ends the search: a session, or a store failure.
 *
 * @param candidate The candidate's outcome.
 * @returns True when no other cookie of the name is tried.
 */
export function isFinal<T extends object>(candidate: Candidate<T>): boolean {
  const error = candidate.result.error;
  return error === null || error.type === "STORE_UNAVAILABLE";
}

/** Builds the cookie path's answers for one manager. */
export class CookieAnswers<T extends object> {
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
   * The session with its seal unchanged (Max-Age its remaining lifetime).
   *
   * @param value The seal as sent.
   * @param seal What the verifier knows of it.
   * @param data The data to hand out (a copy).
   * @param now The current time.
   * @returns The candidate.
   */
  unchanged(
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

  /**
   * The session with the fresh seal of a refresh.
   *
   * @param refreshed The refresh.
   * @param now The current time.
   * @param data The data to hand out; by default a copy of the fresh seal's.
   * @returns The candidate.
   */
  fresh(
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

  /**
   * A rejection that clears the cookie, logged at its level.
   *
   * @param type The error type.
   * @param message A short explanation.
   * @returns The result.
   */
  reject(type: SessionErrorType, message: string): SessionResult<T> {
    logRejection(this.#context.logger, type, "Session cookie rejected");
    return sessionError(type, message, this.#clearHeader);
  }

  /**
   * A rejected candidate (see {@linkcode reject}).
   *
   * @param type The error type.
   * @param message A short explanation.
   * @returns The candidate.
   */
  fail(type: SessionErrorType, message: string): Candidate<T> {
    return { result: this.reject(type, message), clears: true };
  }

  /**
   * The store did not answer: no session, and the cookie is kept.
   *
   * @returns The candidate.
   */
  unavailable(): Candidate<T> {
    return {
      result: sessionError(
        "STORE_UNAVAILABLE",
        "Session store unavailable",
        null,
      ),
      clears: false,
    };
  }

  /**
   * What a request-path guard caught (logged by name only); the cookie is
   * kept.
   *
   * @param error What was thrown.
   * @returns The candidate.
   */
  unexpected(error: unknown): Candidate<T> {
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
   * Checks a session record against the seal: the record must exist, be
   * a cookie session and belong to the seal's DID.
   *
   * @param record What the store answered.
   * @param did The seal's DID.
   * @param seal The seal.
   * @param now The current time.
   * @returns The rejection, or undefined when the record is the seal's.
   */
  checkRecord(
    record: SessionRecord | null,
    did: string,
    seal: VerifiedSeal,
    now: number,
  ): Candidate<T> | undefined {
    if (record === null && now >= seal.expiresAt) {
      // The store already forgot a session in its clockSkew grace.
      return this.fail("SESSION_EXPIRED", "Session expired");
    }
    if (record === null || record.did !== did || record.kind !== "cookie") {
      return this.fail("SESSION_REVOKED", "Session was revoked");
    }
    return undefined;
  }
}
