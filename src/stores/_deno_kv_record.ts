/**
 * Reading and writing session records in Deno KV: the v2 record, the
 * per-DID index entry, and records written before v2 (read with defaults).
 *
 * @module
 */

import type { SessionKind, SessionMetadata, SessionRecord } from "../store.ts";

/**
 * Copies the known metadata fields that hold strings; anything else is
 * dropped, so every record keeps the same shape.
 *
 * @param metadata Untrusted metadata.
 * @returns A fresh metadata object.
 */
export function copyMetadata(metadata: unknown): SessionMetadata {
  const copy: SessionMetadata = {};
  if (metadata === null || typeof metadata !== "object") return copy;
  const source = metadata as Record<string, unknown>;
  if (typeof source.ipAddress === "string") copy.ipAddress = source.ipAddress;
  if (typeof source.userAgent === "string") copy.userAgent = source.userAgent;
  if (typeof source.scope === "string") copy.scope = source.scope;
  if (typeof source.label === "string") copy.label = source.label;
  return copy;
}

/**
 * Reads a value as a frozen record holding exactly the fields of
 * {@linkcode SessionRecord}. A record written before v2 (no `kind`,
 * `authenticatedAt`, `generation`, `rotatedAt`, `successor`) reads as a
 * cookie session signed in at `createdAt` that was never rotated.
 *
 * @param value What the store held, or what a caller passed.
 * @returns The record, or null when the value is not one.
 */
export function toRecord(value: unknown): SessionRecord | null {
  if (!isObject(value)) return null;
  const {
    id,
    did,
    createdAt,
    lastAccessed,
    expiresAt,
    metadata,
    kind = "cookie",
    authenticatedAt = createdAt,
    generation = 0,
    rotatedAt = null,
    successor = null,
  } = value;
  if (
    typeof id !== "string" || typeof did !== "string" ||
    !isTime(createdAt) || !isTime(lastAccessed) || !isTime(expiresAt) ||
    !isObject(metadata) || !isKind(kind) || !isTime(authenticatedAt) ||
    !Number.isSafeInteger(generation) || (generation as number) < 0 ||
    (rotatedAt !== null && !isTime(rotatedAt)) ||
    (successor !== null && typeof successor !== "string")
  ) {
    return null;
  }
  return Object.freeze({
    id,
    did,
    kind,
    createdAt,
    lastAccessed,
    expiresAt,
    authenticatedAt,
    generation: generation as number,
    rotatedAt,
    successor,
    metadata: Object.freeze(copyMetadata(metadata)),
  });
}

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
  const record = toRecord(value);
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

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isTime(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function isKind(value: unknown): value is SessionKind {
  return value === "cookie" || value === "token";
}
