/**
 * The Deno KV store's hot read: `getSession`, which a manager makes on
 * every request.
 *
 * The record's key is built synchronously (an id short enough to be its
 * own key part, which every generated id is; a longer one is keyed by its
 * SHA-256, computed asynchronously), the `get` runs outside the retry loop
 * and enters it only when the database answers "locked" (the loop then
 * counts that round as its first), and a record is decoded once per
 * versionstamp (see `_record_memo.ts`). Expiry is judged on every read.
 *
 * @module
 */

import { toSessionRecord } from "../_session_record.ts";
import type { SessionRecord } from "../store.ts";
import type { KvKeys } from "./_deno_kv_keys.ts";
import { isLockError, retry, type RetryLimits } from "./_deno_kv_retry.ts";
import { RecordMemo } from "./_record_memo.ts";

/**
 * A record if it is still live at `now`.
 *
 * @param record The record, or null.
 * @param now The manager's clock.
 * @returns The record, or null when absent or expired.
 */
export function live(
  record: SessionRecord | null,
  now: number,
): SessionRecord | null {
  return record !== null && record.expiresAt > now ? record : null;
}

/** Reads session records by id. */
export class KvRecordReads {
  readonly #kv: Deno.Kv;
  readonly #keys: KvKeys;
  readonly #limits: RetryLimits;
  readonly #decoded = new RecordMemo();

  /**
   * @param kv The database.
   * @param keys The key layout.
   * @param limits The retry bounds.
   */
  constructor(kv: Deno.Kv, keys: KvKeys, limits: RetryLimits) {
    this.#kv = kv;
    this.#keys = keys;
    this.#limits = limits;
  }

  /**
   * See `SessionStore.getSession`: one `get`.
   *
   * @param id The session id.
   * @param now The manager's clock.
   * @returns The live record, or null.
   */
  getSession(id: string, now: number): Promise<SessionRecord | null> {
    const key = this.#keys.sessionNow(id);
    if (key === null) return this.#retrying(id, now);
    let read: Promise<Deno.KvEntryMaybe<unknown>>;
    try {
      read = this.#kv.get(key);
    } catch (error) {
      return this.#after(id, now, error);
    }
    return read.then(
      (entry) => live(this.#decode(id, entry), now),
      (error: unknown) => this.#after(id, now, error),
    );
  }

  /** The read again, in the retry loop, after a first round threw. */
  #after(
    id: string,
    now: number,
    error: unknown,
  ): Promise<SessionRecord | null> {
    return isLockError(error)
      ? this.#retrying(id, now, error)
      : Promise.reject(error);
  }

  async #retrying(
    id: string,
    now: number,
    firstError?: unknown,
  ): Promise<SessionRecord | null> {
    const key = await this.#keys.session(id);
    let result: SessionRecord | null = null;
    await retry("getSession", this.#limits, async () => {
      result = live(this.#decode(id, await this.#kv.get(key)), now);
      return "done";
    }, firstError);
    return result;
  }

  /** A record read from its key, decoded once per versionstamp. */
  #decode(id: string, entry: Deno.KvEntryMaybe<unknown>): SessionRecord | null {
    const version = entry.versionstamp;
    if (version === null) return null;
    const known = this.#decoded.get(id, version);
    if (known !== undefined) return known;
    const record = toSessionRecord(entry.value);
    if (record !== null) this.#decoded.set(id, version, record);
    return record;
  }
}
