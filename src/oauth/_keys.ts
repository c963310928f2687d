/**
 * Store keys for OAuth values and locks: short keys as they are, long ones
 * (a DID may have 2048 characters; `KeyValueStore` keys at most 1024) by
 * their SHA-256, and hand-off codes always by their SHA-256.
 *
 * @module
 */

/** Keys up to this length are stored as they are. */
const MAX_PLAIN_KEY_LENGTH = 512;

/**
 * The hex SHA-256 of a string's UTF-8 bytes.
 *
 * @param value The string.
 * @returns 64 lowercase hex characters.
 */
export async function sha256Hex(value: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(value),
  );
  return Array.from(
    new Uint8Array(digest),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}

/**
 * The key a client's key is stored under: itself when short, else
 * `#<kind>:sha256:<hex>`. A short key starting with `#` is hashed too, so
 * no key stored bare can collide with a hashed one.
 *
 * @param kind What the key names (`"state"`, `"session"`, `"lock"`).
 * @param key The client's key.
 * @returns The storage key, at most 512 characters.
 */
export async function storageKey(kind: string, key: string): Promise<string> {
  if (key.length <= MAX_PLAIN_KEY_LENGTH && !key.startsWith("#")) return key;
  return `#${kind}:sha256:${await sha256Hex(key)}`;
}
