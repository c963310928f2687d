/**
 * The `KeyValueStore` half of `RedisSessionStore`: short-lived values with
 * an index per namespace bucket (for `clearValues`), and leases.
 *
 * @module
 */

import { timeToLive } from "../_session_record.ts";
import type { ValueNamespace } from "../store.ts";
import {
  decodeValue,
  encodeValue,
  toArray,
  toInteger,
  toText,
  toTextOrNull,
} from "./_redis_codec.ts";
import {
  ACQUIRE_LOCK,
  CLEAR_VALUES,
  RELEASE_LOCK,
  RENEW_LOCK,
  runScript,
  SET_VALUE,
  TAKE_VALUE,
} from "./_redis_scripts.ts";
import type { RedisContext } from "./_redis_sessions.ts";

/** How many values one `clearValues` script deletes at most. */
const CLEAR_BATCH = 500;

/** Values and leases. */
export class RedisValues {
  readonly #context: RedisContext;

  /** @param context The command function, layout and durability. */
  constructor(context: RedisContext) {
    this.#context = context;
  }

  /** See `KeyValueStore.getValue`: one `GET`. */
  async getValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<string | null> {
    const [valueKey] = this.#context.keys.value(namespace, key);
    const stored = toTextOrNull(
      await this.#context.command(["GET", valueKey], {
        key: valueKey,
        readonly: true,
      }),
    );
    return decodeValue(stored, now);
  }

  /** See `KeyValueStore.setValue`: one script. */
  async setValue(
    namespace: ValueNamespace,
    key: string,
    value: string,
    expiresAt: number | null,
    now: number,
  ): Promise<void> {
    if (expiresAt !== null && expiresAt <= now) {
      await this.#take(namespace, key);
      return;
    }
    const keys = this.#context.keys.value(namespace, key);
    await runScript(this.#context.command, SET_VALUE, keys, [
      encodeValue(value, expiresAt),
      expiresAt === null ? "" : String(timeToLive(expiresAt, now)),
      expiresAt === null ? "+inf" : String(expiresAt),
      key,
      String(now),
    ]);
    await this.#context.settle(keys[0]);
  }

  /** See `KeyValueStore.takeValue`: one script. */
  async takeValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<string | null> {
    return decodeValue(await this.#take(namespace, key), now);
  }

  /** See `KeyValueStore.deleteValue`: one script. */
  async deleteValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<boolean> {
    return decodeValue(await this.#take(namespace, key), now) !== null;
  }

  /**
   * See `KeyValueStore.clearValues`: per bucket (one on a single node,
   * 16 on a cluster, in parallel), a `ZRANGE` of its index then a script
   * deleting what it listed.
   */
  async clearValues(namespace: ValueNamespace): Promise<void> {
    const { keys } = this.#context;
    await Promise.all(
      Array.from({ length: keys.valueBuckets }, async (_, bucket) => {
        const index = keys.valueIndex(namespace, bucket);
        const members = toArray(
          await this.#context.command(["ZRANGE", index, "0", "-1"], {
            key: index,
            readonly: true,
          }),
        ).map(toText);
        for (let i = 0; i < members.length; i += CLEAR_BATCH) {
          const batch = members.slice(i, i + CLEAR_BATCH);
          await runScript(this.#context.command, CLEAR_VALUES, [
            index,
            ...batch.map((member) =>
              keys.valueInBucket(namespace, bucket, member)
            ),
          ], batch);
        }
        if (members.length > 0) await this.#context.settle(index);
      }),
    );
  }

  /** See `KeyValueStore.acquireLock`: one script. */
  async acquireLock(
    name: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<boolean> {
    return await this.#lease(ACQUIRE_LOCK, name, owner, leaseMs, now);
  }

  /** See `KeyValueStore.renewLock`: one script. */
  async renewLock(
    name: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<boolean> {
    return await this.#lease(RENEW_LOCK, name, owner, leaseMs, now);
  }

  /** See `KeyValueStore.releaseLock`: one script. */
  async releaseLock(name: string, owner: string): Promise<void> {
    const key = this.#context.keys.lock(name);
    const released = toInteger(
      await runScript(this.#context.command, RELEASE_LOCK, [key], [owner]),
    );
    if (released === 1) await this.#context.settle(key);
  }

  async #take(namespace: ValueNamespace, key: string): Promise<string | null> {
    const keys = this.#context.keys.value(namespace, key);
    const stored = toTextOrNull(
      await runScript(this.#context.command, TAKE_VALUE, keys, [key]),
    );
    if (stored !== null) await this.#context.settle(keys[0]);
    return stored;
  }

  async #lease(
    script: typeof ACQUIRE_LOCK,
    name: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<boolean> {
    const key = this.#context.keys.lock(name);
    const expiresAt = now + leaseMs;
    const held = toInteger(
      await runScript(this.#context.command, script, [key], [
        owner,
        String(expiresAt),
        String(timeToLive(expiresAt, now)),
        String(now),
      ]),
    ) === 1;
    if (held) await this.#context.settle(key);
    return held;
  }
}
