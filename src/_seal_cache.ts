/**
 * The verified-seal cache: seals that verified, by their exact text.
 *
 * A seal is about 300-400 characters. Keyed by the text itself, every
 * lookup would hash the whole of a string the request just sliced out of
 * its Cookie header (a new string, so its hash is never cached) before
 * comparing it. Here an entry is found by a 30-bit tag read from five
 * characters of the seal's MAC (the end of an Iron seal, with or without
 * its `~2` suffix; base64url of an HMAC, so uniformly random), and only
 * then is the whole text compared: a hit costs one integer-keyed lookup
 * and one string comparison. The comparison is exact, so no other text
 * is ever answered for, and tag collisions are chained (at most
 * {@linkcode CHAIN_LENGTH} seals per tag, the older dropped): with a
 * full cache of 5,000 seals, two share a tag with odds of about 1 in 90,
 * and an attacker cannot choose the MAC of a seal the server issued.
 *
 * @module
 */

import { LruCache } from "./_lru_cache.ts";

/** How many seals one tag holds before the oldest is dropped. */
export const CHAIN_LENGTH = 2;

interface Entry<V> {
  readonly value: string;
  seal: V;
  next: Entry<V> | null;
}

/**
 * The tag of a seal: five characters before its last two, six bits each.
 *
 * @param value The seal.
 * @returns A small integer.
 */
export function sealTag(value: string): number {
  const end = value.length - 2;
  return (value.charCodeAt(end - 1) ^
    (value.charCodeAt(end - 2) << 6) ^
    (value.charCodeAt(end - 3) << 12) ^
    (value.charCodeAt(end - 4) << 18) ^
    (value.charCodeAt(end - 5) << 24)) & 0x3fffffff;
}

/**
 * A bounded least-recently-used map from seal text to what is known of
 * it; see the module documentation.
 *
 * @typeParam V What is remembered of a seal.
 */
export class SealCache<V> {
  readonly #entries: LruCache<number, Entry<V>>;

  /** @param capacity The most tags held; 0 disables the cache. */
  constructor(capacity: number) {
    this.#entries = new LruCache(capacity);
  }

  /**
   * What is remembered of exactly this seal.
   *
   * @param value The seal as presented.
   * @returns The remembered value, or undefined.
   */
  get(value: string): V | undefined {
    let entry = this.#entries.get(sealTag(value)) ?? null;
    while (entry !== null) {
      if (entry.value === value) return entry.seal;
      entry = entry.next;
    }
    return undefined;
  }

  /**
   * Remembers a seal.
   *
   * @param value The seal.
   * @param seal What is known of it.
   */
  set(value: string, seal: V): void {
    const tag = sealTag(value);
    const head = this.#entries.get(tag);
    let kept = 1;
    for (let entry = head ?? null; entry !== null; entry = entry.next) {
      if (entry.value === value) {
        entry.seal = seal;
        return;
      }
      if (++kept === CHAIN_LENGTH) entry.next = null;
    }
    this.#entries.set(tag, { value, seal, next: head ?? null });
  }
}
