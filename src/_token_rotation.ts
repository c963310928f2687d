/**
 * Single-use Bearer token rotation with reuse detection.
 *
 * ## The rules
 *
 * - `refreshBearerToken` seals generation `g + 1` and asks the store to
 *   move the record from `g` to `g + 1` in one compare-and-set
 *   (`rotateToken`), keeping the new token sealed in `record.successor`.
 *   Of any number of concurrent refreshes of one token, on any number of
 *   servers sharing the store, exactly one rotates; the old token stops
 *   validating at once.
 * - A refresh that lost the race, or an honest retry of a refresh whose
 *   reply was lost, within `tokenReuseGrace` of the rotation receives the
 *   same new token (the record's successor), so N concurrent refreshes of
 *   one token return one distinct token.
 * - Presenting a rotated-away token anywhere (to `validateBearerToken` or
 *   `refreshBearerToken`) outside the grace, or a token two or more
 *   generations old, is reuse (RFC 9700 §4.14: a thief and the real client
 *   both hold it): the whole session is revoked, a `warn` is logged and
 *   `token.reuse_detected` and `session.revoked` are emitted. Inside the
 *   grace, `validateBearerToken` answers `TOKEN_REVOKED` without revoking.
 *
 * @module
 */

import type { ManagerContext } from "./_context.ts";
import { logRejection } from "./_results.ts";
import { describeStoreError, settleWithin } from "./_store_calls.ts";
import { StoreError } from "./errors.ts";
import type { SessionRecord, SessionStore } from "./store.ts";
import type { SessionData } from "./types.ts";

/** The purpose successors are sealed for at rest. */
const SUCCESSOR_PURPOSE = "token-successor";

/** Rotates tokens and detects reuse. */
export class TokenRotation {
  readonly #context: ManagerContext;

  /** @param context The manager's internals. */
  constructor(context: ManagerContext) {
    this.#context = context;
  }

  /**
   * Rotates a record-backed token of generation `generation`.
   *
   * @param store The store.
   * @param id The session id.
   * @param generation The presented token's generation.
   * @param data The presented token's data.
   * @param now The current time.
   * @returns The new token (the same one for every caller of a rotation),
   * or null.
   */
  async rotate(
    store: SessionStore,
    id: string,
    generation: number,
    data: SessionData,
    now: number,
  ): Promise<string | null> {
    const context = this.#context;
    const { options, sealer, logger } = context;
    const payload = this.#nextPayload(data, now);
    if (payload === null) return null;
    const { expiresAt } = payload;
    const next = generation + 1;
    const token = await sealer.seal(
      payload.data,
      "token",
      expiresAt,
      now,
      next,
    );
    const successor = await sealer.sealValue(
      SUCCESSOR_PURPOSE,
      token,
      expiresAt - now,
      now,
    );
    const outcome = await context.requestStoreCall(
      "rotateToken",
      () =>
        store.rotateToken(
          id,
          generation,
          { lastAccessed: now, expiresAt, successor },
          now - options.clockSkewMs,
        ),
    );
    if (!outcome.ok) return null;
    const { record } = outcome.value;
    if (outcome.value.rotated) {
      context.emit({
        type: "token.rotated",
        did: outcome.value.record.did,
        sessionId: id,
        kind: "token",
        at: now,
        generation: next,
      });
      logger.debug("Bearer token rotated");
      return token;
    }
    if (record === null || record.did !== data.did || record.kind !== "token") {
      logRejection(logger, "TOKEN_REVOKED", "Bearer token refresh refused");
      return null;
    }
    if (
      record.generation === next && this.#withinGrace(record, now) &&
      record.successor !== null
    ) {
      const same = await sealer.openValue(
        SUCCESSOR_PURPOSE,
        record.successor,
        now,
      );
      if (typeof same === "string") {
        logger.debug(
          "Bearer token refresh repeated within tokenReuseGrace; same successor returned",
        );
        return same;
      }
      return null;
    }
    if (record.generation > generation) {
      await this.stale(store, record, generation, now);
    }
    return null;
  }

