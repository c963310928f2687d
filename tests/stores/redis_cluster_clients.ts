/**
 * The two Redis Cluster clients the two-process test runs the store with,
 * connected to seed nodes on 127.0.0.1 and wired as the module
 * documentation of `src/stores/redis.ts` shows: ioredis `Cluster` (with
 * `WAIT` sent through a pipeline behind a command on the key) and
 * node-redis `createCluster` (routed on the key the store names).
 *
 * @module
 */

import { createCluster } from "npm:redis@4";
import { Cluster } from "npm:ioredis@5";
import type { RedisSessionStoreOptions } from "../../src/stores/redis.ts";

/** The cluster clients under test. */
export type ClusterClientName = "ioredis" | "node-redis";

/** A connected client: the store's command function and how to close it. */
export interface ClusterConnection {
  /** What the store receives as `command`. */
  readonly command: RedisSessionStoreOptions["command"];
  /** Quits the client. */
  close(): Promise<void>;
}

/**
 * Connects a cluster client to the given seed ports on 127.0.0.1.
 *
 * @param name Which client.
 * @param ports Seed nodes' ports.
 * @returns The connection.
 */
export async function connectCluster(
  name: ClusterClientName,
  ports: readonly number[],
): Promise<ClusterConnection> {
  if (name === "ioredis") {
    const client = new Cluster(
      ports.map((port) => ({ host: "127.0.0.1", port })),
      { enableOfflineQueue: false, lazyConnect: true },
    );
    client.on("error", () => {});
    await client.connect();
    return {
      command: ([command, ...args], { key }) =>
        command === "WAIT"
          // WAIT has no key: a pipeline sends it to the key's primary.
          ? client.pipeline().exists(key).call(command, ...args).exec().then(
            (replies) => {
              const [error, acked] = replies?.[1] ?? [new Error("no reply")];
              if (error) throw error;
              return acked;
            },
          )
          : client.call(command!, ...args),
      async close() {
        await client.quit();
      },
    };
  }
  const client = createCluster({
    rootNodes: ports.map((port) => ({ url: `redis://127.0.0.1:${port}` })),
    defaults: { disableOfflineQueue: true },
  });
  client.on("error", () => {});
  await client.connect();
  return {
    command: (args, { key, readonly }) =>
      client.sendCommand(key, readonly, args),
    async close() {
      await client.quit();
    },
  };
}
