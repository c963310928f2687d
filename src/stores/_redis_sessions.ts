/**
 * The session half of `RedisSessionStore`: records in one hash per DID,
 * every operation one command or one script on that one key.
 *
 * @module
 */

import {
  assertSessionCap,
  copyMetadata,
  newestFirst,
  timeToLive,
} from "../_session_record.ts";
import { StoreError } from "../errors.ts";
import type {
  CreateSessionOptions,
  RotationResult,
  SessionRecord,
  SessionRecordUpdate,
  TokenRotation,
} from "../store.ts";
import {
  decodeRecord,
  encodeRecord,
  toArray,
  toInteger,
  toText,
  toTextOrNull,
} from "./_redis_codec.ts";
import { didOfSessionId, type RedisKeyLayout } from "./_redis_keys.ts";
import { RedisHotRead } from "./_redis_hot_read.ts";
import {
  CREATE_SESSION,
  DELETE_ALL_SESSIONS,
  DELETE_SESSION,
  type RedisCommandFunction,
  REVOKE_TOKEN,
  ROTATE_TOKEN,
  runScript,
  UPDATE_SESSION,
} from "./_redis_scripts.ts";

/** What the session and value halves share. */
export interface RedisContext {
  /** The app's command function. */
  readonly command: RedisCommandFunction;
  /** The key layout. */
  readonly keys: RedisKeyLayout;
  /**
   * Waits until a replica has the writes made so far on `key`'s primary,
   * when `durableWrites` is on; resolves at once otherwise.
   */
  readonly settle: (key: string) => Promise<void>;
}

/** Session records, revocations of legacy tokens. */
export class RedisSessions {
  readonly #context: RedisContext;
  readonly #hotRead: RedisHotRead;

  /** @param context The command function, layout and durability. */
  constructor(context: RedisContext) {
    this.#context = context;
    this.#hotRead = new RedisHotRead(context.command, context.keys);
  }

