/**
 * The `SessionManager`: Iron-sealed session cookies and Bearer tokens, with
 * optional server-side session records.
 *
 * @module
 */

import { extractBearerToken } from "./_bearer.ts";
import {
  decodeCookieValue,
  EPOCH_EXPIRES,
  findCookieValues,
  MAX_SET_COOKIE_BYTES,
} from "./_cookie.ts";
import { LruCache } from "./_lru_cache.ts";
import { copyMetadata } from "./_session_record.ts";
import { type ResolvedOptions, resolveOptions } from "./_options.ts";
import { buildPayload, readPayload } from "./_payload.ts";
import { MAX_SEAL_LENGTH, parseSeal } from "./_seal.ts";
import {
  ConfigurationError,
  CookieError,
  SessionDataError,
  StoreError,
} from "./errors.ts";
import type {
  SessionMetadata,
  SessionRecord,
  SessionRecordUpdate,
  SessionStore,
} from "./store.ts";
import type {
  BearerErrorType,
  BearerResult,
  SessionData,
  SessionErrorInfo,
  SessionErrorType,
  SessionInput,
  SessionManagerOptions,
  SessionResult,
} from "./types.ts";

/**
 * How many cookies of the session's name are tried when a request carries
 * several (browsers send the most specific Path first). The first that
 * verifies wins; bounding the count bounds the cryptography per request.
 */
const MAX_COOKIE_CANDIDATES = 3;

type SealKind = "cookie" | "token";

/** A seal whose MAC verified, as the cache remembers it. */
interface VerifiedSeal {
  readonly kind: SealKind;
  /** The payload as JSON, so no caller can mutate what the cache holds. */
  readonly json: string;
  readonly createdAt: number;
  readonly lastAccessed: number;
  /** Effective expiry: the seal's, capped by `maxSessionAge`. */
  readonly expiresAt: number;
  readonly sessionId: string | undefined;
  readonly jti: string | undefined;
}

type Verification =
  | {
    readonly ok: true;
    readonly seal: VerifiedSeal;
    readonly data: SessionData;
  }
  | {
    readonly ok: false;
    readonly reason: "MALFORMED" | "TAMPERED" | "UNKNOWN_KEY" | "EXPIRED";
  };

const NO_STORE_MESSAGE =
  "needs a store: pass one to the constructor, such as new SessionManager({ cookieSecret, store: new MemorySessionStore() })";

/**
 * Seals AT Protocol sessions with Iron (AES-256-CBC + HMAC-SHA256 over Web
 * Crypto) into cookies and Bearer tokens, and reads them back from standard
 * Web `Request`s. Request-path methods never throw on client input: they
 * return a result with a typed `error.type`.
 *
 * @typeParam T Extra fields the app keeps in its sessions, such as a handle.
 *
 * @example Cookie sessions in a Deno.serve handler
 * ```ts
 * import { SessionManager } from "@tijs/atproto-sessions";
 * import assert from "node:assert/strict";
 *
 * const sessions = new SessionManager({ cookieSecret: "a-secret-of-at-least-32-characters!" });
 *
 * // After the OAuth callback: create the session.
 * const setCookie = await sessions.createSession({ did: "did:plc:ewvi7nxzyoun6zhxrhs64oiz" });
 *
 * // On later requests: read it back.
 * const cookie = setCookie.slice(0, setCookie.indexOf(";"));
 * const request = new Request("http://localhost/", { headers: { cookie } });
 * const { data, setCookieHeader, error } = await sessions.getSessionFromRequest(request);
 * assert.equal(data?.did, "did:plc:ewvi7nxzyoun6zhxrhs64oiz");
 * assert.equal(error, null);
 * assert.ok(setCookieHeader?.startsWith("sid="));
 * ```
 */
export class SessionManager<T extends object = Record<never, never>> {
  readonly #options: ResolvedOptions;
  readonly #cache: LruCache<string, VerifiedSeal>;
  readonly #clearCookieHeader: string;

  /**
   * Creates a manager. All validation happens here, once.
   *
   * @param options The secret and optional settings.
   * @throws {ConfigurationError} When an option is invalid; the message says
   * what was received and how to fix it.
   */
  constructor(options: SessionManagerOptions) {
    this.#options = resolveOptions(options);
    this.#cache = new LruCache(this.#options.cacheSize);
    this.#clearCookieHeader =
      `${this.#options.cookieName}=; Max-Age=0; Expires=${EPOCH_EXPIRES}${this.#options.cookieAttributes}`;
  }

