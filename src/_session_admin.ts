/**
 * The store-backed management API: reading, listing, updating and revoking
 * sessions (cookies and tokens alike), and the revocation list of tokens
 * from before tokens had records. Every call is bounded by `storeTimeout`
 * and throws `StoreError` when the store fails; none returns a record's
 * `successor`.
 *
 * @module
 */

import type { ManagerContext } from "./_context.ts";
import { copyMetadata, publicRecord } from "./_session_record.ts";
import type { RevocationReason } from "./events.ts";
import type { SessionRecord, SessionRecordUpdate } from "./store.ts";

/** Management calls on a manager's store. */
export class SessionAdmin {
  readonly #context: ManagerContext;

  /** @param context The manager's internals. */
  constructor(context: ManagerContext) {
    this.#context = context;
  }

  /**
   * @param sessionId The id.
   * @returns The active record, or null.
   */
  async getSession(sessionId: string): Promise<SessionRecord | null> {
    const context = this.#context;
    const store = context.requireStore("getSession");
    const now = context.now();
    const record = await context.storeCall(
      "getSession",
      () => store.getSession(sessionId, now),
    );
    return record === null ? null : publicRecord(record);
  }

  /**
   * @param did The DID.
   * @returns Its active records, newest first.
   */
  async listSessions(did: string): Promise<readonly SessionRecord[]> {
    const context = this.#context;
    const store = context.requireStore("listSessions");
    const now = context.now();
    const records = await context.storeCall(
      "listSessions",
      () => store.listSessions(did, now),
    );
    return Object.freeze(records.map(publicRecord));
  }

  /**
   * @param sessionId The id.
   * @param update The change.
   * @returns The updated record, or null.
   */
  async updateSession(
    sessionId: string,
    update: SessionRecordUpdate,
  ): Promise<SessionRecord | null> {
    const context = this.#context;
    const store = context.requireStore("updateSession");
    for (const field of ["lastAccessed", "expiresAt"] as const) {
      const value = update?.[field];
      if (value !== undefined && !Number.isFinite(value)) {
        throw new TypeError(
          `Cannot update session: ${field} must be a finite number of milliseconds: received ${
            typeof value === "number" ? String(value) : typeof value
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
    const now = context.now();
    const record = await context.storeCall(
      "updateSession",
      () => store.updateSession(sessionId, change, now),
    );
    return record === null ? null : publicRecord(record);
  }

  /**
   * @param sessionId The id.
   * @param did When given, revoke only a session of this DID.
   * @returns Whether a session was revoked.
   */
  async revokeSession(sessionId: string, did?: string): Promise<boolean> {
    const context = this.#context;
    const store = context.requireStore("revokeSession");
    const now = context.now();
    if (did !== undefined) {
      const record = await context.storeCall(
        "getSession",
        () => store.getSession(sessionId, now),
      );
      if (record === null || record.did !== did) return false;
    }
    const deleted = await context.storeCall(
      "deleteSession",
      () => store.deleteSession(sessionId),
    );
    if (deleted === null) return false;
    context.logger.info("Session revoked", { kind: deleted.kind });
    this.#revoked(deleted, "revoked", now);
    return true;
  }

  /**
   * @param did The DID.
   * @returns How many sessions were revoked.
   */
  async revokeAllSessions(did: string): Promise<number> {
    const context = this.#context;
    const store = context.requireStore("revokeAllSessions");
    const now = context.now();
    const deleted = await context.storeCall(
      "deleteAllSessions",
      () => store.deleteAllSessions(did),
    );
    context.logger.info("All sessions of a user revoked", {
      count: deleted.length,
    });
    for (const record of deleted) this.#revoked(record, "revoked_all", now);
    return deleted.length;
  }

  /**
   * @param jti A legacy token's id.
   * @param expiresAt When the token expires.
   */
  async revokeToken(jti: string, expiresAt: Date | number): Promise<void> {
    const context = this.#context;
    const store = context.requireStore("revokeToken");
    const until = expiresAt instanceof Date ? expiresAt.getTime() : expiresAt;
    if (typeof until !== "number" || !Number.isFinite(until)) {
      throw new TypeError(
        "Cannot revoke token: expiresAt must be a valid Date or milliseconds since the epoch",
      );
    }
    const now = context.now();
    // Kept through the clockSkew grace, in which the token is still read.
    const keepUntil = until + context.options.clockSkewMs;
    await context.storeCall(
      "revokeToken",
      () => store.revokeToken(jti, keepUntil, now),
    );
    context.logger.info("Bearer token revoked");
  }

  /**
   * @param jti A legacy token's id.
   * @returns Whether it is revoked.
   */
  async isTokenRevoked(jti: string): Promise<boolean> {
    const context = this.#context;
    const store = context.requireStore("isTokenRevoked");
    const now = context.now();
    return await context.storeCall(
      "isTokenRevoked",
      () => store.isTokenRevoked(jti, now),
    );
  }

  #revoked(record: SessionRecord, reason: RevocationReason, now: number): void {
    this.#context.emit({
      type: "session.revoked",
      did: record.did,
      sessionId: record.id,
      kind: record.kind,
      at: now,
      reason,
    });
  }
}
