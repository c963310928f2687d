/**
 * Conversions between `PostgresSessionStore`'s rows and session records:
 * text that PostgreSQL cannot hold, bigint columns that clients return as
 * strings, and `jsonb` that some clients return unparsed.
 *
 * @module
 */

import { copyMetadata, freezeRecord } from "../_session_record.ts";
import { StoreError } from "../errors.ts";
import type { SessionMetadata, SessionRecord } from "../store.ts";

const NUL = "\u0000";
const ESCAPE = "\u0001";

/**
 * Makes a string storable in a `text` column, which cannot hold U+0000:
 * U+0001 becomes U+0001 "1" and U+0000 becomes U+0001 "0". Injective, so
 * equality (keys, ids) is kept; strings without either character (every id,
 * DID and key the manager makes) are unchanged.
 *
 * @param text Any string.
 * @returns The storable string.
 */
export function toText(text: string): string {
  if (!text.includes(NUL) && !text.includes(ESCAPE)) return text;
  return text.replaceAll(ESCAPE, `${ESCAPE}1`).replaceAll(NUL, `${ESCAPE}0`);
}

/**
 * Reverses {@linkcode toText}.
 *
 * @param text A stored string.
 * @returns The original string.
 */
export function fromText(text: string): string {
  if (!text.includes(ESCAPE)) return text;
  const [first, ...rest] = text.split(ESCAPE);
  let out = first!;
  for (const part of rest) {
    out += (part.startsWith("0") ? NUL : ESCAPE) + part.slice(1);
  }
  return out;
}

/** Keys longer than this many UTF-8 bytes are stored as their digest. */
const MAX_KEY_BYTES = 1000;
const encoder = new TextEncoder();

/**
 * A value key or lock name as stored: {@linkcode toText}, or for a key over
 * 1000 UTF-8 bytes (a btree index entry holds at most 2704) U+0001 "h" and
 * its SHA-256 in hex, a form {@linkcode toText} never produces. Keys are
 * only ever compared for equality, so nothing is lost.
 *
 * @param key The key.
 * @returns The stored key.
 */
export async function keyText(key: string): Promise<string> {
  const text = toText(key);
  if (text.length * 3 <= MAX_KEY_BYTES) return text;
  const bytes = encoder.encode(text);
  if (bytes.length <= MAX_KEY_BYTES) return text;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return `${ESCAPE}h${
    Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

/**
 * A time or counter as a whole number for a bigint column: `round` says
 * which way a fraction goes (expiries round up, so nothing expires early).
 *
 * @param what The field, for the message.
 * @param value The number.
 * @param round How to make it whole.
 * @returns The whole number.
 * @throws {TypeError} When it is not a finite number.
 */
export function whole(
  what: string,
  value: number,
  round: (x: number) => number = Math.floor,
): number {
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new TypeError(
      `PostgresSessionStore: ${what} must be a number of milliseconds: received ${
        typeof value === "number" ? "NaN" : typeof value
      }`,
    );
  }
  return Math.min(
    Number.MAX_SAFE_INTEGER,
    Math.max(Number.MIN_SAFE_INTEGER, round(value)),
  );
}

/**
 * Metadata as the `jsonb` parameter: only the known string fields, each
 * made storable.
 *
 * @param metadata Untrusted metadata.
 * @returns JSON text.
 */
export function metadataParam(metadata: unknown): string {
  const copy = copyMetadata(metadata) as Record<string, string>;
  for (const field of Object.keys(copy)) {
    copy[field] = toText(copy[field]!);
  }
  return JSON.stringify(copy);
}

/**
 * The parameters `$1`...`$11` of the create statement for a record.
 *
 * @param record The record.
 * @returns The values, in column order.
 */
export function recordParams(record: SessionRecord): unknown[] {
  return [
    toText(record.id),
    toText(record.did),
    record.kind,
    whole("createdAt", record.createdAt),
    whole("lastAccessed", record.lastAccessed),
    whole("expiresAt", record.expiresAt, Math.ceil),
    whole("authenticatedAt", record.authenticatedAt),
    whole("generation", record.generation),
    record.rotatedAt === null ? null : whole("rotatedAt", record.rotatedAt),
    record.successor === null ? null : toText(record.successor),
    metadataParam(record.metadata),
  ];
}

function broken(field: string): StoreError {
  return new StoreError(
    `PostgresSessionStore found a session row whose ${field} is not what it wrote; was the table changed by hand?`,
  );
}

/**
 * A bigint column's value, which clients return as a string (pg,
 * postgres.js), a number or a bigint.
 *
 * @param value The column value.
 * @param field The column, for the message.
 * @returns The number.
 */
export function toNumber(value: unknown, field: string): number {
  const n = typeof value === "number"
    ? value
    : typeof value === "bigint" || typeof value === "string"
    ? Number(value)
    : Number.NaN;
  if (!Number.isSafeInteger(n)) throw broken(field);
  return n;
}

function toString(value: unknown, field: string): string {
  if (typeof value !== "string") throw broken(field);
  return fromText(value);
}

function toMetadata(value: unknown): SessionMetadata {
  let parsed = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch {
      throw broken("metadata");
    }
  }
  if (parsed === null || typeof parsed !== "object") throw broken("metadata");
  const metadata = copyMetadata(parsed) as Record<string, string>;
  for (const field of Object.keys(metadata)) {
    metadata[field] = fromText(metadata[field]!);
  }
  return metadata;
}

/**
 * A session row as a frozen record.
 *
 * @param row The row, with the columns every statement returns.
 * @returns The record.
 * @throws {StoreError} When a column holds something the store never
 * writes.
 */
export function rowToRecord(row: Record<string, unknown>): SessionRecord {
  const kind = row.kind;
  if (kind !== "cookie" && kind !== "token") throw broken("kind");
  return freezeRecord({
    id: toString(row.id, "id"),
    did: toString(row.did, "did"),
    kind,
    createdAt: toNumber(row.created_at, "created_at"),
    lastAccessed: toNumber(row.last_accessed, "last_accessed"),
    expiresAt: toNumber(row.expires_at, "expires_at"),
    authenticatedAt: toNumber(row.authenticated_at, "authenticated_at"),
    generation: toNumber(row.generation, "generation"),
    rotatedAt: row.rotated_at === null || row.rotated_at === undefined
      ? null
      : toNumber(row.rotated_at, "rotated_at"),
    successor: row.successor === null || row.successor === undefined
      ? null
      : toString(row.successor, "successor"),
    metadata: toMetadata(row.metadata),
  });
}

/**
 * A value row's value.
 *
 * @param row The row.
 * @returns The original string.
 * @throws {StoreError} When the column is not text.
 */
export function valueOf(row: Record<string, unknown>): string {
  if (typeof row.value !== "string") {
    throw new StoreError(
      "PostgresSessionStore found a value row whose value is not text; was the table changed by hand?",
    );
  }
  return fromText(row.value);
}

/**
 * Whether a value row is live at `now` (no expiry, or a later one).
 *
 * @param row The row, with `expires_at`.
 * @param now The manager's clock.
 * @returns Whether it is live.
 */
export function isLive(row: Record<string, unknown>, now: number): boolean {
  return row.expires_at === null || row.expires_at === undefined ||
    toNumber(row.expires_at, "expires_at") > now;
}
