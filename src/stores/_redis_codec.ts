/**
 * Decoding Redis replies, and the stored forms of session records, values
 * and leases for `RedisSessionStore`.
 *
 * @module
 */

import { recordFields } from "../_session_record.ts";
import { StoreError } from "../errors.ts";
import type { SessionRecord } from "../store.ts";

const decoder = new TextDecoder();

function unexpected(reply: unknown): StoreError {
  return new StoreError(
    `RedisSessionStore received an unexpected reply of type ${
      reply === null ? "null" : typeof reply
    }; the command function must resolve to decoded replies (strings, numbers, arrays, null)`,
  );
}

/**
 * A bulk-string reply as text, or null for a nil reply.
 *
 * @param reply The reply.
 * @returns The text or null.
 * @throws {StoreError} When the reply is not a string.
 */
export function toTextOrNull(reply: unknown): string | null {
  if (typeof reply === "string") return reply;
  if (reply === null || reply === undefined) return null;
  if (reply instanceof Uint8Array) return decoder.decode(reply);
  throw unexpected(reply);
}

/**
 * A bulk-string reply as text.
 *
 * @param reply The reply.
 * @returns The text.
 * @throws {StoreError} When the reply is not a string.
 */
export function toText(reply: unknown): string {
  const text = toTextOrNull(reply);
  if (text === null) throw unexpected(reply);
  return text;
}

/**
 * An integer reply as a number.
 *
 * @param reply The reply.
 * @returns The number.
 * @throws {StoreError} When the reply is not an integer.
 */
export function toInteger(reply: unknown): number {
  if (typeof reply === "number" && Number.isSafeInteger(reply)) return reply;
  if (typeof reply === "bigint") return Number(reply);
  if (typeof reply === "string" && /^-?\d+$/.test(reply)) return Number(reply);
  throw unexpected(reply);
}

/**
 * An array reply.
 *
 * @param reply The reply.
 * @returns The array.
 * @throws {StoreError} When the reply is not an array.
 */
export function toArray(reply: unknown): unknown[] {
  if (Array.isArray(reply)) return reply;
  throw unexpected(reply);
}

/**
 * A record as stored: JSON with exactly the record's fields, metadata
 * restricted to its known string fields.
 *
 * @param record The record.
 * @returns The JSON.
 */
export function encodeRecord(record: SessionRecord): string {
  return JSON.stringify(recordFields(record));
}

type Parsed = Record<string, unknown> & { metadata: unknown };

/**
 * Parses a stored record and freezes it in place (the hot path: one
 * `JSON.parse`, type checks, no copy). The store writes exactly the
 * record's fields, so nothing needs stripping.
 *
 * @param raw The stored JSON.
 * @returns The frozen record.
 * @throws {StoreError} When it is not JSON or not a record.
 */
export function decodeRecord(raw: string): SessionRecord {
  let value: Parsed;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new StoreError("RedisSessionStore found a session that is not JSON", {
      cause: error,
    });
  }
  if (
    value === null || typeof value !== "object" ||
    typeof value.id !== "string" || typeof value.did !== "string" ||
    (value.kind !== "cookie" && value.kind !== "token") ||
    typeof value.createdAt !== "number" ||
    typeof value.lastAccessed !== "number" ||
    typeof value.expiresAt !== "number" ||
    typeof value.authenticatedAt !== "number" ||
    typeof value.generation !== "number" ||
    (value.rotatedAt !== null && typeof value.rotatedAt !== "number") ||
    (value.successor !== null && typeof value.successor !== "string") ||
    value.metadata === null || typeof value.metadata !== "object"
  ) {
    throw new StoreError(
      "RedisSessionStore found a session record of the wrong shape",
    );
  }
  // Lua's cjson writes an empty table as {}, but be lenient with [].
  if (Array.isArray(value.metadata)) value.metadata = {};
  Object.freeze(value.metadata);
  return Object.freeze(value) as unknown as SessionRecord;
}

/**
 * A value as stored: `<expiresAt or empty>|<value>`, so reads can judge
 * expiry on the manager's clock.
 *
 * @param value The value.
 * @param expiresAt Its expiry, or null.
 * @returns The stored form.
 */
export function encodeValue(value: string, expiresAt: number | null): string {
  return `${expiresAt ?? ""}|${value}`;
}

/**
 * The live value in a stored form, or null when absent or expired.
 *
 * @param stored The stored form, or null.
 * @param now The manager's clock.
 * @returns The value or null.
 * @throws {StoreError} When the stored form is not one.
 */
export function decodeValue(stored: string | null, now: number): string | null {
  if (stored === null) return null;
  const bar = stored.indexOf("|");
  if (bar < 0) {
    throw new StoreError("RedisSessionStore found a value it did not write");
  }
  if (bar > 0 && Number(stored.slice(0, bar)) <= now) return null;
  return stored.slice(bar + 1);
}