  /**
   * Reads the session from a request's Cookie header. On success returns
   * the data and a `Set-Cookie` header to send back: a fresh seal when the
   * session is due for a sliding refresh (older than `refreshAfter`),
   * otherwise the same seal with `Max-Age` set to its remaining lifetime.
   * A rejected cookie yields an `error` and a header that clears it.
   *
   * @param request A Web `Request`, or anything with Web `Headers` (Oak's
   * `ctx.request`, a Hono `c.req.raw`).
   * @returns The session, or a typed error; never throws on client input.
   *
   * @example Protecting a route
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({ cookieSecret: "a-secret-of-at-least-32-characters!" });
   * const result = await sessions.getSessionFromRequest(new Request("http://localhost/"));
   * assert.equal(result.data, null);
   * assert.equal(result.error?.type, "NO_COOKIE");
   * ```
   */
  async getSessionFromRequest(
    request: { readonly headers: Pick<Headers, "get"> },
  ): Promise<SessionResult<T>> {
    let header: string | null;
    try {
      header = request.headers.get("cookie");
    } catch {
      header = null;
    }
    const values = findCookieValues(
      header,
      this.#options.cookieName,
      MAX_COOKIE_CANDIDATES,
    );
    if (values.length === 0) {
      this.#options.logger.debug("No session cookie on request");
      return this.#sessionError("NO_COOKIE", "No session cookie");
    }
    let firstError: SessionResult<T> | undefined;
    for (const value of values) {
      const result = await this.#readCookieSafely(value);
      if (result.error === null || result.error.type === "STORE_UNAVAILABLE") {
        return result;
      }
      firstError ??= result;
    }
    return firstError as SessionResult<T>;
  }

