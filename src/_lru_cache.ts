/**
 * A bounded least-recently-used map.
 *
 * @module
 */

/**
 * A map that holds at most `capacity` entries and drops the least recently
 * used one when full. A capacity of 0 stores nothing.
 *
 * @typeParam K The key type.
 * @typeParam V The value type.
 */
export class LruCache<K, V> {
  readonly #capacity: number;
  readonly #entries = new Map<K, V>();

  /**
   * Creates an empty cache.
   *
   * @param capacity The most entries to hold; 0 disables the cache.
   */
  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** How many entries the cache holds now. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Returns the value for `key` and marks it most recently used.
   *
   * @param key The key to look up.
   * @returns The value, or undefined when absent.
   */
  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  /**
   * Stores a value, evicting the least recently used entry when full.
   *
   * @param key The key.
   * @param value The value.
   */
  set(key: K, value: V): void {
    if (this.#capacity === 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
  }

  /**
   * Removes an entry.
   *
   * @param key The key to remove.
   */
  delete(key: K): void {
    this.#entries.delete(key);
  }
}
