/**
 * The cookie-to-OAuth bridge: from a request's app session (cookie or
 * Bearer token) to the user's restored OAuth session, with every failure
 * sorted into terminal (`OAUTH_SESSION_ENDED`) or transient
 * (`OAUTH_UNAVAILABLE`).
 *
 * @module
 */

import type { SessionData } from "../types.ts";
import { classifyOAuthError, summarizeOAuthError } from "./_classify.ts";
import type { OAuthHost } from "./_host.ts";
import type {
  OAuthBearerResult,
  OAuthClientLike,
  OAuthSessionLike,
  OAuthSessionResult,
} from "./types.ts";

/** The outcome of restoring a DID's OAuth session. */
type Restored<S> =
  | { readonly ok: true; readonly session: S }
  | { readonly ok: false; readonly failure: "ENDED" | "UNAVAILABLE" };

const ENDED_MESSAGE = "The OAuth session ended; sign in again";
const UNAVAILABLE_MESSAGE =
  "The user's PDS could not be reached; try again shortly";

/**
 * Ends the DID's app sessions after a terminal failure and resolves
 * `"ended"`; or resolves `"replacing"` without ending anything when a
 * sign-in on this process is storing a new OAuth session for the DID at
 * this moment (the failure is then reported as transient). Never rejects.
 */
export type EndAppSessions = (did: string) => Promise<"ended" | "replacing">;

/**
 * Restores the OAuth session of the app session `data`, bounded by
 * `oauthTimeout`. On a terminal failure, every app session of the DID is
 * revoked (by `endAppSessions`).
 *
 * @param host The manager.
 * @param client The OAuth client.
 * @param data The verified app session.
 * @param endAppSessions Revokes the DID's app sessions.
 * @returns The session, or which kind of failure.
 */
export async function restoreOAuthSession<S extends OAuthSessionLike>(
  host: OAuthHost<object>,
  client: OAuthClientLike<S>,
  data: SessionData,
  endAppSessions: EndAppSessions,
): Promise<Restored<S>> {
  let session: S;
  try {
    // No abort signal: a refresh already sent must finish and be stored
    // (refresh tokens are single-use); the deadline only stops waiting.
    session = await host.withDeadline(
      Promise.resolve().then(() => client.restore(data.did)),
      host.oauthTimeoutMs,
    );
  } catch (error) {
    const summary = summarizeOAuthError(error);
    if (
      classifyOAuthError(error) === "ENDED" &&
      await endAppSessions(data.did) === "ended"
    ) {
      host.logger.info("OAuth session ended; app sessions revoked", {
        type: "OAUTH_SESSION_ENDED",
        ...summary,
      });
      return { ok: false, failure: "ENDED" };
    }
    host.logger.warn("OAuth session unavailable; keeping the app session", {
      type: "OAUTH_UNAVAILABLE",
      ...summary,
    });
    return { ok: false, failure: "UNAVAILABLE" };
  }
  if (session?.did !== data.did) {
    // A client returning another account's session is a wiring bug; never
    // hand it out.
    host.logger.error("OAuth client restored a session for another DID", {
      type: "OAUTH_UNAVAILABLE",
    });
    return { ok: false, failure: "UNAVAILABLE" };
  }
  return { ok: true, session };
}

/**
 * `getOAuthSession(request, client)`: the cookie's session, then the DID's
 * OAuth session.
 *
 * @param host The manager.
 * @param request A Web `Request` (or anything with `headers.get`).
 * @param client The OAuth client.
 * @param endAppSessions Revokes the DID's app sessions.
 * @returns The typed result; never throws on client input.
 */
export async function getOAuthSession<
  T extends object,
  S extends OAuthSessionLike,
>(
  host: OAuthHost<T>,
  request: { readonly headers: Pick<Headers, "get"> },
  client: OAuthClientLike<S>,
  endAppSessions: EndAppSessions,
): Promise<OAuthSessionResult<T, S>> {
  const result = await host.getSessionFromRequest(request);
  if (result.error !== null) {
    return {
      data: null,
      oauthSession: null,
      setCookieHeader: result.setCookieHeader,
      error: result.error,
    };
  }
  const restored = await restoreOAuthSession(
    host,
    client,
    result.data,
    endAppSessions,
  );
  if (restored.ok) {
    return {
      data: result.data,
      oauthSession: restored.session,
      setCookieHeader: result.setCookieHeader,
      error: null,
    };
  }
  if (restored.failure === "UNAVAILABLE") {
    return {
      data: result.data,
      oauthSession: null,
      setCookieHeader: null,
      error: { type: "OAUTH_UNAVAILABLE", message: UNAVAILABLE_MESSAGE },
    };
  }
  return {
    data: null,
    oauthSession: null,
    setCookieHeader: host.getClearCookieHeader(),
    error: { type: "OAUTH_SESSION_ENDED", message: ENDED_MESSAGE },
  };
}

/**
 * `getOAuthSessionFromBearer(header, client)`: the Bearer token's session,
 * then the DID's OAuth session.
 *
 * @param host The manager.
 * @param authorizationHeader The `Authorization` header value, or null.
 * @param client The OAuth client.
 * @param endAppSessions Revokes the DID's app sessions.
 * @returns The typed result; never throws on client input.
 */
export async function getOAuthSessionFromBearer<
  T extends object,
  S extends OAuthSessionLike,
>(
  host: OAuthHost<T>,
  authorizationHeader: string | null | undefined,
  client: OAuthClientLike<S>,
  endAppSessions: EndAppSessions,
): Promise<OAuthBearerResult<T, S>> {
  const result = await host.validateBearerToken(authorizationHeader);
  if (result.error !== null) {
    return { data: null, oauthSession: null, error: result.error };
  }
  const restored = await restoreOAuthSession(
    host,
    client,
    result.data,
    endAppSessions,
  );
  if (restored.ok) {
    return { data: result.data, oauthSession: restored.session, error: null };
  }
  if (restored.failure === "UNAVAILABLE") {
    return {
      data: result.data,
      oauthSession: null,
      error: { type: "OAUTH_UNAVAILABLE", message: UNAVAILABLE_MESSAGE },
    };
  }
  return {
    data: null,
    oauthSession: null,
    error: { type: "OAUTH_SESSION_ENDED", message: ENDED_MESSAGE },
  };
}
