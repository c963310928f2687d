/**
 * The Redis store's hot read: `getSession`, which a manager makes on every
 * request, as one `HGET` on the DID's hash.
 *
 * For the last {@linkcode RECORD_MEMO_SIZE} session ids read it keeps a
 * slot with:
 *
 * - the command's key and route, built once: a key built per call is a
 *   new string that the client measures and copies afresh for every
 *   command, and the route object is shared (frozen) rather than
 *   allocated per call;
 * - the record decoded from the last reply, which answers again only for
 *   a byte-identical reply (so it is not parsed, validated and frozen
 *   again). Any other reply is decoded afresh and replaces it; no reply
 *   is ever answered from the slot alone, and expiry is checked on every
 *   read.
 *
 * It is also the store's {@linkcode HotReader}: the manager sends
 * {@linkcode RedisHotRead.start} and decodes with
 * {@linkcode RedisHotRead.finish} in the reaction that receives the reply,
 * and `getSession` is exactly those two steps.
 *
 * @module
 */

import type { HotReader } from "../_hot_read.ts";
import { LruCache } from "../_lru_cache.ts";
import type { SessionRecord } from "../store.ts";
import { decodeRecord, toTextOrNull } from "./_redis_codec.ts";
import { didOfSessionId, type RedisKeyLayout } from "./_redis_keys.ts";
import { RECORD_MEMO_SIZE } from "./_record_memo.ts";
import type { RedisCommandFunction, RedisRoute } from "./_redis_scripts.ts";

/** What the hot read keeps for one session id. */
interface Slot {
  readonly id: string;
  readonly key: string;
  readonly route: RedisRoute;
  /** The last reply decoded, and what it decoded to. */
  raw: string | null;
  record: SessionRecord | null;
}

const NO_REPLY: Promise<unknown> = Promise.resolve(null);

/** Reads session records by id, one `HGET` each. */
export class RedisHotRead implements HotReader {
  readonly #command: RedisCommandFunction;
  readonly #keys: RedisKeyLayout;
  readonly #slots = new LruCache<string, Slot>(RECORD_MEMO_SIZE);

  /**
   * @param command The app's command function.
   * @param keys The key layout.
   */
  constructor(command: RedisCommandFunction, keys: RedisKeyLayout) {
    this.#command = command;
    this.#keys = keys;
  }

  /**
   * The slot of a session id, or null for an id that names no DID (whose
   * reply is null).
   *
   * @param id The session id.
   * @returns The handle for {@linkcode start} and {@linkcode finish}.
   */
  open(id: string): Slot | null {
    return this.#slot(id);
  }

  /**
   * Sends the `HGET` of a session record.
   *
   * @param slot What {@linkcode open} returned.
   * @returns The raw reply.
   */
  start(slot: Slot | null): Promise<unknown> {
    return slot === null
      ? NO_REPLY
      : this.#command(["HGET", slot.key, slot.id], slot.route);
  }

  /**
   * Decodes a reply of {@linkcode start}.
   *
   * @param slot What {@linkcode open} returned.
   * @param reply The raw reply.
   * @param now The manager's clock.
   * @returns The record if it is live at `now`, or null.
   * @throws {StoreError} When the stored record is unreadable.
   */
  finish(slot: Slot | null, reply: unknown, now: number): SessionRecord | null {
    const raw = toTextOrNull(reply);
    if (raw === null || slot === null) return null;
    let record = slot.raw === raw ? slot.record : null;
    if (record === null) {
      record = decodeRecord(raw);
      slot.raw = raw;
      slot.record = record;
    }
    return record.expiresAt > now ? record : null;
  }

  /**
   * See `SessionStore.getSession`: {@linkcode open}, {@linkcode start},
   * then {@linkcode finish}.
   *
   * @param id The session id.
   * @param now The manager's clock.
   * @returns The live record, or null.
   */
  read(id: string, now: number): Promise<SessionRecord | null> {
    const slot = this.#slot(id);
    return this.start(slot).then((reply) => this.finish(slot, reply, now));
  }

  #slot(id: string): Slot | null {
    const known = this.#slots.get(id);
    if (known !== undefined) return known;
    const did = didOfSessionId(id);
    if (did === null) return null;
    const key = this.#keys.sessions(did);
    const slot: Slot = {
      id,
      key,
      route: Object.freeze({ key, readonly: true }),
      raw: null,
      record: null,
    };
    this.#slots.set(id, slot);
    return slot;
  }
}
