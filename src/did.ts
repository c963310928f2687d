/**
 * DID syntax validation, following the AT Protocol's rules.
 *
 * @module
 */

/** The longest DID the AT Protocol accepts, in characters. */
export const MAX_DID_LENGTH = 2048;

// atproto DID syntax: `did:`, a lowercase method, `:`, then an identifier of
// [a-zA-Z0-9._:%-] that does not end in `:` or `%`.
const DID_PATTERN = /^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$/;

/**
 * Tells whether a value is a syntactically valid DID under the AT Protocol's
 * rules: ASCII, `did:<method>:<identifier>`, a lowercase method, identifier
 * characters `[a-zA-Z0-9._:%-]`, not ending in `:` or `%`, at most 2048
 * characters. It checks syntax only; it does not resolve the DID.
 *
 * @param value The value to check; anything, not only strings.
 * @returns `true` when `value` is a string holding a valid DID.
 *
 * @example Checking DIDs
 * ```ts
 * import { isValidDid } from "@tijs/atproto-sessions";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isValidDid("did:plc:ewvi7nxzyoun6zhxrhs64oiz"), true);
 * assert.equal(isValidDid("did:web:example.com"), true);
 * assert.equal(isValidDid("alice.bsky.social"), false);
 * assert.equal(isValidDid("did:PLC:abc"), false);
 * ```
 */
export function isValidDid(value: unknown): value is string {
  return typeof value === "string" && value.length <= MAX_DID_LENGTH &&
    DID_PATTERN.test(value);
}
