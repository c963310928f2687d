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
