/**
 * Session records to and from `SqliteSessionStore`'s rows.
 *
 * @module
 */

import { copyMetadata, newestFirst } from "../_session_record.ts";
import { StoreError } from "../errors.ts";
import type { SessionRecord } from "../store.ts";
import type { Row } from "./_sqlite_driver.ts";
import type { SessionRow } from "./_sqlite_sql.ts";

/**
 * The known metadata fields that hold strings, as a JSON object; anything
 * else is dropped, so every row has the same shape.
 *
 * @param metadata Metadata from a caller or a row.
 * @returns The JSON text.
 */
export function metadataJson(metadata: unknown): string {
  return JSON.stringify(copyMetadata(metadata));
}

/**
 * Text as stored: SQLite keeps a NUL character, but drivers read text back
 * as C strings and cut it there, so U+0000 is stored as U+0001 U+0001 and
 * U+0001 as U+0001 U+0002. Other text is stored as it is.
 *
 * @param text Text from a caller.
 * @returns The text to bind.
 */
export function encodeText(text: string): string {
  if (!text.includes("\u0000") && !text.includes("\u0001")) return text;
  return text.replaceAll("\u0001", "\u0001\u0002").replaceAll(
    "\u0000",
    "\u0001\u0001",
  );
}

/**
 * Reverses {@linkcode encodeText}.
 *
 * @param text Text read from a row.
 * @returns The caller's text.
 */
export function decodeText(text: string): string {
  if (!text.includes("\u0001")) return text;
  let decoded = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== "\u0001") {
      decoded += c;
      continue;
    }
    decoded += text[++i] === "\u0001" ? "\u0000" : "\u0001";
  }
  return decoded;
}

/**
 * The row a record is stored as.
 *
 * @param record The record.
 * @returns Its column values.
 */
export function toRow(record: SessionRecord): SessionRow {
  return {
    id: encodeText(record.id),
    did: encodeText(record.did),
    kind: record.kind === "token" ? "token" : "cookie",
    createdAt: record.createdAt,
    lastAccessed: record.lastAccessed,
    expiresAt: record.expiresAt,
    authenticatedAt: record.authenticatedAt,
    generation: record.generation ?? 0,
    rotatedAt: record.rotatedAt ?? null,
    successor: record.successor === null || record.successor === undefined
      ? null
      : encodeText(record.successor),
    metadata: metadataJson(record.metadata),
  };
}

/**
 * A stored row as a frozen record holding exactly the record's fields.
 *
 * @param row A row selected or returned with every session column.
 * @returns The record.
 * @throws {StoreError} When the row does not hold a record (a table edited
 * by hand).
 */
export function toRecord(row: Row): SessionRecord {
  const id = row.id;
  const did = row.did;
  if (typeof id !== "string" || typeof did !== "string") {
    throw new StoreError(
      "SqliteSessionStore found a session row without a text id and did; was the table edited by hand?",
    );
  }
  let metadata: unknown = {};
  try {
    metadata = JSON.parse(String(row.metadata));
  } catch {
    // Unreadable metadata reads as none.
  }
  return Object.freeze({
    id: decodeText(id),
    did: decodeText(did),
    kind: row.kind === "token" ? "token" : "cookie",
    createdAt: toTime(row.created_at),
    lastAccessed: toTime(row.last_accessed),
    expiresAt: toTime(row.expires_at),
    authenticatedAt: toTime(row.authenticated_at),
    generation: toTime(row.generation),
    rotatedAt: row.rotated_at === null || row.rotated_at === undefined
      ? null
      : toTime(row.rotated_at),
    successor: typeof row.successor === "string"
      ? decodeText(row.successor)
      : null,
    metadata: Object.freeze(copyMetadata(metadata)),
  });
}

/**
 * An integer column as a number, whether the driver reads integers as
 * numbers, bigints (`safeIntegers`, libSQL `intMode: "bigint"`) or strings
 * (libSQL `intMode: "string"`).
 *
 * @param value The column value.
 * @returns The number (NaN when it is not one, which reads as expired).
 */
export function toTime(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint" || typeof value === "string") {
    return Number(value);
  }
  return Number.NaN;
}

/**
 * Rows as records, newest (`createdAt`, then `id`) first.
 *
 * @param rows Rows with every session column.
 * @returns The records.
 */
export function records(rows: readonly Row[]): SessionRecord[] {
  return rows.map(toRecord).sort(newestFirst);
}

/**
 * The first row as a record.
 *
 * @param rows Rows with every session column.
 * @returns The record, or null when there is no row.
 */
export function first(rows: readonly Row[]): SessionRecord | null {
  const row = rows[0];
  return row === undefined ? null : toRecord(row);
}

/**
 * Tells whether a value row is live.
 *
 * @param row A row with `expires_at`.
 * @param now The manager's clock.
 * @returns Whether it never expires or expires after `now`.
 */
export function live(row: Row, now: number): boolean {
  return row.expires_at === null || toTime(row.expires_at) > now;
}

/**
 * A text column as the caller's text.
 *
 * @param value The column value.
 * @returns The decoded text, or null when it is not text.
 */
export function text(value: unknown): string | null {
  return typeof value === "string" ? decodeText(value) : null;
}