  /**
   * Handles a token presented after its record moved on: reuse unless it
   * is the previous generation within the grace.
   *
   * @param store The store.
   * @param record The record as stored.
   * @param presented The presented token's generation.
   * @param now The current time.
   */
  async stale(
    store: SessionStore,
    record: SessionRecord,
    presented: number,
    now: number,
  ): Promise<void> {
    if (presented === record.generation - 1 && this.#withinGrace(record, now)) {
      return;
    }
    const context = this.#context;
    const base = {
      did: record.did,
      sessionId: record.id,
      kind: record.kind,
      at: now,
    };
    context.logger.warn(
      "Bearer token reuse detected: a rotated-away token was presented; session revoked",
      { type: "TOKEN_REUSE", generation: record.generation, presented },
    );
    context.emit({
      ...base,
      type: "token.reuse_detected",
      generation: record.generation,
      presentedGeneration: presented,
    });
    const deleted = await context.requestStoreCall(
      "deleteSession",
      () => store.deleteSession(record.id),
    );
    if (deleted.ok && deleted.value !== null) {
      context.emit({ ...base, type: "session.revoked", reason: "token_reuse" });
    }
  }

  /**
   * Refreshes a stateless token (no store): a new token with a new `jti`;
   * the old one stays valid until it expires.
   *
   * @param data The presented token's data.
   * @param now The current time.
   * @returns The new token, or null once `maxSessionAge` is spent.
   */
  async stateless(data: SessionData, now: number): Promise<string | null> {
    const context = this.#context;
    const payload = this.#nextPayload(data, now);
    if (payload === null) return null;
    payload.data.jti = context.newId();
    const token = await context.sealer.seal(
      payload.data,
      "token",
      payload.expiresAt,
      now,
    );
    context.emit({
      type: "token.rotated",
      did: data.did,
      sessionId: null,
      kind: "token",
      at: now,
      generation: 0,
    });
    return token;
  }

  /**
   * Refreshes a version 0.1 token (a `jti`, no record): mints a
   * record-backed token, then revokes the old `jti`. Not single-use:
   * concurrent refreshes of one old token may each get a session (each is
   * listed and revocable); every refresh after that is.
   *
   * @param store The store.
   * @param data The presented token's data (its jti checked).
   * @param mint Mints a record-backed token for a payload.
   * @param now The current time.
   * @returns The new token, or null.
   */
  async upgrade(
    store: SessionStore,
    data: SessionData,
    mint: (payload: SessionData) => Promise<string>,
    now: number,
  ): Promise<string | null> {
    const context = this.#context;
    const { jti, expiresAt } = data;
    const payload = this.#nextPayload(data, now);
    if (payload === null || jti === undefined) return null;
    let token: string;
    try {
      token = await mint(payload.data);
    } catch (error) {
      if (error instanceof StoreError) return null;
      throw error;
    }
    const until = (expiresAt ?? now + context.options.tokenTtlMs) +
      context.options.clockSkewMs;
    const revoked = await context.requestStoreCall(
      "revokeToken",
      () => store.revokeToken(jti, until, now),
    );
    if (revoked.ok) return token;
    // Keep the old token working rather than leave two live ones.
    const sessionId = payload.data.sessionId;
    if (sessionId !== undefined) {
      const removed = await settleWithin(
        "deleteSession",
        () => store.deleteSession(sessionId),
        context.options.storeTimeoutMs,
      );
      if (!removed.ok) {
        context.logger.warn("Could not remove an unused token session", {
          error: describeStoreError(removed.error),
        });
      }
    }
    return null;
  }

  #nextPayload(
    data: SessionData,
    now: number,
  ): { data: SessionData; expiresAt: number } | null {
    const { options, sealer } = this.#context;
    const expiresAt = sealer.expiryFrom(
      data.createdAt,
      now,
      options.tokenTtlMs,
    );
    // Nothing left to refresh once the absolute lifetime is (nearly) spent.
    if (expiresAt - now < 1000) return null;
    const next: SessionData = { ...data, lastAccessed: now };
    delete next.expiresAt;
    delete next.jti;
    return { data: next, expiresAt };
  }

  #withinGrace(record: SessionRecord, now: number): boolean {
    return record.rotatedAt !== null &&
      now - record.rotatedAt <= this.#context.options.tokenReuseGraceMs;
  }
}
