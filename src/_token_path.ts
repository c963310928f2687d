/**
 * The token path: sealing Bearer tokens, validating them, and refreshing
 * them (see `_token_rotation.ts` for the single-use rotation).
 *
 * With a store, every token is a session record of kind `"token"`: the
 * token carries the record's id and generation, and is valid only while
 * the record exists at that generation (a store that lost its data fails
 * closed). Tokens from version 0.1 carry a `jti` instead and are checked
 * against the revocation list. Without a store, tokens are stateless.
 *
 * A token sealed under a secret id that is not the newest keeps working
 * (it is counted in `keyUsage()`): it cannot be replaced without the
 * client, so it moves to the newest id at its next `refreshBearerToken`,
 * which always seals under the newest.
 *
 * @module
 */

import { extractBearerToken, hasBearerScheme } from "./_bearer.ts";
import type { ManagerContext } from "./_context.ts";
import { buildPayload } from "./_payload.ts";
import { createRecord } from "./_record_writes.ts";
import {
  bearerError,
  describeFailure,
  logRejection,
  logUnexpected,
} from "./_results.ts";
import { copyMetadata } from "./_session_record.ts";
import { TokenRotation } from "./_token_rotation.ts";
import type { VerifiedSeal } from "./_verifier.ts";
import type { SessionMetadata } from "./store.ts";
import type {
  BearerErrorType,
  BearerResult,
  SessionData,
  SessionInput,
} from "./types.ts";

/** An accepted token: its data and what the verifier knows of it. */
export interface AcceptedToken {
  readonly data: SessionData;
  readonly seal: VerifiedSeal;
}

/** Seals, validates and refreshes Bearer tokens. */
export class TokenPath<T extends object> {
  readonly #context: ManagerContext;
  readonly #rotation: TokenRotation;

  /** @param context The manager's internals. */
  constructor(context: ManagerContext) {
    this.#context = context;
    this.#rotation = new TokenRotation(context);
  }

  /**
   * Seals a new token; with a store, creates its session record.
   *
   * @param input The session data.
   * @param metadata With a store: what to record about the device.
   * @returns The token.
   */
  async seal(
    input: SessionInput<T>,
    metadata: SessionMetadata,
  ): Promise<string> {
    const context = this.#context;
    const now = context.now();
    const payload = buildPayload(input, now);
    return await this.mint(payload, metadata, now);
  }

  /**
   * Mints a generation-0 token for `payload` (with a record when there is
   * a store, else stateless with a `jti`).
   *
   * @param payload The data (its timestamps are kept).
   * @param metadata What to record about the device.
   * @param now The current time.
   * @returns The token.
   */
  async mint(
    payload: SessionData,
    metadata: SessionMetadata,
    now: number,
  ): Promise<string> {
    const context = this.#context;
    const { options, sealer, store } = context;
    const expiresAt = sealer.requireExpiry(
      payload.createdAt,
      now,
      options.tokenTtlMs,
    );
    if (store === undefined) {
      payload.jti = context.newId();
      const token = await sealer.seal(payload, "token", expiresAt, now);
      context.emit({
        type: "session.created",
        did: payload.did,
        sessionId: null,
        kind: "token",
        at: now,
        metadata: copyMetadata(metadata),
      });
      return token;
    }
    const id = context.newSessionId(payload.did);
    payload.sessionId = id;
    const token = await sealer.seal(payload, "token", expiresAt, now, 0);
    await createRecord(
      context,
      {
        id,
        did: payload.did,
        kind: "token",
        createdAt: payload.createdAt,
        lastAccessed: payload.lastAccessed,
        expiresAt,
        authenticatedAt: payload.authenticatedAt,
        generation: 0,
        rotatedAt: null,
        successor: null,
        metadata: copyMetadata(metadata),
      },
      now,
      { type: "session.created" },
    );
    return token;
  }

  /**
   * Validates an Authorization header; never throws or rejects.
   *
   * A token in the verified-seal cache is looked up before the token
   * alphabet is checked: every cache key is an Iron seal, whose characters
   * the alphabet admits, so the check could not fail on a hit. It still
   * runs on every miss, before any cryptography.
   *
   * @param header The header value.
   * @returns The data or a typed error.
   */
  validate(header: string | null | undefined): Promise<BearerResult<T>> {
    const context = this.#context;
    let now: number | undefined;
    if (hasBearerScheme(header)) {
      try {
        now = context.now();
        const hit = context.verifier.lookup(header.slice(7), "token", now);
        if (hit !== undefined) {
          hit.data.expiresAt = hit.seal.expiresAt;
          if (context.store === undefined) {
            return Promise.resolve({
              data: hit.data as SessionData & T,
              error: null,
            });
          }
          return this.#answer(this.#checkStore(hit, now));
        }
      } catch (error) {
        return Promise.resolve(this.#unexpected(error));
      }
    }
    const extracted = extractBearerToken(header);
    if (extracted.token === null) {
      context.logger.debug("Bearer token rejected", {
        type: extracted.error,
      });
      return Promise.resolve(bearerError(
        extracted.error,
        extracted.error === "NO_TOKEN"
          ? "No Bearer token"
          : "Authorization header is not a valid Bearer token",
      ));
    }
    return this.readSafely(extracted.token, now);
  }

  /**
   * Reads a bare token; never throws.
   *
   * @param token The token.
   * @param now The clock reading of this request, when already taken.
   * @returns The data or a typed error.
   */
  async readSafely(token: string, now?: number): Promise<BearerResult<T>> {
    try {
      return await this.#answer(
        this.#accept(token, now ?? this.#context.now()),
      );
    } catch (error) {
      return this.#unexpected(error);
    }
  }

