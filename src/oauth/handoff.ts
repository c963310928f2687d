/**
 * Mobile hand-off without tokens in URLs: the OAuth callback redirects to
 * the app's custom URL scheme with a single-use code, and the app POSTs the
 * code to get its Bearer token.
 *
 * @module
 */

import { SessionDataError, StoreError } from "../errors.ts";
import { isValidDid } from "../did.ts";
import { copyMetadata } from "../_session_record.ts";
import type { SessionMetadata } from "../store.ts";
import type { SessionInput } from "../types.ts";
import type { OAuthHost } from "./_host.ts";
import { sha256Hex } from "./_keys.ts";
import { requireKeyValueStore } from "./oauth_stores.ts";
import type { HandoffCode } from "./types.ts";

/** How long a hand-off code lives by default, in milliseconds. */
export const DEFAULT_HANDOFF_TTL_MS = 60_000;

/** 32 random bytes, base64url without padding. */
const CODE_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** What a code's store entry holds (sealed). */
interface HandoffEntry {
  readonly data: { readonly did: string } & Record<string, unknown>;
  readonly metadata: SessionMetadata;
}

/**
 * Creates a single-use code standing for a future token session. Only the
 * code's SHA-256 is stored (namespace `handoff`), with the data sealed.
 *
 * @param host The manager.
 * @param data The session the token will carry (a valid `did`, app fields).
 * @param metadata What to record about the device; merged under what the
 * redeeming app reports.
 * @param ttlMs How long the code lives.
 * @returns The code and when it expires.
 * @throws {ConfigurationError} Without a `KeyValueStore`.
 * @throws {SessionDataError} When `did` is invalid or the data cannot be
 * sealed.
 * @throws {StoreError} When the store fails.
 */
export async function createHandoffCode<T extends object>(
  host: OAuthHost<T>,
  data: SessionInput<T>,
  metadata: SessionMetadata | undefined,
  ttlMs: number = DEFAULT_HANDOFF_TTL_MS,
): Promise<HandoffCode> {
  const store = requireKeyValueStore(host.store, "createHandoffCode");
  const did = (data as { did?: unknown } | null)?.did;
  if (!isValidDid(did)) {
    throw new SessionDataError(
      "INVALID_DID",
      `Cannot create hand-off code: did must be a valid DID such as did:plc:ewvi7nxzyoun6zhxrhs64oiz: received ${typeof did}`,
    );
  }
  const entry: HandoffEntry = {
    data: { ...(data as Record<string, unknown>), did },
    metadata: copyMetadata(metadata),
  };
  let sealed: string;
  try {
    sealed = await host.sealValue(entry, ttlMs);
  } catch (error) {
    throw new SessionDataError(
      "INVALID_SESSION_DATA",
      "Cannot create hand-off code: the session data must be JSON-serialisable",
      { cause: error },
    );
  }
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const code = base64url(bytes);
  const now = host.now();
  const expiresAt = now + ttlMs;
  try {
    await host.withDeadline(
      (async () =>
        store.setValue(
          "handoff",
          await sha256Hex(code),
          sealed,
          expiresAt,
          now,
        ))(),
      host.storeTimeoutMs,
    );
  } catch (error) {
    throw new StoreError("Session store failed during createHandoffCode", {
      cause: error,
    });
  }
  host.logger.debug("Hand-off code created");
  return { code, expiresAt };
}

/**
 * Redeems a hand-off code for a Bearer token (a token session, listed with
 * the user's devices). The code is taken from the store atomically, so of
 * concurrent redemptions at most one gets a token.
 *
 * @param host The manager.
 * @param code The code the app received.
 * @param metadata What the app reports about itself (label, user agent).
 * @returns The token, or null for an unknown, used, expired or malformed
 * code, or when the store fails (logged).
 * @throws {ConfigurationError} Without a `KeyValueStore`.
 */
export async function redeemHandoffCode<T extends object>(
  host: OAuthHost<T>,
  code: unknown,
  metadata: SessionMetadata | undefined,
): Promise<string | null> {
  const store = requireKeyValueStore(host.store, "redeemHandoffCode");
  if (typeof code !== "string" || !CODE_PATTERN.test(code)) {
    host.logger.debug("Hand-off code rejected", { reason: "malformed" });
    return null;
  }
  let sealed: string | null;
  try {
    sealed = await host.withDeadline(
      (async () =>
        store.takeValue("handoff", await sha256Hex(code), host.now()))(),
      host.storeTimeoutMs,
    );
  } catch {
    host.logger.warn("Session store unavailable", {
      operation: "redeemHandoffCode",
    });
    return null;
  }
  if (sealed === null) {
    host.logger.info("Hand-off code rejected", {
      reason: "unknown, used or expired",
    });
    return null;
  }
  const entry = await host.openValue(sealed);
  if (!isHandoffEntry(entry)) {
    host.logger.warn("Stored hand-off code could not be opened", {
      namespace: "handoff",
    });
    return null;
  }
  try {
    const token = await host.sealToken(
      entry.data as unknown as SessionInput<T>,
      { ...entry.metadata, ...copyMetadata(metadata) },
    );
    host.logger.info("Hand-off code redeemed for a token session");
    return token;
  } catch (error) {
    host.logger.warn("Hand-off code could not become a token session", {
      error: error instanceof Error ? error.name : typeof error,
    });
    return null;
  }
}

function isHandoffEntry(value: unknown): value is HandoffEntry {
  if (value === null || typeof value !== "object") return false;
  const { data, metadata } = value as Record<string, unknown>;
  return data !== null && typeof data === "object" &&
    isValidDid((data as Record<string, unknown>)["did"]) &&
    metadata !== null && typeof metadata === "object";
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(
    /=+$/,
    "",
  );
}
