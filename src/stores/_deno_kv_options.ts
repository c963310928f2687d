/**
 * The Deno KV store's options: their defaults and their validation.
 *
 * @module
 */

import type { RetryLimits } from "./_deno_kv_retry.ts";

/**
 * Options for `new DenoKvSessionStore(kv, options)`.
 *
 * @example
 * ```ts
 * import type { DenoKvSessionStoreOptions } from "@tijs/atproto-sessions/stores/deno-kv";
 *
 * const options: DenoKvSessionStoreOptions = { prefix: ["myapp", "sessions"] };
 * ```
 */
export interface DenoKvSessionStoreOptions {
  /**
   * The key prefix every entry is stored under, so the store can share a
   * database with the app's own data. Keep it short: Deno KV limits a key to
   * 2048 bytes.
   * @default {["atproto_sessions"]}
   */
  prefix?: Deno.KvKey;
  /**
   * How many times in a row an operation that lost an optimistic-concurrency
   * race (another writer changed what it read) runs again before it rejects
   * with `StoreError`.
   * @default {200}
   */
  maxAttempts?: number;
  /**
   * How many times in a row an operation that met a locked database
   * (`database is locked`: another handle or process sharing a local file
   * holds its write lock) runs again, after a jittered pause below
   * `min(100, 2 * 2^n)` ms, before it rejects with `StoreError`: by default
   * about 1.3 s of waiting on average before giving up, 2.6 s at most; 0
   * turns the retry off.
   * @default {30}
   */
  lockRetries?: number;
}

/** The defaults of {@linkcode DenoKvSessionStoreOptions}. */
export const DEFAULTS: Readonly<Required<DenoKvSessionStoreOptions>> = Object
  .freeze({
    prefix: Object.freeze(["atproto_sessions"]),
    maxAttempts: 200,
    lockRetries: 30,
  });

/** Validated options. */
export interface ResolvedOptions {
  /** The frozen key prefix. */
  readonly prefix: Deno.KvKey;
  /** The frozen retry bounds. */
  readonly limits: RetryLimits;
}

/**
 * Checks the constructor's arguments and fills in the defaults.
 *
 * @param kv What was passed as the database.
 * @param options What was passed as the options.
 * @returns The prefix and retry bounds.
 * @throws {TypeError} When `kv` is not a `Deno.Kv` or `prefix` not an array.
 * @throws {RangeError} When a retry bound is out of range.
 */
export function resolveOptions(
  kv: Deno.Kv,
  options: DenoKvSessionStoreOptions,
): ResolvedOptions {
  if (
    kv === null || typeof kv !== "object" ||
    typeof (kv as Partial<Deno.Kv>).atomic !== "function"
  ) {
    throw new TypeError(
      `Cannot create DenoKvSessionStore: kv must be a Deno.Kv from Deno.openKv(): received ${
        kv === null ? "null" : typeof kv
      }`,
    );
  }
  const prefix = options.prefix ?? DEFAULTS.prefix;
  if (!Array.isArray(prefix)) {
    throw new TypeError(
      `Cannot create DenoKvSessionStore: prefix must be an array of key parts, such as ["sessions"]: received ${typeof prefix}`,
    );
  }
  const maxAttempts = options.maxAttempts ?? DEFAULTS.maxAttempts;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) {
    throw new RangeError(
      `Cannot create DenoKvSessionStore: maxAttempts must be a positive integer: received ${
        String(maxAttempts)
      }`,
    );
  }
  const lockRetries = options.lockRetries ?? DEFAULTS.lockRetries;
  if (!Number.isSafeInteger(lockRetries) || lockRetries < 0) {
    throw new RangeError(
      `Cannot create DenoKvSessionStore: lockRetries must be a non-negative integer: received ${
        String(lockRetries)
      }`,
    );
  }
  return {
    prefix: Object.freeze([...prefix]),
    limits: Object.freeze({ maxAttempts, lockRetries }),
  };
}
