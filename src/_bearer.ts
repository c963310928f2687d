/**
 * Authorization header parsing for Bearer tokens (RFC 6750 §2.1).
 *
 * @module
 */

import { MAX_SEAL_LENGTH } from "./_seal.ts";

/** The longest Authorization header considered; longer ones are invalid. */
export const MAX_AUTHORIZATION_LENGTH: number = MAX_SEAL_LENGTH + 16;

// RFC 6750 b64token plus `*`, which Iron seals use as their separator.
const BEARER_PATTERN = /^[Bb][Ee][Aa][Rr][Ee][Rr] ([A-Za-z0-9\-._~+/*]+=*)$/;

/**
 * Tells whether a header value starts with the Bearer scheme (any case)
 * and one space, with something after it and within the length bound;
 * the token alphabet is not checked.
 *
 * @param header The header value.
 * @returns Whether `header.slice(7)` is the token to look up.
 */
export function hasBearerScheme(
  header: string | null | undefined,
): header is string {
  return typeof header === "string" && header.length > 7 &&
    header.length <= MAX_AUTHORIZATION_LENGTH &&
    header.charCodeAt(6) === 0x20 &&
    (header.charCodeAt(0) | 0x20) === 0x62 && // b
    (header.charCodeAt(1) | 0x20) === 0x65 && // e
    (header.charCodeAt(2) | 0x20) === 0x61 && // a
    (header.charCodeAt(3) | 0x20) === 0x72 && // r
    (header.charCodeAt(4) | 0x20) === 0x65 && // e
    (header.charCodeAt(5) | 0x20) === 0x72; // r
}

/** The token found in an Authorization header, or why there is none. */
export type ExtractedBearer =
  | { readonly token: string; readonly error: null }
  | { readonly token: null; readonly error: "NO_TOKEN" | "INVALID_TOKEN" };

/**
 * Extracts the token from an `Authorization: Bearer <token>` header value.
 * The scheme is case-insensitive, exactly one space separates it from the
 * token, and the length is bounded before the pattern runs. Never throws.
 *
 * @param header The header value, or null/undefined when absent.
 * @returns The token, or `NO_TOKEN` / `INVALID_TOKEN`.
 */
export function extractBearerToken(
  header: string | null | undefined,
): ExtractedBearer {
  if (typeof header !== "string" || header.length === 0) {
    return { token: null, error: "NO_TOKEN" };
  }
  if (header.length > MAX_AUTHORIZATION_LENGTH) {
    return { token: null, error: "INVALID_TOKEN" };
  }
  const match = BEARER_PATTERN.exec(header);
  if (match === null || match[1] === undefined) {
    return { token: null, error: "INVALID_TOKEN" };
  }
  return { token: match[1], error: null };
}
