/**
 * The Deno KV store's {@linkcode KeyValueStore} half: short-lived values
 * and leases, each operation one versionstamp-checked step.
 *
 * @module
 */

import { timeToLive } from "../_session_record.ts";
import type { KeyValueStore, ValueNamespace } from "../store.ts";
import type { KvKeys } from "./_deno_kv_keys.ts";
import { type Attempt, retry, type RetryLimits } from "./_deno_kv_retry.ts";

/** Deletes per atomic operation when clearing (Deno KV caps it at 1000). */
const CLEAR_BATCH = 500;

/** A stored value: `expiresAt` null means until deleted. */
interface StoredValue {
  readonly value: string;
  readonly expiresAt: number | null;
}

/** A stored lease. */
interface StoredLease {
  readonly owner: string;
  readonly expiresAt: number;
}

/**
 * Values and leases over one `Deno.Kv`. Expiry is checked on every read
 * against the manager's clock: `expireIn` is only the earliest time Deno
 * KV may delete an entry.
 */
export class KvValues implements KeyValueStore {
  readonly #kv: Deno.Kv;
  readonly #keys: KvKeys;
  readonly #limits: RetryLimits;

  /**
   * @param kv The database.
   * @param keys The key layout.
   * @param limits The retry bounds.
   */
  constructor(kv: Deno.Kv, keys: KvKeys, limits: RetryLimits) {
    this.#kv = kv;
    this.#keys = keys;
    this.#limits = limits;
  }

  /** One `get`. */
  async getValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<string | null> {
    const entryKey = await this.#keys.value(namespace, key);
    let result: string | null = null;
    await this.#run("getValue", async () => {
      result = liveValue((await this.#kv.get(entryKey)).value, now);
      return "done";
    });
    return result;
  }

  /** One `set` (a `delete` when `expiresAt` has passed). */
  async setValue(
    namespace: ValueNamespace,
    key: string,
    value: string,
    expiresAt: number | null,
    now: number,
  ): Promise<void> {
    if (typeof value !== "string") {
      throw new TypeError(
        `Cannot set value: value must be a string: received ${typeof value}`,
      );
    }
    const entryKey = await this.#keys.value(namespace, key);
    const stored: StoredValue = { value, expiresAt };
    await this.#run("setValue", async () => {
      if (expiresAt !== null && expiresAt <= now) {
        await this.#kv.delete(entryKey);
      } else if (expiresAt === null) {
        await this.#kv.set(entryKey, stored);
      } else {
        await this.#kv.set(entryKey, stored, {
          expireIn: timeToLive(expiresAt, now),
        });
      }
      return "done";
    });
  }

  /** A `get` and a checked delete: of concurrent callers, one wins. */
  async takeValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<string | null> {
    const entryKey = await this.#keys.value(namespace, key);
    let result: string | null = null;
    await this.#run("takeValue", async () => {
      const entry = await this.#kv.get(entryKey);
      result = liveValue(entry.value, now);
      if (result === null) return "done";
      const { ok } = await this.#kv.atomic().check(entry).delete(entryKey)
        .commit();
      return ok ? "done" : "conflict";
    });
    return result;
  }

  /** A `get` and a checked delete. */
  async deleteValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<boolean> {
    const entryKey = await this.#keys.value(namespace, key);
    let existed = false;
    await this.#run("deleteValue", async () => {
      const entry = await this.#kv.get(entryKey);
      existed = liveValue(entry.value, now) !== null;
      if (entry.versionstamp === null) return "done";
      const { ok } = await this.#kv.atomic().check(entry).delete(entryKey)
        .commit();
      return ok ? "done" : "conflict";
    });
    return existed;
  }

  /** A `list` of the namespace, then deletes in batches of 500. */
  async clearValues(namespace: ValueNamespace): Promise<void> {
    const prefix = this.#keys.values(namespace);
    await this.#run("clearValues", async () => {
      const keys: Deno.KvKey[] = [];
      for await (const entry of this.#kv.list({ prefix })) {
        keys.push(entry.key);
        if (keys.length === CLEAR_BATCH) break;
      }
      if (keys.length === 0) return "done";
      const op = this.#kv.atomic();
      for (const key of keys) op.delete(key);
      await op.commit();
      return keys.length < CLEAR_BATCH ? "done" : "progress";
    });
  }

  /** A `get` and a checked set. */
  async acquireLock(
    name: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<boolean> {
    assertLease(leaseMs);
    return await this.#setLease("acquireLock", name, owner, leaseMs, now, {
      free: true,
    });
  }

  /** A `get` and a checked set. */
  async renewLock(
    name: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<boolean> {
    assertLease(leaseMs);
    return await this.#setLease("renewLock", name, owner, leaseMs, now, {
      free: false,
    });
  }

  /** A `get` and, if `owner` holds the lease, a checked delete. */
  async releaseLock(name: string, owner: string): Promise<void> {
    const key = await this.#keys.lock(name);
    await this.#run("releaseLock", async () => {
      const entry = await this.#kv.get(key);
      if (toLease(entry.value)?.owner !== owner) return "done";
      const { ok } = await this.#kv.atomic().check(entry).delete(key)
        .commit();
      return ok ? "done" : "conflict";
    });
  }

  /**
   * Writes `owner`'s lease until `now + leaseMs` if `owner` holds a live
   * lease, or (with `free`) if nobody does.
   */
  async #setLease(
    operation: string,
    name: string,
    owner: string,
    leaseMs: number,
    now: number,
    { free }: { free: boolean },
  ): Promise<boolean> {
    const key = await this.#keys.lock(name);
    const lease: StoredLease = { owner, expiresAt: now + leaseMs };
    let held = false;
    await this.#run(operation, async () => {
      const entry = await this.#kv.get(key);
      const current = toLease(entry.value);
      const live = current !== null && current.expiresAt > now;
      if (live ? current.owner !== owner : !free) {
        held = false;
        return "done";
      }
      const { ok } = await this.#kv.atomic().check(entry)
        .set(key, lease, { expireIn: timeToLive(lease.expiresAt, now) })
        .commit();
      held = ok;
      return ok ? "done" : "conflict";
    });
    return held;
  }

  #run(operation: string, attempt: () => Promise<Attempt>): Promise<void> {
    return retry(operation, this.#limits, attempt);
  }
}

function liveValue(value: unknown, now: number): string | null {
  if (typeof value !== "object" || value === null) return null;
  const { value: stored, expiresAt } = value as Partial<StoredValue>;
  if (typeof stored !== "string") return null;
  if (expiresAt === null) return stored;
  return typeof expiresAt === "number" && expiresAt > now ? stored : null;
}

function toLease(value: unknown): StoredLease | null {
  if (typeof value !== "object" || value === null) return null;
  const { owner, expiresAt } = value as Partial<StoredLease>;
  return typeof owner === "string" && typeof expiresAt === "number"
    ? { owner, expiresAt }
    : null;
}

function assertLease(leaseMs: number): void {
  if (!Number.isFinite(leaseMs) || leaseMs <= 0) {
    throw new RangeError(
      `Cannot take a lock: leaseMs must be a positive number of milliseconds: received ${
        String(leaseMs)
      }`,
    );
  }
}
