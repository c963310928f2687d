/**
 * The options of `RedisSessionStore`: their defaults, their validation,
 * and what the store's two halves share once they are resolved.
 *
 * @module
 */

import { StoreError } from "../errors.ts";
import { toInteger } from "./_redis_codec.ts";
import { RedisKeyLayout } from "./_redis_keys.ts";
import type { RedisRoute } from "./_redis_scripts.ts";
import type { RedisContext } from "./_redis_sessions.ts";

/**
 * Options for `new RedisSessionStore(options)`.
 *
 * @example With node-redis
 * ```ts ignore
 * import { createClient } from "redis";
 * import type { RedisSessionStoreOptions } from "@tijs/atproto-sessions/stores/redis";
 *
 * const client = await createClient({ url: "redis://127.0.0.1:6379" }).connect();
 * const options: RedisSessionStoreOptions = {
 *   command: (args) => client.sendCommand(args),
 * };
 * ```
 */
export interface RedisSessionStoreOptions {
  /**
   * Sends one command, such as `["HGET", "key", "field"]`, and resolves to
   * its reply decoded the usual way: a string or null for a bulk string, a
   * number for an integer, an array for an array. It rejects on an error
   * reply or a lost connection. `route` names the key the command touches
   * and whether it only reads, for a cluster client that needs them
   * (node-redis `cluster.sendCommand(route.key, route.readonly, args)`);
   * single-node clients ignore it. With node-redis:
   * `(args) => client.sendCommand(args)`; with ioredis (`Redis` or
   * `Cluster`): `([name, ...rest]) => redis.call(name!, ...rest)` (on a
   * `Cluster` with `durableWrites`, send `WAIT` as the module
   * documentation shows).
   */
  command(args: string[], route: RedisRoute): Promise<unknown>;
  /**
   * Prepended to every key, so one Redis database can hold several apps.
   * With `cluster: true` it may not contain `{` or `}`.
   * @default {"atproto-sessions:"}
   */
  prefix?: string;
  /**
   * Use the Redis Cluster layout: value namespaces spread over 16
   * hash-tagged buckets. Sessions, leases and revocations use the same keys
   * either way.
   * @default {false}
   */
  cluster?: boolean;
  /**
   * After each write that changed something (all but the sliding refresh),
   * send `WAIT 1 <durableTimeout>` to the primary that took it and reject
   * with `StoreError` unless a replica acknowledged: a reported sign-in or
   * revocation then survives a failover. Needs at least one replica.
   * @default {false}
   */
  durableWrites?: boolean;
  /**
   * How long `WAIT` may block, in milliseconds (keep it below the
   * manager's `storeTimeout`).
   * @default {1000}
   */
  durableTimeout?: number;
}

/** The defaults of {@linkcode RedisSessionStoreOptions}. */
const DEFAULTS: Readonly<{
  prefix: string;
  cluster: boolean;
  durableWrites: boolean;
  durableTimeout: number;
}> = Object.freeze({
  prefix: "atproto-sessions:",
  cluster: false,
  durableWrites: false,
  durableTimeout: 1000,
});

/**
 * Validates the options and builds the shared context.
 *
 * @param options What the app passed.
 * @returns The command function, the key layout and the durability step.
 * @throws {TypeError} When `command` is not a function, `prefix` is not a
 * string (or holds `{` or `}` with `cluster: true`), or `cluster` or
 * `durableWrites` is not a boolean.
 * @throws {RangeError} When `durableTimeout` is not a positive integer.
 */
export function resolveOptions(
  options: RedisSessionStoreOptions,
): RedisContext {
  if (typeof options?.command !== "function") {
    throw new TypeError(
      `Cannot create RedisSessionStore: command must be a function that sends one command, such as (args) => client.sendCommand(args): received ${
        options === null ? "null" : typeof options?.command
      }`,
    );
  }
  const { prefix, cluster, durableWrites, durableTimeout } = {
    ...DEFAULTS,
    ...withoutUndefined(options),
  };
  if (typeof prefix !== "string") {
    throw new TypeError(
      `Cannot create RedisSessionStore: prefix must be a string: received ${typeof prefix}`,
    );
  }
  for (
    const [name, value] of [["cluster", cluster], [
      "durableWrites",
      durableWrites,
    ]] as const
  ) {
    if (typeof value !== "boolean") {
      throw new TypeError(
        `Cannot create RedisSessionStore: ${name} must be a boolean: received ${typeof value}`,
      );
    }
  }
  if (cluster && /[{}]/.test(prefix)) {
    throw new TypeError(
      `Cannot create RedisSessionStore: with cluster: true, prefix may not contain "{" or "}" (the store places its own hash tags): received "${prefix}"`,
    );
  }
  if (!Number.isSafeInteger(durableTimeout) || durableTimeout <= 0) {
    throw new RangeError(
      `Cannot create RedisSessionStore: durableTimeout must be a positive integer of milliseconds: received ${
        String(durableTimeout)
      }`,
    );
  }
  const command = options.command.bind(options);
  const settle = durableWrites
    ? async (key: string): Promise<void> => {
      const acked = toInteger(
        await command(["WAIT", "1", String(durableTimeout)], {
          key,
          readonly: false,
        }),
      );
      if (acked < 1) {
        throw new StoreError(
          `RedisSessionStore wrote to the primary but no replica acknowledged within ${durableTimeout} ms (durableWrites); check that the primary has a connected replica`,
        );
      }
    }
    : (): Promise<void> => Promise.resolve();
  return { command, keys: new RedisKeyLayout(prefix, cluster), settle };
}

function withoutUndefined(
  options: RedisSessionStoreOptions,
): Partial<RedisSessionStoreOptions> {
  return Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as Partial<RedisSessionStoreOptions>;
}
