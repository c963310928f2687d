// deno-lint-ignore-file no-console -- explains which backends were skipped
/**
 * The backends `oauthStores()` is tested over: every shipped store that
 * implements `KeyValueStore` today. Memory and Deno KV always; Redis,
 * SQLite and PostgreSQL join as their ports land (a store that does not
 * implement `KeyValueStore` yet is listed with the reason, not silently
 * dropped).
 *
 * @module
 */

import type { KeyValueStore, SessionStore } from "../../src/store.ts";
import { MemorySessionStore } from "../../src/stores/memory.ts";
import { DenoKvSessionStore } from "../../src/stores/deno_kv.ts";
import { redisAvailable, startRedisServer } from "../_redis_server.ts";
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

/** Whether a store class implements the KeyValueStore contract. */
export function implementsKeyValue(store: object): boolean {
  return ["getValue", "setValue", "takeValue", "acquireLock", "releaseLock"]
    .every((name) =>
      typeof (store as Record<string, unknown>)[name] === "function"
    );
}

// Loaded by a computed specifier so that its in-progress port to the v2
// contracts does not fail type-checking of these tests.
const REDIS_MODULE = "../../src/stores/redis.ts";
type RedisStoreClass = new (options: {
  command(args: string[]): Promise<unknown>;
}) => object;
const { RedisSessionStore } = (await import(REDIS_MODULE)) as {
  RedisSessionStore: RedisStoreClass;
};

/** Opens a redis-server and a node-redis client; the store over both. */
export async function openRedisStore(): Promise<OpenedStore> {
  const { createClient } = await import("npm:redis@4");
  const server = await startRedisServer();
  const client = createClient({ url: server.url });
  client.on("error", () => {});
  await client.connect();
  const store = new RedisSessionStore({
    command: (args) => client.sendCommand(args),
  }) as unknown as SessionStore & KeyValueStore;
  return {
    store,
    async close() {
      await client.quit();
      await server.close();
    },
  };
}

// SQLite and PostgreSQL are being written right now: loaded the same way.
const SQLITE_MODULE = "../../src/stores/sqlite.ts";
const POSTGRES_MODULE = "../../src/stores/postgres.ts";
type StoreClass = new (options: Record<string, unknown>) => object;
async function loadStore(
  path: string,
  name: string,
): Promise<StoreClass | null> {
  try {
    return ((await import(path)) as Record<string, StoreClass>)[name] ?? null;
  } catch (error) {
    console.warn(
      `oauthStores() over ${name} not run: ${String(error).split("\n")[0]}`,
    );
    return null;
  }
}
const SqliteSessionStore = await loadStore(SQLITE_MODULE, "SqliteSessionStore");
const PostgresSessionStore = await loadStore(
  POSTGRES_MODULE,
  "PostgresSessionStore",
);

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
  ];
  if (implementsKeyValue(RedisSessionStore.prototype)) {
    if (redisAvailable("oauthStores() over Redis")) {
      factories.push({ name: "Redis", open: openRedisStore });
    }
  } else {
    console.warn(
      "oauthStores() over Redis not run: RedisSessionStore does not implement KeyValueStore yet",
    );
  }
  const Sqlite = SqliteSessionStore;
  if (Sqlite !== null && implementsKeyValue(Sqlite.prototype)) {
    factories.push({
      name: "SQLite",
      async open() {
        const { DatabaseSync } = await import("node:sqlite");
        const dir = await Deno.makeTempDir({ prefix: "oauth_sqlite_" });
        const database = new DatabaseSync(`${dir}/sessions.db`);
        return {
          store: new Sqlite({ database }) as SessionStore & KeyValueStore,
          async close() {
            database.close();
            await Deno.remove(dir, { recursive: true });
          },
        };
      },
    });
  }
  const Postgres = PostgresSessionStore;
  if (
    Postgres !== null && implementsKeyValue(Postgres.prototype) &&
    postgresAvailable("oauthStores() over PostgreSQL")
  ) {
    factories.push({
      name: "PostgreSQL",
      async open() {
        const { default: pg } = await import("npm:pg@8");
        const server = await startPostgresServer();
        const pool = new pg.Pool({ connectionString: server.url, max: 4 });
        pool.on("error", () => {});
        return {
          store: new Postgres({ client: pool }) as SessionStore & KeyValueStore,
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
