/**
 * The Deno KV store's key layout, in one place.
 *
 * @module
 */

import type { ValueNamespace } from "../store.ts";

/** Strings longer than this many UTF-8 bytes are keyed by their SHA-256. */
const MAX_KEY_PART_BYTES = 256;

const encoder = new TextEncoder();

/**
 * Builds every key the store uses, under its prefix:
 *
 * - `["sessions", id]`: the record;
 * - `["user_sessions", did, id]`: the per-DID index (a copy of the record);
 * - `["users", did]`: the DID's change marker, rewritten by every change
 *   to the DID's set of sessions;
 * - `["revoked_tokens", jti]`: a revoked legacy token's expiry;
 * - `["values", namespace, key]`: a short-lived value;
 * - `["locks", name]`: a lease.
 */
export class KvKeys {
  readonly #prefix: Deno.KvKey;

  /** @param prefix The store's prefix. */
  constructor(prefix: Deno.KvKey) {
    this.#prefix = prefix;
  }

  /** The record's key. */
  session(id: string): Promise<Deno.KvKey> {
    return this.#part("sessions", id);
  }

  /**
   * The record's key, built synchronously, when the id is its own key part
   * (at most 256 UTF-8 bytes); null when it is keyed by its digest.
   */
  sessionNow(id: string): Deno.KvKey | null {
    return isShortPart(id) ? [...this.#prefix, "sessions", id] : null;
  }

  /** The prefix of a DID's index entries. */
  userIndex(did: string): Promise<Deno.KvKey> {
    return this.#part("user_sessions", did);
  }

  /** One index entry's key. */
  async indexEntry(did: string, id: string): Promise<Deno.KvKey> {
    return [...await this.userIndex(did), await keyPart(id)];
  }

  /** The record's and its index entry's keys. */
  pair(did: string, id: string): Promise<[Deno.KvKey, Deno.KvKey]> {
    return Promise.all([this.session(id), this.indexEntry(did, id)]);
  }

  /** The DID's change marker. */
  userMarker(did: string): Promise<Deno.KvKey> {
    return this.#part("users", did);
  }

  /** A revoked legacy token's key. */
  revokedToken(jti: string): Promise<Deno.KvKey> {
    return this.#part("revoked_tokens", jti);
  }

  /** The prefix of a namespace's values. */
  values(namespace: ValueNamespace): Deno.KvKey {
    return [...this.#prefix, "values", namespace];
  }

  /** A value's key. */
  async value(namespace: ValueNamespace, key: string): Promise<Deno.KvKey> {
    return [...this.values(namespace), await keyPart(key)];
  }

  /** A lease's key. */
  lock(name: string): Promise<Deno.KvKey> {
    return this.#part("locks", name);
  }

  async #part(kind: string, value: string): Promise<Deno.KvKey> {
    return [...this.#prefix, kind, await keyPart(value)];
  }
}

/**
 * A string as a key part: itself when short, else its SHA-256 digest. The
 * two cannot collide, as Deno KV orders and compares parts by type first.
 *
 * @param value The string.
 * @returns The key part.
 */
export async function keyPart(value: string): Promise<string | Uint8Array> {
  if (isShortPart(value)) return value;
  return new Uint8Array(
    await crypto.subtle.digest("SHA-256", encoder.encode(value)),
  );
}

/** Whether a string is at most `MAX_KEY_PART_BYTES` in UTF-8. */
function isShortPart(value: string): boolean {
  // A UTF-16 code unit takes at most 3 bytes in UTF-8.
  return value.length * 3 <= MAX_KEY_PART_BYTES ||
    encoder.encode(value).length <= MAX_KEY_PART_BYTES;
}
