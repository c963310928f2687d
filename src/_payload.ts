/**
 * The JSON payload inside a seal: building it from caller input, and
 * reading an authentic one back with its kind (cookie or token).
 *
 * ## The kind rule
 *
 * Seals minted by this version carry `typ: "cookie"` or `typ: "token"`
 * inside the encrypted, MAC-covered payload, and are only ever accepted in
 * that role. Seals without `typ` were minted earlier and keep the role they
 * were issued for:
 *
 * 1. a `jti` makes it a token (version 0.1 tokens);
 * 2. otherwise `createdAt` or `lastAccessed` makes it a cookie (the
 *    original package's cookies and version 0.1 cookies);
 * 3. otherwise (just a `did` and app fields) it is a token: the original
 *    package sealed tokens as `{ did }` with an expiration.
 *
 * @module
 */

import { isValidDid } from "./did.ts";
import { SessionDataError } from "./errors.ts";
import type { SessionKind } from "./store.ts";
import type { SessionData } from "./types.ts";

/** The payload field holding the seal's kind. */
const KIND = "typ";
/** The payload field holding a record-backed token's generation. */
const GENERATION = "gen";

/** Fields the package owns; callers' values for them are dropped. */
const RESERVED_FIELDS: ReadonlySet<string> = new Set([
  "did",
  "createdAt",
  "lastAccessed",
  "authenticatedAt",
  "sessionId",
  "jti",
  "expiresAt",
  KIND,
  GENERATION,
]);

function isTimestamp(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

/**
 * Validates what a caller passed to `createSession`, `sealToken` or
 * `rotateSession` and returns a fresh payload: the app's fields, then the
 * reserved ones.
 *
 * @param input The caller's session input.
 * @param now The current time, used for missing timestamps.
 * @returns The payload to seal (without `sessionId`, `jti` or a kind).
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
        typeof did === "string"
          ? `a string of ${did.length} characters`
          : typeof did
      }`,
    );
  }
  for (const field of ["createdAt", "lastAccessed", "authenticatedAt"]) {
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
    if (!RESERVED_FIELDS.has(key)) payload[key] = record[key];
  }
  const createdAt = (record.createdAt as number | undefined) ?? now;
  payload.did = record.did;
  payload.createdAt = createdAt;
  payload.lastAccessed = (record.lastAccessed as number | undefined) ?? now;
  payload.authenticatedAt = (record.authenticatedAt as number | undefined) ??
    now;
  return payload as unknown as SessionData;
}

/**
 * The payload to seal: the data plus the kind, and for record-backed
 * tokens the generation.
 *
 * @param data The session data.
 * @param kind The role the seal is issued for.
 * @param generation The token's generation, when it has a record.
 * @returns A new object to pass to the keyring.
 */
export function sealablePayload(
  data: SessionData,
  kind: SessionKind,
  generation?: number,
): Record<string, unknown> {
  const payload: Record<string, unknown> = { ...data };
  delete payload.expiresAt;
  payload[KIND] = kind;
  if (generation !== undefined) payload[GENERATION] = generation;
  return payload;
}

/** An authentic payload read back as session data. */
export interface ReadPayload {
  /** The role the seal was issued for (declared, or by the legacy rule). */
  readonly kind: SessionKind;
  /** The data, without `typ`, `gen` or `expiresAt`. */
  readonly data: SessionData;
  /** A record-backed token's generation. */
  readonly generation: number | undefined;
  /** Whether the seal carried `createdAt` or `lastAccessed` itself. */
  readonly timestamped: boolean;
}

/**
 * Checks that an authentic payload is session data and works out its kind
 * (see the module documentation). Seals without timestamps (the original
 * package's tokens) get `estimate`, the best guess of when they were made.
 *
 * @param payload What the seal decrypted to (owned by the caller; it is
 * modified).
 * @param estimate The estimated sealing time, for missing timestamps.
 * @returns The session data, or null when the payload is not session data.
 */
export function readPayload(
  payload: unknown,
  estimate: number,
): ReadPayload | null {
  if (
    payload === null || typeof payload !== "object" || Array.isArray(payload)
  ) {
    return null;
  }
  const data = payload as Record<string, unknown>;
  if (!isValidDid(data.did)) return null;
  if (data.sessionId !== undefined && typeof data.sessionId !== "string") {
    return null;
  }
  if (data.jti !== undefined && typeof data.jti !== "string") return null;
  const declared = data[KIND];
  const generation = data[GENERATION];
  let kind: SessionKind;
  if (declared === undefined) {
    kind = data.jti !== undefined
      ? "token"
      : data.createdAt !== undefined || data.lastAccessed !== undefined
      ? "cookie"
      : "token";
  } else if (declared === "cookie" || declared === "token") {
    kind = declared;
  } else return null;
  if (
    generation !== undefined &&
    (kind !== "token" || !Number.isSafeInteger(generation) ||
      (generation as number) < 0)
  ) return null;
  const timestamped = data.createdAt !== undefined ||
    data.lastAccessed !== undefined;
  data.createdAt ??= data.lastAccessed ?? estimate;
  data.lastAccessed ??= data.createdAt;
  data.authenticatedAt ??= data.createdAt;
  if (
    !isTimestamp(data.createdAt) || !isTimestamp(data.lastAccessed) ||
    !isTimestamp(data.authenticatedAt)
  ) {
    return null;
  }
  delete data.expiresAt;
  delete data[KIND];
  delete data[GENERATION];
  return {
    kind,
    data: data as unknown as SessionData,
    generation: generation as number | undefined,
    timestamped,
  };
}
