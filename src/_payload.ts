/**
 * The JSON payload inside a seal: building it from caller input and checking
 * the shape of an authentic one.
 *
 * @module
 */

import { isValidDid } from "./did.ts";
import { SessionDataError } from "./errors.ts";
import type { SessionData } from "./types.ts";

const RESERVED_FIELDS = [
  "did",
  "createdAt",
  "lastAccessed",
  "sessionId",
  "jti",
  "expiresAt",
];

function isTimestamp(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

/**
 * Validates what a caller passed to `createSession` or `sealToken` and
 * returns a fresh payload: the app's fields, then the reserved ones.
 *
 * @param input The caller's session input.
 * @param now The current time, used for missing timestamps.
 * @returns The payload to seal (without `sessionId` or `jti`).
 * @throws {SessionDataError} When the DID or a timestamp is invalid.
 */
export function buildPayload(input: unknown, now: number): SessionData {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new SessionDataError(
      "INVALID_SESSION_DATA",
      `Session data must be an object with a did: received ${
        input === null ? "null" : typeof input
      }`,
    );
  }
  const record = input as Record<string, unknown>;
  if (!isValidDid(record.did)) {
    const did = record.did;
    throw new SessionDataError(
      "INVALID_DID",
      `Invalid did: expected a DID such as "did:plc:ewvi7nxzyoun6zhxrhs64oiz" (did:<lowercase method>:<identifier>, at most 2048 characters): received ${
        typeof did === "string" ? JSON.stringify(did.slice(0, 100)) : typeof did
      }`,
    );
  }
  for (const field of ["createdAt", "lastAccessed"] as const) {
    if (record[field] !== undefined && !isTimestamp(record[field])) {
      throw new SessionDataError(
        "INVALID_SESSION_DATA",
        `Session data ${field} must be milliseconds since the epoch (a finite, non-negative number): received ${typeof record[
          field
        ]}`,
      );
    }
  }
  const payload: Record<string, unknown> = {};
  for (const key of Object.keys(record)) {
    if (!RESERVED_FIELDS.includes(key)) payload[key] = record[key];
  }
  payload.did = record.did;
  payload.createdAt = (record.createdAt as number | undefined) ?? now;
  payload.lastAccessed = (record.lastAccessed as number | undefined) ?? now;
  return payload as unknown as SessionData;
}

/**
 * Checks that an authentic payload is session data. Seals minted elsewhere
 * (the original package's tokens) may lack timestamps; they get
 * `issuedAt`, the best estimate of when the seal was made.
 *
 * @param payload What the seal decrypted to.
 * @param issuedAt The estimated sealing time, for missing timestamps.
 * @returns The session data, or null when the payload is not session data.
 */
export function readPayload(
  payload: unknown,
  issuedAt: number,
): SessionData | null {
  if (
    payload === null || typeof payload !== "object" || Array.isArray(payload)
  ) {
    return null;
  }
  const data = payload as Record<string, unknown>;
  if (!isValidDid(data.did)) return null;
  data.createdAt ??= issuedAt;
  data.lastAccessed ??= issuedAt;
  if (!isTimestamp(data.createdAt) || !isTimestamp(data.lastAccessed)) {
    return null;
  }
  if (data.sessionId !== undefined && typeof data.sessionId !== "string") {
    return null;
  }
  if (data.jti !== undefined && typeof data.jti !== "string") return null;
  delete data.expiresAt;
  return data as unknown as SessionData;
}