  /** See `SessionStore.createSession`. */
  async createSession(
    record: SessionRecord,
    options: CreateSessionOptions,
    now: number,
  ): Promise<readonly SessionRecord[]> {
    const cap = options.maxSessionsPerUser;
    assertSessionCap(cap);
    if (didOfSessionId(record.id) !== record.did) {
      throw new TypeError(
        `Cannot create session: RedisSessionStore needs ids made by its sessionIdFor(did, id), which start with the record's DID and "~": received an id of ${record.id.length} characters that does not`,
      );
    }
    const replaces = options.replaces !== undefined &&
        didOfSessionId(options.replaces) === record.did
      ? options.replaces
      : "";
    const key = this.#context.keys.sessions(record.did);
    const reply = await runScript(this.#context.command, CREATE_SESSION, [
      key,
    ], [
      record.id,
      encodeRecord(record),
      String(record.expiresAt),
      String(cap ?? -1),
      String(now),
      replaces,
    ]);
    await this.#context.settle(key);
    return decodeAll(reply);
  }

  /** The hot read (see `_redis_hot_read.ts`). */
  get hotRead(): RedisHotRead {
    return this.#hotRead;
  }

  /**
   * See `SessionStore.getSession`: one `HGET`; a reply identical to the
   * last one for this id is not decoded again (see `_redis_hot_read.ts`).
   */
  getSession(id: string, now: number): Promise<SessionRecord | null> {
    return this.#hotRead.read(id, now);
  }

  /** See `SessionStore.updateSession`: one script. */
  async updateSession(
    id: string,
    update: SessionRecordUpdate,
    now: number,
  ): Promise<SessionRecord | null> {
    const did = didOfSessionId(id);
    if (did === null) return null;
    const reply = await runScript(
      this.#context.command,
      UPDATE_SESSION,
      [this.#context.keys.sessions(did)],
      [
        id,
        String(now),
        update.lastAccessed === undefined ? "" : String(update.lastAccessed),
        update.expiresAt === undefined ? "" : String(update.expiresAt),
        update.metadata === undefined
          ? ""
          : JSON.stringify(copyMetadata(update.metadata)),
      ],
    );
    const [code, raw] = recordReply(reply);
    return code === 1 ? decodeRecord(raw!) : null;
  }

  /** See `SessionStore.rotateToken`: one compare-and-set script. */
  async rotateToken(
    id: string,
    generation: number,
    rotation: TokenRotation,
    now: number,
  ): Promise<RotationResult> {
    const did = didOfSessionId(id);
    if (did === null) return { rotated: false, record: null };
    const key = this.#context.keys.sessions(did);
    const reply = await runScript(this.#context.command, ROTATE_TOKEN, [key], [
      id,
      String(now),
      String(generation),
      String(rotation.lastAccessed),
      String(rotation.expiresAt),
      rotation.successor,
    ]);
    const [code, raw] = recordReply(reply);
    if (code !== 1) {
      return {
        rotated: false,
        record: raw === null ? null : decodeRecord(raw),
      };
    }
    await this.#context.settle(key);
    return { rotated: true, record: decodeRecord(raw!) };
  }

  /** See `SessionStore.listSessions`: one `HVALS`. */
  async listSessions(
    did: string,
    now: number,
  ): Promise<readonly SessionRecord[]> {
    const key = this.#context.keys.sessions(did);
    const reply = await this.#context.command(["HVALS", key], {
      key,
      readonly: true,
    });
    return decodeAll(reply)
      .filter((record) => record.expiresAt > now && record.did === did)
      .sort(newestFirst);
  }

  /** See `SessionStore.deleteSession`: one script. */
  async deleteSession(id: string): Promise<SessionRecord | null> {
    const did = didOfSessionId(id);
    if (did === null) return null;
    const key = this.#context.keys.sessions(did);
    const raw = toTextOrNull(
      await runScript(this.#context.command, DELETE_SESSION, [key], [id]),
    );
    if (raw === null) return null;
    await this.#context.settle(key);
    return tryDecode(raw);
  }

  /** See `SessionStore.deleteAllSessions`: one script. */
  async deleteAllSessions(did: string): Promise<readonly SessionRecord[]> {
    const key = this.#context.keys.sessions(did);
    const deleted = decodeAll(
      await runScript(this.#context.command, DELETE_ALL_SESSIONS, [key], []),
    );
    if (deleted.length > 0) await this.#context.settle(key);
    return deleted;
  }

  /** See `SessionStore.revokeToken`. */
  async revokeToken(
    jti: string,
    expiresAt: number,
    now: number,
  ): Promise<void> {
    if (!Number.isFinite(expiresAt) || expiresAt <= now) return;
    const key = this.#context.keys.revoked(jti);
    await runScript(this.#context.command, REVOKE_TOKEN, [key], [
      String(expiresAt),
      String(timeToLive(expiresAt, now)),
    ]);
    await this.#context.settle(key);
  }

  /** See `SessionStore.isTokenRevoked`: one `GET`. */
  async isTokenRevoked(jti: string, now: number): Promise<boolean> {
    const key = this.#context.keys.revoked(jti);
    const raw = toTextOrNull(
      await this.#context.command(["GET", key], { key, readonly: true }),
    );
    return raw !== null && Number(raw) > now;
  }
}

/** A `{code, JSON or nil}` script reply. */
function recordReply(reply: unknown): [number, string | null] {
  const [code, raw] = toArray(reply);
  const status = toInteger(code);
  if (status === -1) {
    throw new StoreError(
      "RedisSessionStore found a session record of the wrong shape",
    );
  }
  return [status, toTextOrNull(raw)];
}

/** The records of an array reply, skipping any that are not records. */
function decodeAll(reply: unknown): SessionRecord[] {
  const records: SessionRecord[] = [];
  for (const item of toArray(reply)) {
    const record = tryDecode(toText(item));
    if (record !== null) records.push(record);
  }
  return records;
}

function tryDecode(raw: string): SessionRecord | null {
  try {
    return decodeRecord(raw);
  } catch {
    return null;
  }
}