  async #answer(
    accepting: Promise<AcceptedToken | BearerResult<T>>,
  ): Promise<BearerResult<T>> {
    try {
      const accepted = await accepting;
      if ("error" in accepted) return accepted;
      return { data: accepted.data as SessionData & T, error: null };
    } catch (error) {
      return this.#unexpected(error);
    }
  }

  #unexpected(error: unknown): BearerResult<T> {
    logUnexpected(this.#context.logger, error);
    return bearerError("INVALID_TOKEN", "Bearer token could not be read");
  }

  /**
   * Exchanges a valid token for its successor; never throws.
   *
   * @param header The header carrying the current token.
   * @returns The new token, or null.
   */
  async refresh(header: string | null | undefined): Promise<string | null> {
    const context = this.#context;
    try {
      const extracted = extractBearerToken(header);
      if (extracted.token === null) return null;
      const now = context.now();
      const verified = await this.#verify(extracted.token, now);
      if ("error" in verified) return null;
      const { seal, data } = verified;
      const store = context.store;
      if (store === undefined) {
        return await this.#rotation.stateless(data, now);
      }
      if (seal.sessionId !== undefined && seal.generation !== undefined) {
        return await this.#rotation.rotate(
          store,
          seal.sessionId,
          seal.generation,
          data,
          now,
        );
      }
      // A version 0.1 token: check its jti, then move it onto a record.
      const accepted = await this.#accept(extracted.token, now);
      if ("error" in accepted) return null;
      return await this.#rotation.upgrade(
        store,
        accepted.data,
        (payload) => this.mint(payload, {}, now),
        now,
      );
    } catch (error) {
      logUnexpected(context.logger, error);
      return null;
    }
  }

  async #verify(
    token: string,
    now: number,
  ): Promise<AcceptedToken | BearerResult<T>> {
    const verified = await this.#context.verifier.verify(token, "token", now);
    if (!verified.ok) {
      switch (verified.reason) {
        case "MALFORMED":
          return this.#reject(
            "INVALID_TOKEN",
            "Bearer token is not a valid seal",
          );
        case "WRONG_KIND":
          return this.#reject(
            "INVALID_TOKEN",
            "A session cookie is not a Bearer token",
          );
        case "EXPIRED":
          return this.#reject("TOKEN_EXPIRED", "Bearer token expired");
        default:
          return this.#reject(
            verified.reason,
            describeFailure(verified.reason),
          );
      }
    }
    verified.data.expiresAt = verified.seal.expiresAt;
    return { data: verified.data, seal: verified.seal };
  }

  async #accept(
    token: string,
    now: number,
  ): Promise<AcceptedToken | BearerResult<T>> {
    const verified = await this.#verify(token, now);
    if ("error" in verified) return verified;
    return await this.#checkStore(verified, now);
  }

  /** With a store: the record (or revocation list) check of every request. */
  async #checkStore(
    verified: AcceptedToken,
    now: number,
  ): Promise<AcceptedToken | BearerResult<T>> {
    const { seal, data } = verified;
    const context = this.#context;
    const store = context.store;
    if (store === undefined) return verified;
    const asOf = now - context.options.clockSkewMs;
    if (seal.sessionId !== undefined && seal.generation !== undefined) {
      const id = seal.sessionId;
      const read = await context.requestStoreCall(
        "getSession",
        () => store.getSession(id, asOf),
      );
      if (!read.ok) return this.#unavailable();
      const record = read.value;
      if (record === null) {
        return now >= seal.expiresAt
          ? this.#reject("TOKEN_EXPIRED", "Bearer token expired")
          : this.#reject("TOKEN_REVOKED", "Bearer token was revoked");
      }
      if (record.did !== data.did || record.kind !== "token") {
        return this.#reject("TOKEN_REVOKED", "Bearer token was revoked");
      }
      if (record.generation === seal.generation) return verified;
      if (record.generation > seal.generation) {
        await this.#rotation.stale(store, record, seal.generation, now);
        return this.#reject(
          "TOKEN_REVOKED",
          "Bearer token was replaced by refreshBearerToken",
        );
      }
      // The store holds an older generation than the token (a failover to
      // a lagging replica): fail closed.
      return this.#reject("TOKEN_REVOKED", "Bearer token was revoked");
    }
    if (seal.jti === undefined || seal.sessionId !== undefined) {
      return this.#reject(
        "INVALID_TOKEN",
        "Bearer token has no session record or jti, so it could not be revoked",
      );
    }
    const jti = seal.jti;
    const revoked = await context.requestStoreCall(
      "isTokenRevoked",
      () => store.isTokenRevoked(jti, asOf),
    );
    if (!revoked.ok) return this.#unavailable();
    if (revoked.value) {
      return this.#reject("TOKEN_REVOKED", "Bearer token was revoked");
    }
    return verified;
  }

  #reject(type: BearerErrorType, message: string): BearerResult<T> {
    logRejection(this.#context.logger, type, "Bearer token rejected");
    return bearerError(type, message);
  }

  #unavailable(): BearerResult<T> {
    return bearerError("STORE_UNAVAILABLE", "Session store unavailable");
  }
}