  /**
   * Creates a session and returns the `Set-Cookie` header that carries it.
   * `createdAt` and `lastAccessed` default to now. With a store, a session
   * record is written too (evicting the DID's oldest session beyond
   * `maxSessionsPerUser`), and the seal carries its id.
   *
   * @param data The session: a valid `did` and the app's own fields.
   * @param metadata With a store: what to record about the device.
   * @returns The `Set-Cookie` header value.
   * @throws {SessionDataError} When `did` is not a valid DID or the data
   * cannot be sealed.
   * @throws {CookieError} When the header would exceed 4096 bytes.
   * @throws {StoreError} When the store fails.
   *
   * @example Signing a user in
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({ cookieSecret: "a-secret-of-at-least-32-characters!" });
   * const setCookie = await sessions.createSession({ did: "did:web:example.com" });
   * assert.match(setCookie, /^sid=Fe26\.2\*1\*.*; Max-Age=604800; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
   * ```
   */
  async createSession(
    data: SessionInput<T>,
    metadata: SessionMetadata = {},
  ): Promise<string> {
    const options = this.#options;
    const now = options.now();
    const payload = buildPayload(data, now);
    const expiresAt = this.#expiryFrom(
      payload.createdAt,
      now,
      options.sessionTtlMs,
    );
    const store = options.store;
    if (store !== undefined) payload.sessionId = this.#newId();
    const seal = await this.#seal(payload, expiresAt - now, now);
    const header = this.#setCookieHeader(seal, expiresAt - now);
    if (header.length > MAX_SET_COOKIE_BYTES) {
      throw new CookieError(
        `Cannot create session: the Set-Cookie header would be ${header.length} bytes, over the ${MAX_SET_COOKIE_BYTES}-byte limit browsers enforce (they drop larger cookies silently); keep less data in the session`,
      );
    }
    if (store !== undefined && payload.sessionId !== undefined) {
      const record: SessionRecord = {
        id: payload.sessionId,
        did: payload.did,
        createdAt: payload.createdAt,
        lastAccessed: payload.lastAccessed,
        expiresAt,
        metadata: copyMetadata(metadata),
      };
      const evicted = await this.#storeCall(
        "createSession",
        () => store.createSession(record, options.maxSessionsPerUser, now),
      );
      if (evicted.length > 0) {
        options.logger.info("Evicted oldest sessions over maxSessionsPerUser", {
          count: evicted.length,
        });
      }
    }
    this.#remember(seal, "cookie", payload, expiresAt);
    options.logger.debug("Session created");
    return header;
  }

  /**
   * Returns a `Set-Cookie` header that deletes the session cookie: the same
   * Path and Domain, `Max-Age=0` and an `Expires` in 1970. With a store,
   * also call `revokeSession` so a copied cookie stops working too.
   *
   * @returns The header value.
   *
   * @example Signing out
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({ cookieSecret: "a-secret-of-at-least-32-characters!" });
   * assert.equal(
   *   sessions.getClearCookieHeader(),
   *   "sid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; Secure; SameSite=Lax",
   * );
   * ```
   */
  getClearCookieHeader(): string {
    return this.#clearCookieHeader;
  }

  /**
   * Seals session data into a Bearer token for clients that cannot keep
   * cookies. The token carries a fresh `jti` (revocable with a store) and
   * expires after `tokenTtl` (capped by `maxSessionAge`).
   *
   * @param data The session: a valid `did` and the app's own fields.
   * @returns The token, an Iron seal safe in an Authorization header.
   * @throws {SessionDataError} When `did` is not a valid DID or the data
   * cannot be sealed.
   *
   * @example Minting and checking a token
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({ cookieSecret: "a-secret-of-at-least-32-characters!" });
   * const token = await sessions.sealToken({ did: "did:plc:ewvi7nxzyoun6zhxrhs64oiz" });
   * const { data } = await sessions.validateBearerToken(`Bearer ${token}`);
   * assert.equal(data?.did, "did:plc:ewvi7nxzyoun6zhxrhs64oiz");
   * ```
   */
  async sealToken(data: SessionInput<T>): Promise<string> {
    const now = this.#options.now();
    return await this.#mintToken(buildPayload(data, now), now);
  }

  /**
   * Opens a Bearer token (the token itself, not the header).
   *
   * @param token A token from `sealToken` or `refreshBearerToken`.
   * @returns The session data, or null when the token is malformed, tampered,
   * expired, revoked or the store is unavailable.
   *
   * @example
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({ cookieSecret: "a-secret-of-at-least-32-characters!" });
   * assert.equal(await sessions.unsealToken("not-a-token"), null);
   * ```
   */
  async unsealToken(token: string): Promise<(SessionData & T) | null> {
    if (typeof token !== "string" || token.length === 0) return null;
    return (await this.#readTokenSafely(token)).data;
  }

  /**
   * Validates an `Authorization` header value of the form `Bearer <token>`.
   * The scheme is case-insensitive; the token's length and alphabet are
   * checked before any cryptography.
   *
   * @param authorizationHeader The header value, or null when absent.
   * @returns The session data, or a typed error; never throws on client input.
   *
   * @example Authenticating an API request
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({ cookieSecret: "a-secret-of-at-least-32-characters!" });
   * const request = new Request("http://localhost/api", { headers: { authorization: "Basic abc" } });
   * const { error } = await sessions.validateBearerToken(request.headers.get("authorization"));
   * assert.equal(error?.type, "INVALID_TOKEN");
   * ```
   */
  async validateBearerToken(
    authorizationHeader: string | null | undefined,
  ): Promise<BearerResult<T>> {
    const extracted = extractBearerToken(authorizationHeader);
    if (extracted.token === null) {
      this.#options.logger.debug("Bearer token rejected", {
        type: extracted.error,
      });
      return bearerError(
        extracted.error,
        extracted.error === "NO_TOKEN"
          ? "No Bearer token"
          : "Authorization header is not a valid Bearer token",
      );
    }
    return await this.#readTokenSafely(extracted.token);
  }

  /**
   * Exchanges a valid Bearer token for a new one with a fresh `jti`, a new
   * expiry (capped by `maxSessionAge`) and `lastAccessed` set to now. With
   * a store, the old token is revoked.
   *
   * @param authorizationHeader The header value carrying the current token.
   * @returns The new token, or null when the current one is not valid.
   *
   * @example
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({ cookieSecret: "a-secret-of-at-least-32-characters!" });
   * const token = await sessions.sealToken({ did: "did:plc:ewvi7nxzyoun6zhxrhs64oiz" });
   * const fresh = await sessions.refreshBearerToken(`Bearer ${token}`);
   * assert.ok(fresh !== null && fresh !== token);
   * ```
   */
  async refreshBearerToken(
    authorizationHeader: string | null | undefined,
  ): Promise<string | null> {
    const { data } = await this.validateBearerToken(authorizationHeader);
    if (data === null) return null;
    try {
      return await this.#reissueToken(data);
    } catch (error) {
      this.#unexpected(error);
      return null;
    }
  }

  /**
   * Returns an active server-side session by id.
   *
   * @param sessionId The session id (`data.sessionId`).
   * @returns The record, or null when missing, expired or revoked.
   * @throws {ConfigurationError} Without a store.
   * @throws {StoreError} When the store fails.
   *
   * @example
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({
   *   cookieSecret: "a-secret-of-at-least-32-characters!",
   *   store: new MemorySessionStore(),
   * });
   * assert.equal(await sessions.getSession("no-such-id"), null);
   * ```
   */
  async getSession(sessionId: string): Promise<SessionRecord | null> {
    const store = this.#requireStore("getSession");
    return await this.#storeCall(
      "getSession",
      () => store.getSession(sessionId, this.#options.now()),
    );
  }

  /**
   * Lists a DID's active sessions, newest first: the "your devices" page.
   *
   * @param did The user's DID.
   * @returns The active records.
   * @throws {ConfigurationError} Without a store.
   * @throws {StoreError} When the store fails.
   *
   * @example
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({
   *   cookieSecret: "a-secret-of-at-least-32-characters!",
   *   store: new MemorySessionStore(),
   * });
   * await sessions.createSession({ did: "did:plc:ewvi7nxzyoun6zhxrhs64oiz" }, { userAgent: "Firefox" });
   * const devices = await sessions.listSessions("did:plc:ewvi7nxzyoun6zhxrhs64oiz");
   * assert.equal(devices[0]?.metadata.userAgent, "Firefox");
   * ```
   */
  async listSessions(did: string): Promise<readonly SessionRecord[]> {
    const store = this.#requireStore("listSessions");
    return await this.#storeCall(
      "listSessions",
      () => store.listSessions(did, this.#options.now()),
    );
  }

  /**
   * Updates a session record: merges `metadata`, and may move
   * `lastAccessed` or `expiresAt`.
   *
   * @param sessionId The session id.
   * @param update The fields to change.
   * @returns The updated record, or null when the session is not active.
   * @throws {ConfigurationError} Without a store.
   * @throws {TypeError} When `lastAccessed` or `expiresAt` is not finite.
   * @throws {StoreError} When the store fails.
   *
   * @example
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({
   *   cookieSecret: "a-secret-of-at-least-32-characters!",
   *   store: new MemorySessionStore(),
   * });
   * assert.equal(await sessions.updateSession("no-such-id", { metadata: { scope: "atproto" } }), null);
   * ```
   */
  async updateSession(
    sessionId: string,
    update: SessionRecordUpdate,
  ): Promise<SessionRecord | null> {
    const store = this.#requireStore("updateSession");
    for (const field of ["lastAccessed", "expiresAt"] as const) {
      const value = update?.[field];
      if (value !== undefined && !Number.isFinite(value)) {
        throw new TypeError(
          `Cannot update session: ${field} must be a finite number of milliseconds: received ${
            String(value)
          }`,
        );
      }
    }
    const change: SessionRecordUpdate = {};
    if (update.metadata !== undefined) {
      change.metadata = copyMetadata(update.metadata);
    }
    if (update.lastAccessed !== undefined) {
      change.lastAccessed = update.lastAccessed;
    }
    if (update.expiresAt !== undefined) change.expiresAt = update.expiresAt;
    return await this.#storeCall(
      "updateSession",
      () => store.updateSession(sessionId, change, this.#options.now()),
    );
  }

  /**
   * Revokes one session: its cookie is rejected with `SESSION_REVOKED` on
   * the very next request, wherever it is replayed from.
   *
   * @param sessionId The session id.
   * @param did When given, revoke only if the session belongs to this DID.
   * Pass the signed-in user's DID whenever the id comes from a request (a
   * "revoke this device" form), so nobody can revoke another user's session.
   * @returns Whether a session was revoked.
   * @throws {ConfigurationError} Without a store.
   * @throws {StoreError} When the store fails.
   *
   * @example
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({
   *   cookieSecret: "a-secret-of-at-least-32-characters!",
   *   store: new MemorySessionStore(),
   * });
   * assert.equal(await sessions.revokeSession("no-such-id"), false);
   * ```
   */
  async revokeSession(sessionId: string, did?: string): Promise<boolean> {
    const store = this.#requireStore("revokeSession");
    if (did !== undefined) {
      const record = await this.#storeCall(
        "revokeSession",
        () => store.getSession(sessionId, this.#options.now()),
      );
      if (record === null || record.did !== did) return false;
    }
    const existed = await this.#storeCall(
      "revokeSession",
      () => store.deleteSession(sessionId),
    );
    if (existed) this.#options.logger.info("Session revoked");
    return existed;
  }

  /**
   * Revokes every session of a DID ("sign out everywhere"). Bearer tokens
   * are separate: revoke them by `jti` with `revokeToken`.
   *
   * @param did The user's DID.
   * @returns How many sessions were revoked.
   * @throws {ConfigurationError} Without a store.
   * @throws {StoreError} When the store fails.
   *
   * @example
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({
   *   cookieSecret: "a-secret-of-at-least-32-characters!",
   *   store: new MemorySessionStore(),
   * });
   * await sessions.createSession({ did: "did:web:example.com" });
   * assert.equal(await sessions.revokeAllSessions("did:web:example.com"), 1);
   * ```
   */
  async revokeAllSessions(did: string): Promise<number> {
    const store = this.#requireStore("revokeAllSessions");
    const count = await this.#storeCall(
      "revokeAllSessions",
      () => store.deleteAllSessions(did),
    );
    this.#options.logger.info("All sessions of a user revoked", { count });
    return count;
  }

  /**
   * Revokes a Bearer token by its `jti` (found in the token's data). The
   * entry expires on its own at `expiresAt`, when the token would have
   * expired anyway.
   *
   * @param jti The token id.
   * @param expiresAt When the token expires: a Date, or milliseconds since
   * the epoch (the token data's `expiresAt`).
   * @throws {ConfigurationError} Without a store.
   * @throws {TypeError} When `expiresAt` is not a valid time.
   * @throws {StoreError} When the store fails.
   *
   * @example
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({
   *   cookieSecret: "a-secret-of-at-least-32-characters!",
   *   store: new MemorySessionStore(),
   * });
   * const token = await sessions.sealToken({ did: "did:web:example.com" });
   * const data = await sessions.unsealToken(token);
   * await sessions.revokeToken(data!.jti!, data!.expiresAt!);
   * assert.equal(await sessions.unsealToken(token), null);
   * ```
   */
  async revokeToken(jti: string, expiresAt: Date | number): Promise<void> {
    const store = this.#requireStore("revokeToken");
    const until = expiresAt instanceof Date ? expiresAt.getTime() : expiresAt;
    if (typeof until !== "number" || !Number.isFinite(until)) {
      throw new TypeError(
        "Cannot revoke token: expiresAt must be a valid Date or milliseconds since the epoch",
      );
    }
    await this.#storeCall(
      "revokeToken",
      () => store.revokeToken(jti, until, this.#options.now()),
    );
    this.#options.logger.info("Bearer token revoked");
  }

  /**
   * Tells whether a Bearer token id was revoked.
   *
   * @param jti The token id.
   * @returns Whether it is revoked.
   * @throws {ConfigurationError} Without a store.
   * @throws {StoreError} When the store fails.
   *
   * @example
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({
   *   cookieSecret: "a-secret-of-at-least-32-characters!",
   *   store: new MemorySessionStore(),
   * });
   * assert.equal(await sessions.isTokenRevoked("some-jti"), false);
   * ```
   */
  async isTokenRevoked(jti: string): Promise<boolean> {
    const store = this.#requireStore("isTokenRevoked");
    return await this.#storeCall(
      "isTokenRevoked",
      () => store.isTokenRevoked(jti, this.#options.now()),
    );
  }

  // ---- request path -------------------------------------------------------

  async #reissueToken(data: SessionData): Promise<string | null> {
    const options = this.#options;
    const now = options.now();
    // Nothing left to refresh once the absolute lifetime is (nearly) spent.
    if (data.createdAt + options.maxSessionAgeMs - now < 1000) return null;
    const { jti, expiresAt } = data;
    const payload: SessionData = { ...data, lastAccessed: now };
    delete payload.jti;
    delete payload.expiresAt;
    const token = await this.#mintToken(payload, now);
    const store = options.store;
    if (store !== undefined && jti !== undefined) {
      try {
        await store.revokeToken(
          jti,
          expiresAt ?? now + options.tokenTtlMs,
          now,
        );
      } catch (error) {
        this.#storeUnavailable(error);
        return null;
      }
    }
    return token;
  }

  // Last-resort guards: client input must never make a request-path method
  // throw. Anything unexpected is logged as an error and fails closed.
  async #readCookieSafely(raw: string): Promise<SessionResult<T>> {
    try {
      return await this.#readCookie(raw);
    } catch (error) {
      this.#unexpected(error);
      return this.#sessionError(
        "INVALID_COOKIE",
        "Session cookie could not be read",
      );
    }
  }

  async #readTokenSafely(token: string): Promise<BearerResult<T>> {
    try {
      return await this.#readToken(token);
    } catch (error) {
      this.#unexpected(error);
      return bearerError("INVALID_TOKEN", "Bearer token could not be read");
    }
  }

  #unexpected(error: unknown): void {
    this.#options.logger.error("Unexpected error while reading a session", {
      error: error instanceof Error ? error.name : typeof error,
    });
  }

  async #readCookie(raw: string): Promise<SessionResult<T>> {
    const options = this.#options;
    const value = decodeCookieValue(raw);
    if (value === null) {
      return this.#rejectCookie(
        "INVALID_COOKIE",
        "Session cookie has an invalid percent-encoding",
      );
    }
    const now = options.now();
    const verified = await this.#verify(value, "cookie", now);
    if (!verified.ok) {
      switch (verified.reason) {
        case "MALFORMED":
          return this.#rejectCookie(
            "INVALID_COOKIE",
            "Session cookie is not a valid seal",
          );
        case "EXPIRED":
          return this.#rejectCookie("SESSION_EXPIRED", "Session expired");
        default:
          return this.#rejectCookie(
            verified.reason,
            describeFailure(verified.reason),
          );
      }
    }
    const { seal, data } = verified;
    if (seal.jti !== undefined) {
      return this.#rejectCookie(
        "INVALID_COOKIE",
        "A Bearer token is not a session cookie",
      );
    }
    const store = options.store;
    if (store !== undefined) {
      if (seal.sessionId === undefined) {
        return this.#rejectCookie(
          "SESSION_REVOKED",
          "Session has no server-side record",
        );
      }
      let record: SessionRecord | null;
      try {
        // Within clockSkew grace the record counts as live, like the seal.
        record = await store.getSession(
          seal.sessionId,
          now - options.clockSkewMs,
        );
      } catch (error) {
        return this.#storeUnavailable(error);
      }
      if (record === null && now >= seal.expiresAt) {
        // The store already forgot a session in its clockSkew grace.
        return this.#rejectCookie("SESSION_EXPIRED", "Session expired");
      }
      if (record === null || record.did !== data.did) {
        return this.#rejectCookie("SESSION_REVOKED", "Session was revoked");
      }
    }
    if (now - seal.lastAccessed >= options.refreshAfterMs) {
      // Not #expiryFrom: that throws for a spent lifetime, and this is the
      // request path.
      const expiresAt = Math.min(
        now + options.sessionTtlMs,
        seal.createdAt + options.maxSessionAgeMs,
      );
      // A session in its last second (or in clockSkew grace past its absolute
      // lifetime) is served as it is rather than re-sealed with no lifetime.
      if (expiresAt - now >= 1000) {
        data.lastAccessed = now;
        if (store !== undefined && seal.sessionId !== undefined) {
          let record: SessionRecord | null;
          try {
            record = await store.updateSession(
              seal.sessionId,
              { lastAccessed: now, expiresAt },
              now - options.clockSkewMs,
            );
          } catch (error) {
            return this.#storeUnavailable(error);
          }
          if (record === null) {
            return this.#rejectCookie("SESSION_REVOKED", "Session was revoked");
          }
        }
        const fresh = await this.#seal(data, expiresAt - now, now);
        this.#remember(fresh, "cookie", data, expiresAt);
        return {
          data: data as SessionData & T,
          setCookieHeader: this.#setCookieHeader(fresh, expiresAt - now),
          error: null,
        };
      }
    }
    return {
      data: data as SessionData & T,
      setCookieHeader: this.#setCookieHeader(value, seal.expiresAt - now),
      error: null,
    };
  }

  async #readToken(token: string): Promise<BearerResult<T>> {
    const options = this.#options;
    const now = options.now();
    const verified = await this.#verify(token, "token", now);
    if (!verified.ok) {
      switch (verified.reason) {
        case "MALFORMED":
          return this.#rejectToken(
            "INVALID_TOKEN",
            "Bearer token is not a valid seal",
          );
        case "EXPIRED":
          return this.#rejectToken("TOKEN_EXPIRED", "Bearer token expired");
        default:
          return this.#rejectToken(
            verified.reason,
            describeFailure(verified.reason),
          );
      }
    }
    const { seal, data } = verified;
    const store = options.store;
    if (store !== undefined) {
      if (seal.sessionId !== undefined) {
        return this.#rejectToken(
          "INVALID_TOKEN",
          "A session cookie is not a Bearer token",
        );
      }
      if (seal.jti === undefined) {
        return this.#rejectToken(
          "INVALID_TOKEN",
          "Bearer token has no jti, so it could not be revoked",
        );
      }
      let revoked: boolean;
      try {
        revoked = await store.isTokenRevoked(seal.jti, now);
      } catch (error) {
        this.#storeUnavailable(error);
        return bearerError("STORE_UNAVAILABLE", "Session store unavailable");
      }
      if (revoked) {
        return this.#rejectToken("TOKEN_REVOKED", "Bearer token was revoked");
      }
    }
    return { data: data as SessionData & T, error: null };
  }

  /**
   * Verifies a seal: the cache first, else structure, MAC and payload shape;
   * then expiry at `now` (one clock reading per request), on hits as on
   * misses.
   */
  async #verify(
    value: string,
    kind: SealKind,
    now: number,
  ): Promise<Verification> {
    const options = this.#options;
    let seal = this.#cache.get(value);
    let data: SessionData;
    if (seal !== undefined && seal.kind === kind) {
      data = JSON.parse(seal.json);
    } else {
      const parsed = parseSeal(value);
      if (parsed === null) return { ok: false, reason: "MALFORMED" };
      const opened = await options.keyring.open(parsed);
      if (!opened.ok) return { ok: false, reason: opened.type };
      const ttl = kind === "cookie" ? options.sessionTtlMs : options.tokenTtlMs;
      const issuedAt = parsed.expiration === null
        ? now
        : Math.min(now, parsed.expiration - ttl);
      const payload = readPayload(opened.payload, issuedAt);
      if (payload === null) {
        options.logger.warn("Authentic seal does not hold session data", {
          kind,
        });
        return { ok: false, reason: "MALFORMED" };
      }
      data = payload;
      const sealExpiry = parsed.expiration ?? data.lastAccessed + ttl;
      seal = this.#remember(
        value,
        kind,
        data,
        Math.min(sealExpiry, data.createdAt + options.maxSessionAgeMs),
      );
    }
    if (now >= seal.expiresAt + options.clockSkewMs) {
      return { ok: false, reason: "EXPIRED" };
    }
    if (kind === "token") data.expiresAt = seal.expiresAt;
    return { ok: true, seal, data };
  }

  // ---- helpers ------------------------------------------------------------

  #remember(
    value: string,
    kind: SealKind,
    data: SessionData,
    expiresAt: number,
  ): VerifiedSeal {
    const seal: VerifiedSeal = {
      kind,
      json: JSON.stringify(data),
      createdAt: data.createdAt,
      lastAccessed: data.lastAccessed,
      expiresAt,
      sessionId: data.sessionId,
      jti: data.jti,
    };
    this.#cache.set(value, seal);
    return seal;
  }

  async #mintToken(payload: SessionData, now: number): Promise<string> {
    const options = this.#options;
    const expiresAt = this.#expiryFrom(
      payload.createdAt,
      now,
      options.tokenTtlMs,
    );
    payload.jti = this.#newId();
    const token = await this.#seal(payload, expiresAt - now, now);
    if (token.length > MAX_SEAL_LENGTH) {
      throw new SessionDataError(
        "INVALID_SESSION_DATA",
        `Cannot seal token: it would be ${token.length} characters, over the ${MAX_SEAL_LENGTH}-character limit Bearer tokens are read with; keep less data in the session`,
      );
    }
    this.#remember(token, "token", payload, expiresAt);
    return token;
  }

  async #seal(
    payload: SessionData,
    ttlMs: number,
    now: number,
  ): Promise<string> {
    try {
      return await this.#options.keyring.seal(payload, ttlMs, now);
    } catch (error) {
      throw new SessionDataError(
        "INVALID_SESSION_DATA",
        "Cannot seal session data: it must be JSON-serialisable (plain objects, arrays, strings, finite numbers, booleans, null)",
        { cause: error },
      );
    }
  }

  /** When a session sealed now expires: the TTL, capped by `maxSessionAge`. */
  #expiryFrom(createdAt: number, now: number, ttlMs: number): number {
    const expiresAt = Math.min(
      now + ttlMs,
      createdAt + this.#options.maxSessionAgeMs,
    );
    if (expiresAt - now < 1000) {
      throw new SessionDataError(
        "INVALID_SESSION_DATA",
        "Cannot seal session: createdAt is older than maxSessionAge allows, so the session would already be expired",
      );
    }
    return expiresAt;
  }

  #setCookieHeader(seal: string, remainingMs: number): string {
    const maxAge = Math.max(0, Math.floor(remainingMs / 1000));
    return `${this.#options.cookieName}=${seal}; Max-Age=${maxAge}${this.#options.cookieAttributes}`;
  }

  #newId(): string {
    const id = this.#options.generateId();
    if (typeof id !== "string" || id.length === 0) {
      throw new ConfigurationError(
        `generateId must return a non-empty string: received ${typeof id}`,
      );
    }
    return id;
  }

  #sessionError(
    type: SessionErrorType,
    message: string,
    clear = false,
  ): SessionResult<T> {
    return {
      data: null,
      setCookieHeader: clear ? this.#clearCookieHeader : null,
      error: { type, message },
    };
  }

  #rejectCookie(type: SessionErrorType, message: string): SessionResult<T> {
    this.#log(type, "Session cookie rejected");
    return this.#sessionError(type, message, true);
  }

  #rejectToken(type: BearerErrorType, message: string): BearerResult<T> {
    this.#log(type, "Bearer token rejected");
    return bearerError(type, message);
  }

  #log(type: SessionErrorType | BearerErrorType, message: string): void {
    const logger = this.#options.logger;
    if (type === "TAMPERED" || type === "UNKNOWN_KEY") {
      logger.warn(message, { type });
    } else if (type === "SESSION_REVOKED" || type === "TOKEN_REVOKED") {
      logger.info(message, { type });
    } else logger.debug(message, { type });
  }

  #storeUnavailable(error: unknown): SessionResult<T> {
    this.#options.logger.warn("Session store unavailable; no session granted", {
      type: "STORE_UNAVAILABLE",
      error: error instanceof Error ? error.message : String(error),
    });
    return this.#sessionError("STORE_UNAVAILABLE", "Session store unavailable");
  }

  #requireStore(method: string): SessionStore {
    const store = this.#options.store;
    if (store === undefined) {
      throw new ConfigurationError(`${method}() ${NO_STORE_MESSAGE}`);
    }
    return store;
  }

  async #storeCall<R>(operation: string, call: () => Promise<R>): Promise<R> {
    try {
      return await call();
    } catch (error) {
      this.#options.logger.warn("Session store unavailable", {
        operation,
        error: error instanceof Error ? error.message : String(error),
      });
      throw new StoreError(`Session store failed during ${operation}`, {
        cause: error,
      });
    }
  }
}

function bearerError<T extends object>(
  type: BearerErrorType,
  message: string,
): BearerResult<T> {
  return {
    data: null,
    error: { type, message } satisfies SessionErrorInfo<BearerErrorType>,
  };
}

function describeFailure(reason: "TAMPERED" | "UNKNOWN_KEY"): string {
  return reason === "TAMPERED"
    ? "Seal failed verification (tampered, or sealed with another secret)"
    : "Seal names a secret id that is not configured";
}
