/**
 * Session-record helpers shared by the manager and the store adapters.
 *
 * @module
 */

import type { SessionKind, SessionMetadata, SessionRecord } from "./store.ts";

const METADATA_FIELDS = ["ipAddress", "userAgent", "scope", "label"] as const;

/**
 * Copies the known metadata fields that hold strings; anything else a
 * caller passed is dropped, so every store keeps the same shape.
 *
 * @param metadata Untrusted metadata.
 * @returns A fresh metadata object.
 */
export function copyMetadata(metadata: unknown): SessionMetadata {
  const copy: SessionMetadata = {};
  if (metadata === null || typeof metadata !== "object") return copy;
  const source = metadata as Record<string, unknown>;
  for (const field of METADATA_FIELDS) {
    const value = source[field];
    if (typeof value === "string") copy[field] = value;
  }
  return copy;
}

/**
 * A fresh, unfrozen copy of a record holding exactly the fields of
 * {@linkcode SessionRecord}, in their declared order, metadata restricted
 * to its known string fields (what a store serialises).
 *
 * @param record The record.
 * @returns The copy.
 */
export function recordFields(record: SessionRecord): SessionRecord {
  return {
    id: record.id,
    did: record.did,
    kind: record.kind,
    createdAt: record.createdAt,
    lastAccessed: record.lastAccessed,
    expiresAt: record.expiresAt,
    authenticatedAt: record.authenticatedAt,
    generation: record.generation,
    rotatedAt: record.rotatedAt,
    successor: record.successor,
    metadata: copyMetadata(record.metadata),
  };
}

/**
 * A frozen copy of a record holding only the known fields.
 *
 * @param record The record.
 * @returns The frozen copy.
 */
export function freezeRecord(record: SessionRecord): SessionRecord {
  const copy = recordFields(record);
  Object.freeze(copy.metadata);
  return Object.freeze(copy);
}

/**
 * A frozen copy of a record for callers of the manager's public API:
 * `successor` (a sealed live token) never leaves the package.
 *
 * @param record The record as the store returned it.
 * @returns The frozen copy with `successor` null.
 */
export function publicRecord(record: SessionRecord): SessionRecord {
  return freezeRecord({ ...record, successor: null });
}

/**
 * Reads a stored value back as a frozen record holding exactly the fields
 * of {@linkcode SessionRecord}. A record written before v2 (no `kind`,
 * `authenticatedAt`, `generation`, `rotatedAt`, `successor`) reads as a
 * cookie session signed in at `createdAt` that was never rotated. Times
 * must be finite numbers and `metadata` an object (not an array).
 *
 * @param value What the store held, or what a caller passed.
 * @returns The record, or null when the value is not one.
 */
export function toSessionRecord(value: unknown): SessionRecord | null {
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
 * Tells whether a value is a plain object (not null, not an array).
 *
 * @param value Anything.
 * @returns Whether it is an object to read fields from.
 */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Tells whether a value is a usable time: a finite number.
 *
 * @param value Anything.
 * @returns Whether it is a finite number.
 */
export function isTime(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function isKind(value: unknown): value is SessionKind {
  return value === "cookie" || value === "token";
}

/**
 * Orders sessions newest `createdAt` first, ties broken by id (higher first).
 *
 * @param a One session.
 * @param b Another.
 * @returns A comparison result for `Array.prototype.sort`.
 */
export function newestFirst(
  a: { readonly createdAt: number; readonly id: string },
  b: { readonly createdAt: number; readonly id: string },
): number {
  return b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/**
 * Milliseconds from `now` until `expiresAt`, at least 1, for a backend's
 * own expiry (Redis `PX`, Deno KV `expireIn`).
 *
 * @param expiresAt The expiry on the manager's clock.
 * @param now The manager's clock.
 * @returns The time to live.
 */
export function timeToLive(expiresAt: number, now: number): number {
  return Math.max(1, Math.ceil(expiresAt - now));
}

/**
 * Checks the cap a store receives from the manager (which validated it
 * already; this guards direct callers of a store).
 *
 * @param cap The most sessions per user, or undefined for no cap.
 * @throws {RangeError} When the cap is not a non-negative integer.
 */
export function assertSessionCap(cap: number | undefined): void {
  if (cap !== undefined && (!Number.isSafeInteger(cap) || cap < 0)) {
    throw new RangeError(
      `Cannot create session: maxSessionsPerUser must be a non-negative integer or undefined: received ${
        String(cap)
      }`,
    );
  }
}
