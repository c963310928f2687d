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
 * A frozen copy of a record holding only the known fields.
 *
 * @param record The record.
 * @returns The frozen copy.
 */
export function freezeRecord(record: SessionRecord): SessionRecord {
  return Object.freeze({
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
    metadata: Object.freeze(copyMetadata(record.metadata)),
  });
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

function isKind(value: unknown): value is SessionKind {
  return value === "cookie" || value === "token";
}

/**
 * Reads a stored value back as a frozen record. Records written before
 * records had a kind (version 0.1) read as cookies at generation 0, with
 * `authenticatedAt` their `createdAt`.
 *
 * @param value What the store held.
 * @returns The record, or null when the value is not one.
 */
export function toSessionRecord(value: unknown): SessionRecord | null {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return null;
  }
  const record = value as Record<string, unknown>;
  if (
    typeof record.id !== "string" || typeof record.did !== "string" ||
    typeof record.createdAt !== "number" ||
    typeof record.lastAccessed !== "number" ||
    typeof record.expiresAt !== "number" ||
    record.metadata === null || typeof record.metadata !== "object" ||
    (record.kind !== undefined && record.kind !== "cookie" &&
      record.kind !== "token") ||
    (record.authenticatedAt !== undefined &&
      typeof record.authenticatedAt !== "number") ||
    (record.generation !== undefined &&
      !Number.isSafeInteger(record.generation)) ||
    (record.rotatedAt !== undefined && record.rotatedAt !== null &&
      typeof record.rotatedAt !== "number") ||
    (record.successor !== undefined && record.successor !== null &&
      typeof record.successor !== "string")
  ) {
    return null;
  }
  const kind = record.kind ?? "cookie";
  const authenticatedAt = record.authenticatedAt ?? record.createdAt;
  const generation = record.generation ?? 0;
  const rotatedAt = record.rotatedAt ?? null;
  const successor = record.successor ?? null;
  if (
    !isKind(kind) || typeof authenticatedAt !== "number" ||
    !Number.isSafeInteger(generation) || (generation as number) < 0 ||
    (rotatedAt !== null && typeof rotatedAt !== "number") ||
    (successor !== null && typeof successor !== "string")
  ) {
    return null;
  }
  return freezeRecord({
    ...(record as unknown as SessionRecord),
    kind,
    authenticatedAt,
    generation: generation as number,
    rotatedAt: rotatedAt as number | null,
    successor: successor as string | null,
  });
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
