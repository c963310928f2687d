/**
 * The last decoded form of recently read session records, so the hot read
 * (the one a manager makes on every request) does not parse, validate and
 * freeze the same stored bytes again.
 *
 * An entry is keyed by the session id and answers only for the exact
 * stored version it was decoded from (Deno KV's versionstamp; the Redis
 * store keeps its own, by reply text, in `_redis_hot_read.ts`). Any other
 * version is decoded (and validated) afresh and replaces it. The records
 * are frozen, metadata included, so one can be handed to every caller. Expiry is not part of the memo: the store still
 * checks it on every read.
 *
 * @module
 */

import { LruCache } from "../_lru_cache.ts";
import type { SessionRecord } from "../store.ts";

/** How many records a store remembers decoded (least recently read dropped). */
export const RECORD_MEMO_SIZE = 1024;

interface Decoded {
  readonly version: string;
  readonly record: SessionRecord;
}

/** Decoded records by id, each for one stored version. */
export class RecordMemo {
  readonly #entries: LruCache<string, Decoded>;

  /** @param capacity The most records remembered. */
  constructor(capacity: number = RECORD_MEMO_SIZE) {
    this.#entries = new LruCache(capacity);
  }

  /**
   * The record decoded from exactly this stored version, if remembered.
   *
   * @param id The session id.
   * @param version The stored version (reply text or versionstamp).
   * @returns The frozen record, or undefined.
   */
  get(id: string, version: string): SessionRecord | undefined {
    const decoded = this.#entries.get(id);
    return decoded !== undefined && decoded.version === version
      ? decoded.record
      : undefined;
  }

  /**
   * Remembers what a stored version decoded to.
   *
   * @param id The session id.
   * @param version The stored version.
   * @param record The frozen record decoded from it.
   */
  set(id: string, version: string, record: SessionRecord): void {
    this.#entries.set(id, { version, record });
  }
}
