/**
 * The per-DID index entries of the Deno KV store, written before v2 (id
 * and times) or since (a copy of the record). Records themselves are read
 * with `toSessionRecord` from `_session_record.ts`.
 *
 * @module
 */

import { isObject, isTime, toSessionRecord } from "../_session_record.ts";
import type { SessionRecord } from "../store.ts";

/**
 * What the per-DID index holds for one session. Since v2 the index value
 * is a full copy of the record (so listing a DID's sessions and applying
 * the cap take one `list`); an entry written before v2 holds only `id`,
 * `createdAt` and `expiresAt`, and its record is read separately.
 */
export interface IndexEntry {
  /** The session id. */
  readonly id: string;
  /** When the session was created. */
  readonly createdAt: number;
  /** When it expires. */
  readonly expiresAt: number;
  /** The record, or null for an entry written before v2. */
  readonly record: SessionRecord | null;
}

/**
 * Reads an index value.
 *
 * @param value What the store held.
 * @returns The entry, or null when the value is not one.
 */
export function toIndexEntry(value: unknown): IndexEntry | null {
  const record = toSessionRecord(value);
  if (record !== null) {
    return {
      id: record.id,
      createdAt: record.createdAt,
      expiresAt: record.expiresAt,
      record,
    };
  }
  if (
    !isObject(value) || typeof value.id !== "string" ||
    !isTime(value.createdAt) || !isTime(value.expiresAt)
  ) {
    return null;
  }
  return {
    id: value.id,
    createdAt: value.createdAt,
    expiresAt: value.expiresAt,
    record: null,
  };
}
