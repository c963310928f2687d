/**
 * The session half of `PostgresSessionStore`: records and revoked legacy
 * token ids, every operation one statement.
 *
 * @module
 */

import { assertSessionCap, newestFirst } from "../_session_record.ts";
import type {
  CreateSessionOptions,
  RotationResult,
  SessionRecord,
  SessionRecordUpdate,
  SessionStore,
  TokenRotation,
} from "../store.ts";
import type { PostgresContext } from "./_postgres_options.ts";
import {
  metadataParam,
  recordParams,
  rowToRecord,
  toText,
  whole,
} from "./_postgres_rows.ts";

/** Session records and revocations over one client. */
export class PostgresSessions implements SessionStore {
  readonly #context: PostgresContext;

  /** @param context The statements and the runner. */
  constructor(context: PostgresContext) {
    this.#context = context;
  }

  /** See `SessionStore.createSession`: one call of `create_session`. */
  async createSession(
    record: SessionRecord,
    options: CreateSessionOptions,
    now: number,
  ): Promise<readonly SessionRecord[]> {
    const { sql, runner } = this.#context;
    const cap = options?.maxSessionsPerUser;
    assertSessionCap(cap);
    const rows = await runner.query(sql.createSession, [
      ...recordParams(record),
      cap ?? null,
      typeof options?.replaces === "string" ? toText(options.replaces) : null,
      whole("now", now),
    ]);
    runner.maybeSweep(now);
    return rows.map(rowToRecord);
  }

  /** See `SessionStore.getSession`: one `SELECT`. */
  async getSession(id: string, now: number): Promise<SessionRecord | null> {
    const { sql, runner } = this.#context;
    const [row] = await runner.query(sql.getSession, [
      toText(id),
      whole("now", now),
    ]);
    return row === undefined ? null : rowToRecord(row);
  }

  /** See `SessionStore.updateSession`: one `UPDATE`. */
  async updateSession(
    id: string,
    update: SessionRecordUpdate,
    now: number,
  ): Promise<SessionRecord | null> {
    const { sql, runner } = this.#context;
    const [row] = await runner.query(sql.updateSession, [
      toText(id),
      update.lastAccessed === undefined
        ? null
        : whole("lastAccessed", update.lastAccessed),
      update.expiresAt === undefined
        ? null
        : whole("expiresAt", update.expiresAt, Math.ceil),
      metadataParam(update.metadata),
      whole("now", now),
    ]);
    return row === undefined ? null : rowToRecord(row);
  }

  /**
   * See `SessionStore.rotateToken`: a compare-and-set `UPDATE`, then a read if
   * it lost.
   */
  async rotateToken(
    id: string,
    generation: number,
    rotation: TokenRotation,
    now: number,
  ): Promise<RotationResult> {
    const { sql, runner } = this.#context;
    const [row] = await runner.query(sql.rotateToken, [
      toText(id),
      whole("generation", generation),
      whole("lastAccessed", rotation.lastAccessed),
      whole("expiresAt", rotation.expiresAt, Math.ceil),
      toText(rotation.successor),
      whole("now", now),
    ]);
    if (row !== undefined) {
      return Object.freeze({ rotated: true, record: rowToRecord(row) });
    }
    return Object.freeze({
      rotated: false,
      record: await this.getSession(id, now),
    });
  }

  /** See `SessionStore.listSessions`: one `SELECT`, newest first. */
  async listSessions(
    did: string,
    now: number,
  ): Promise<readonly SessionRecord[]> {
    const { sql, runner } = this.#context;
    const rows = await runner.query(sql.listSessions, [
      toText(did),
      whole("now", now),
    ]);
    return rows.map(rowToRecord).sort(newestFirst);
  }

  /** See `SessionStore.deleteSession`: one `DELETE ... RETURNING`. */
  async deleteSession(id: string): Promise<SessionRecord | null> {
    const { sql, runner } = this.#context;
    const [row] = await runner.query(sql.deleteSession, [toText(id)]);
    return row === undefined ? null : rowToRecord(row);
  }

  /** See `SessionStore.deleteAllSessions`: one `DELETE`, newest first. */
  async deleteAllSessions(did: string): Promise<readonly SessionRecord[]> {
    const { sql, runner } = this.#context;
    const rows = await runner.query(sql.deleteAllSessions, [toText(did)]);
    return rows.map(rowToRecord).sort(newestFirst);
  }

  /** See `SessionStore.revokeToken`: keeps the later of two expiries. */
  async revokeToken(
    jti: string,
    expiresAt: number,
    now: number,
  ): Promise<void> {
    if (!(expiresAt > now)) return;
    const { sql, runner } = this.#context;
    await runner.query(sql.revokeToken, [
      toText(jti),
      whole("expiresAt", expiresAt, Math.ceil),
    ]);
    runner.maybeSweep(now);
  }

  /** See `SessionStore.isTokenRevoked`: one `SELECT`. */
  async isTokenRevoked(jti: string, now: number): Promise<boolean> {
    const { sql, runner } = this.#context;
    const rows = await runner.query(sql.isTokenRevoked, [
      toText(jti),
      whole("now", now),
    ]);
    return rows.length > 0;
  }
}
