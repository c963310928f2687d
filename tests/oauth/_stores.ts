/**
 * The backends `oauthStores()` (and the hand-off codes) are tested over:
 * every shipped store. Memory, Deno KV and SQLite always; Redis, Redis
 * Cluster and PostgreSQL when their servers are installed, which under
 * `CI=true` is required (a missing one registers a failing test, once per
 * file that imports this module).
 *
 * Each `open()` starts what its backend needs (a redis-server, a 3 + 3
 * Redis Cluster, a PostgreSQL server, a SQLite file) and `close()` stops it
 * by PID and removes its directory, so no test leaks a process.
 *
 * @module
 */

import { createClient } from "npm:redis@4";
import { Cluster } from "npm:ioredis@5";
import pg from "npm:pg@8";
import { DatabaseSync } from "node:sqlite";
import type { KeyValueStore, SessionStore } from "../../src/store.ts";
import { MemorySessionStore } from "../../src/stores/memory.ts";
import { DenoKvSessionStore } from "../../src/stores/deno_kv.ts";
import { RedisSessionStore } from "../../src/stores/redis.ts";
import { SqliteSessionStore } from "../../src/stores/sqlite.ts";
import { PostgresSessionStore } from "../../src/stores/postgres.ts";
import { redisAvailable, startRedisServer } from "../_redis_server.ts";
import { startRedisCluster } from "../_redis_cluster.ts";
import { postgresAvailable, startPostgresServer } from "../_postgres_server.ts";

/** A store opened for one test, and how to close it. */
export interface OpenedStore {
  readonly store: SessionStore & KeyValueStore;
  close(): Promise<void>;
}

/** A backend under test. */
export interface StoreFactory {
  readonly name: string;
  open(): Promise<OpenedStore>;
}

// Decided once, when a test file loads this module: the stand-in test for
// a missing server is registered at the top level, never inside a test
// that calls storeFactories().
const REDIS = redisAvailable("oauthStores() over Redis and Redis Cluster");
const POSTGRES = postgresAvailable("oauthStores() over PostgreSQL");

/**
 * Opens a redis-server and a node-redis client; the store over both.
 *
 * @returns The store and how to stop the client and the server.
 */
export async function openRedisStore(): Promise<OpenedStore> {
  const server = await startRedisServer();
  const client = createClient({ url: server.url });
  client.on("error", () => {});
  await client.connect();
  const store = new RedisSessionStore({
    command: (args) => client.sendCommand(args),
  });
  return {
    store,
    async close() {
      await client.quit();
      await server.close();
    },
  };
}

/**
 * Starts a Redis Cluster (3 masters, 3 replicas) and an ioredis `Cluster`
 * client; the store over both, wired as the module documentation shows.
 *
 * @returns The store and how to stop the client and the six nodes.
 */
export async function openRedisClusterStore(): Promise<OpenedStore> {
  const cluster = await startRedisCluster();
  const client = new Cluster(cluster.seeds.map((seed) => ({ ...seed })), {
    enableOfflineQueue: false,
    lazyConnect: true,
  });
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    await cluster.close();
    throw error;
  }
  const store = new RedisSessionStore({
    command: ([name, ...args]) => client.call(name!, ...args),
    cluster: true,
  });
  return {
    store,
    async close() {
      await client.quit();
      await cluster.close();
    },
  };
}

/** Every backend to run the oauthStores() suites over. */
export function storeFactories(): StoreFactory[] {
  const factories: StoreFactory[] = [
    {
      name: "memory",
      open: () =>
        Promise.resolve({
          store: new MemorySessionStore(),
          close: () => Promise.resolve(),
        }),
    },
    {
      name: "Deno KV",
      async open() {
        const kv = await Deno.openKv(":memory:");
        return {
          store: new DenoKvSessionStore(kv),
          close: () => Promise.resolve(kv.close()),
        };
      },
    },
    {
      name: "SQLite",
      async open() {
        const dir = await Deno.makeTempDir({ prefix: "oauth_sqlite_" });
        const database = new DatabaseSync(`${dir}/sessions.db`);
        return {
          store: new SqliteSessionStore({ database }),
          async close() {
            database.close();
            await Deno.remove(dir, { recursive: true });
          },
        };
      },
    },
  ];
  if (REDIS) {
    factories.push(
      { name: "Redis", open: openRedisStore },
      { name: "Redis Cluster", open: openRedisClusterStore },
    );
  }
  if (POSTGRES) {
    factories.push({
      name: "PostgreSQL",
      async open() {
        const server = await startPostgresServer();
        const pool = new pg.Pool({ connectionString: server.url, max: 4 });
        pool.on("error", () => {});
        return {
          store: new PostgresSessionStore({ client: pool }),
          async close() {
            await pool.end();
            await server.close();
          },
        };
      },
    });
  }
  return factories;
}
