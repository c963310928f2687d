/**
 * The Redis key layout of `RedisSessionStore` and its session ids, for one
 * node and for Redis Cluster.
 *
 * Sessions: `<prefix>sessions:<did>`, one hash per DID, field = session id,
 * value = record JSON. A session id is `<did>~<random id>`
 * ({@linkcode sessionIdFor}), so the DID's hash, and with it the cluster
 * slot, is found from the id alone. Every session operation touches that
 * one key, so no script ever spans two slots.
 *
 * Values: `<prefix>value:<namespace>:<key>` plus an index sorted set
 * `<prefix>values:<namespace>` (for `clearValues`). In cluster mode each
 * namespace is split into {@linkcode CLUSTER_VALUE_BUCKETS} hash-tagged
 * buckets, `<prefix>value:{<namespace>:<bucket>}<key>` and
 * `<prefix>values:{<namespace>:<bucket>}`, so a value and its index share a
 * slot while the namespace still spreads over the cluster.
 *
 * Leases: `<prefix>lock:<name>`. Legacy revocations: `<prefix>revoked:<jti>`.
 *
 * @module
 */

import type { ValueNamespace } from "../store.ts";

/** The character between the DID and the random part of a session id. */
export const ID_SEPARATOR = "~";

/** How many hash-tagged buckets a value namespace spans on Redis Cluster. */
export const CLUSTER_VALUE_BUCKETS = 16;

/**
 * The session id to store and seal for a freshly generated `id`:
 * `<did>~<id>`. A DID that is empty or holds `~` (not a valid DID) gets
 * `id` unchanged, which `createSession` then refuses.
 *
 * @param did The session's DID.
 * @param id The generated id.
 * @returns The id carrying the DID.
 */
export function sessionIdFor(did: string, id: string): string {
  return did === "" || did.includes(ID_SEPARATOR)
    ? id
    : `${did}${ID_SEPARATOR}${id}`;
}

/**
 * The DID a session id carries, or null for an id not made by
 * {@linkcode sessionIdFor}.
 *
 * @param id The session id.
 * @returns The DID, or null.
 */
export function didOfSessionId(id: string): string | null {
  const end = id.indexOf(ID_SEPARATOR);
  return end > 0 ? id.slice(0, end) : null;
}

/** Builds every key the store uses, under one prefix. */
export class RedisKeyLayout {
  readonly #prefix: string;
  readonly #cluster: boolean;

  /**
   * @param prefix Prepended to every key.
   * @param cluster Whether to hash-tag value buckets for Redis Cluster.
   */
  constructor(prefix: string, cluster: boolean) {
    this.#prefix = prefix;
    this.#cluster = cluster;
  }

  /** How many buckets (and index keys) one value namespace has. */
  get valueBuckets(): number {
    return this.#cluster ? CLUSTER_VALUE_BUCKETS : 1;
  }

  /**
   * The hash holding a DID's sessions.
   *
   * @param did The DID.
   * @returns The key.
   */
  sessions(did: string): string {
    return `${this.#prefix}sessions:${did}`;
  }

  /**
   * A revoked legacy token id's key.
   *
   * @param jti The token id.
   * @returns The key.
   */
  revoked(jti: string): string {
    return `${this.#prefix}revoked:${jti}`;
  }

  /**
   * A lease's key.
   *
   * @param name The lock name.
   * @returns The key.
   */
  lock(name: string): string {
    return `${this.#prefix}lock:${name}`;
  }

  /**
   * A value's key and its bucket's index key (same slot in cluster mode).
   *
   * @param namespace The namespace.
   * @param key The value's key.
   * @returns `[valueKey, indexKey]`.
   */
  value(namespace: ValueNamespace, key: string): [string, string] {
    if (!this.#cluster) {
      return [
        `${this.#prefix}value:${namespace}:${key}`,
        `${this.#prefix}values:${namespace}`,
      ];
    }
    const tag = `{${namespace}:${bucketOf(key)}}`;
    return [
      `${this.#prefix}value:${tag}${key}`,
      `${this.#prefix}values:${tag}`,
    ];
  }

  /**
   * The value key of an index member, in a given bucket.
   *
   * @param namespace The namespace.
   * @param bucket The bucket number.
   * @param key The member (the value's key).
   * @returns The value key.
   */
  valueInBucket(
    namespace: ValueNamespace,
    bucket: number,
    key: string,
  ): string {
    return this.#cluster
      ? `${this.#prefix}value:{${namespace}:${bucket}}${key}`
      : `${this.#prefix}value:${namespace}:${key}`;
  }

  /**
   * One bucket's index key.
   *
   * @param namespace The namespace.
   * @param bucket The bucket number.
   * @returns The key.
   */
  valueIndex(namespace: ValueNamespace, bucket: number): string {
    return this.#cluster
      ? `${this.#prefix}values:{${namespace}:${bucket}}`
      : `${this.#prefix}values:${namespace}`;
  }
}

/** FNV-1a over UTF-16 code units, folded onto the cluster buckets. */
function bucketOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % CLUSTER_VALUE_BUCKETS;
}
