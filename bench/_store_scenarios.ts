/**
 * Scenarios with a server-side store, each against its own floor: the hot
 * path against one raw `GET` (Redis, sequentially and 64 in flight) or one
 * `kv.get` (Deno KV) of a value the size of a session record, and the
 * refresh against the storeless refresh; plus the round trips each request
 * makes, counted at the transport (a counting Redis `command` function and
 * a counting `Deno.Kv`).
 *
 * Redis runs against a redis-server this module starts on a free
 * 127.0.0.1 port (when `/usr/bin/redis-server` exists and the run was
 * granted `--allow-run` and `--allow-net`); Deno KV against `:memory:`
 * (needs `--unstable-kv`).
 *
 * @module
 */

import { SessionManager, type SessionStore } from "../mod.ts";
import { DenoKvSessionStore } from "../src/stores/deno_kv.ts";
import { MemorySessionStore } from "../src/stores/memory.ts";
import { RedisSessionStore } from "../src/stores/redis.ts";
import {
  type Counted,
  countingCommand,
  countingKv,
} from "../tests/_counting.ts";
import {
  type AppFields,
  check,
  COLD_CACHE_SIZE,
  CONCURRENCY,
  cycle,
  DISTINCT,
  fillCache,
  hotManager,
  inBatches,
  input,
  OLD,
  request,
  type Scenario,
  sealOf,
  SECRET,
  T0,
} from "./_scenarios.ts";

/** Round trips of one request, per store and case. */
export interface RoundTrips {
  readonly store: string;
  /** A cached, live cookie that is not due for a refresh. */
  readonly hot: readonly string[];
  /** A cookie due for a sliding refresh. */
  readonly refresh: readonly string[];
  /** A cookie sealed under an older secret id, not due by time. */
  readonly rotation: readonly string[];
  /** A cached, record-backed Bearer token. */
  readonly bearer: readonly string[];
}

/** Store scenarios, their round-trip counts, and how to stop what they started. */
export interface StoreScenarios {
  readonly scenarios: Scenario[];
  /** Counts the round trips (run after the measurements). */
  readonly roundTrips: () => Promise<RoundTrips[]>;
  readonly close: () => Promise<void>;
}

const REDIS_SERVER = "/usr/bin/redis-server";
const OLD_SECRET = "bench-old-secret-that-is-at-least-32-characters";

function exists(path: string | URL): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function granted(): boolean {
  return Deno.permissions.querySync({ name: "run", command: REDIS_SERVER })
        .state === "granted" &&
    Deno.permissions.querySync({ name: "net", host: "127.0.0.1" }).state ===
      "granted";
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

interface RedisHandle {
  command(args: string[]): Promise<unknown>;
  close(): Promise<void>;
}

async function startRedis(): Promise<RedisHandle> {
  const port = freePort();
  const server = new Deno.Command(REDIS_SERVER, {
    args: [
      "--bind",
      "127.0.0.1",
      "--port",
      String(port),
      "--save",
      "",
      "--appendonly",
      "no",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const { createClient } = await import("npm:redis@4");
  const client = createClient({ url: `redis://127.0.0.1:${port}` });
  client.on("error", () => {});
  for (let attempt = 0;; attempt++) {
    try {
      await client.connect();
      break;
    } catch (error) {
      if (attempt > 50) {
        server.kill();
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    command: (args) => client.sendCommand(args),
    async close() {
      await client.quit().catch(() => {});
      server.kill();
      await server.status;
    },
  };
}

/** A manager over `store` with sessions and requests for every case. */
interface StoreParts {
  readonly manager: SessionManager<AppFields>;
  /** One cached, live session. */
  readonly hot: Request;
  /** CONCURRENCY cached, live sessions. */
  readonly many: readonly Request[];
  /** Their record ids. */
  readonly manyIds: readonly string[];
  /** The hot session's record id. */
  readonly id: string;
  /** Refresh-due sessions with records, more than the cache holds. */
  readonly old: readonly Request[];
  /** A manager with a small cache over the same store, for `old`. */
  readonly refresher: SessionManager<AppFields>;
}

async function storeParts(store: SessionStore): Promise<StoreParts> {
  const manager = hotManager({ store });
  await fillCache(manager);
  const hotCookie = await manager.createSession(input(0));
  const hot = request(sealOf(hotCookie));
  const first = await manager.getSessionFromRequest(hot);
  check(first.error === null, "hot store request is served");
  const many = await inBatches(
    CONCURRENCY,
    async (i) => request(sealOf(await manager.createSession(input(i)))),
  );
  const manyIds: string[] = [];
  for (const r of many) {
    const read = await manager.getSessionFromRequest(r);
    check(read.error === null, "every concurrent session is served");
    manyIds.push(read.data!.sessionId!);
  }
  const minter = new SessionManager<AppFields>({
    cookieSecret: SECRET,
    store,
    cacheSize: 0,
    now: () => T0 - OLD,
  });
  const oldSeals = await inBatches(
    DISTINCT,
    async (i) => sealOf(await minter.createSession(input(i))),
  );
  const old = oldSeals.map(request);
  const refresher = hotManager({ store, cacheSize: COLD_CACHE_SIZE });
  const refreshed = await refresher.getSessionFromRequest(old[0]!);
  check(
    refreshed.error === null &&
      !refreshed.setCookieHeader.includes(oldSeals[0]!),
    "refresh with a store is served with a fresh seal",
  );
  return {
    manager,
    hot,
    many,
    manyIds,
    id: first.data!.sessionId!,
    old,
    refresher,
  };
}

/** Counts one request of each case on a fresh manager over `store`. */
async function countTrips(
  name: string,
  store: SessionStore,
  counter: Counted,
): Promise<RoundTrips> {
  const oldMinter = new SessionManager<AppFields>({
    cookieSecret: { "1": OLD_SECRET },
    store,
    now: () => T0 - 1000,
  });
  const minter = new SessionManager<AppFields>({
    cookieSecret: { "2": SECRET },
    store,
    now: () => T0 - OLD,
  });
  const manager = hotManager({
    cookieSecret: { "1": OLD_SECRET, "2": SECRET },
    store,
    refreshAfter: 3600,
  });
  const fresh = request(sealOf(await manager.createSession(input(1))));
  const dueSeal = sealOf(await minter.createSession(input(2)));
  const due = request(dueSeal);
  const rotated = request(sealOf(await oldMinter.createSession(input(3))));
  const token = await manager.sealToken(input(4));
  const trips = async (run: () => Promise<boolean>): Promise<string[]> => {
    counter.reset();
    check(await run(), `${name} round-trip request is served`);
    return [...counter.trips];
  };
  // Loads the scripts, so a refresh is counted as it is in steady state.
  await manager.getSessionFromRequest(
    request(sealOf(await minter.createSession(input(5)))),
  );
  return {
    store: name,
    hot: await trips(async () =>
      (await manager.getSessionFromRequest(fresh)).error === null
    ),
    refresh: await trips(async () => {
      const result = await manager.getSessionFromRequest(due);
      return result.error === null &&
        !result.setCookieHeader.includes(dueSeal);
    }),
    rotation: await trips(async () => {
      const result = await manager.getSessionFromRequest(rotated);
      return result.error === null &&
        result.setCookieHeader.startsWith("sid=Fe26.2*2*");
    }),
    bearer: await trips(async () =>
      (await manager.validateBearerToken(`Bearer ${token}`)).error === null
    ),
  };
}

/**
 * Builds the store scenarios that can run here.
 *
 * @param options `redis: false` skips Redis even when it is available.
 * @returns The scenarios, the round-trip counter and a `close`.
 */
export async function buildStoreScenarios(
  options: { redis: boolean },
): Promise<StoreScenarios> {
  const storeless = hotManager();
  await fillCache(storeless);
  const storelessHot = request(
    sealOf(await storeless.createSession(input(0))),
  );
  const storelessRefresher = hotManager({ cacheSize: COLD_CACHE_SIZE });
  const memory = await storeParts(new MemorySessionStore());
  const scenarios: Scenario[] = [{
    id: "store-memory",
    title: "getSessionFromRequest, hot, MemorySessionStore (cache full)",
    requestsPerOp: 1,
    impls: [
      ["target", () => memory.manager.getSessionFromRequest(memory.hot)],
      ["storeless", () => storeless.getSessionFromRequest(storelessHot)],
    ],
    ratios: [{ kind: "slowdown", against: "storeless", goal: 1.2 }],
  }];
  const counters: Array<() => Promise<RoundTrips>> = [];
  const closers: Array<() => Promise<void>> = [];

  // Deno KV (in memory): one kv.get of the record is the floor.
  const rawKv = await Deno.openKv(":memory:");
  closers.push(() => Promise.resolve(rawKv.close()));
  const kv = countingKv(rawKv);
  // Timed without the counter; counted on a second store over the same data.
  const kvStore = new DenoKvSessionStore(rawKv);
  const kvParts = await storeParts(kvStore);
  const kvRecord = await kvStore.getSession(kvParts.id, T0);
  await rawKv.set(["raw", "record"], kvRecord);
  scenarios.push(
    {
      id: "store-kv",
      title: "getSessionFromRequest, hot, DenoKvSessionStore (:memory:)",
      requestsPerOp: 1,
      impls: [
        ["target", () => kvParts.manager.getSessionFromRequest(kvParts.hot)],
        ["kv.get", () => rawKv.get(["raw", "record"])],
      ],
      ratios: [{ kind: "slowdown", against: "kv.get", goal: 1.1 }],
    },
    {
      id: "refresh-kv",
      title:
        `getSessionFromRequest, refresh due, DenoKvSessionStore (${DISTINCT} distinct, cache miss)`,
      requestsPerOp: 1,
      impls: [
        [
          "target",
          cycle(kvParts.old, (r) => kvParts.refresher.getSessionFromRequest(r)),
        ],
        [
          "storeless",
          cycle(
            kvParts.old,
            (r) => storelessRefresher.getSessionFromRequest(r),
          ),
        ],
      ],
      ratios: [{ kind: "slowdown", against: "storeless" }],
    },
  );
  counters.push(() => countTrips("Deno KV", new DenoKvSessionStore(kv.kv), kv));

  if (options.redis && exists(REDIS_SERVER) && granted()) {
    const redis = await startRedis();
    closers.push(() => redis.close());
    const counted = countingCommand((args) => redis.command(args));
    const store = new RedisSessionStore({
      command: (args) => redis.command(args),
    });
    const parts = await storeParts(store);
    // A raw value the size of the hot session's record.
    const record = JSON.stringify(await store.getSession(parts.id, T0));
    const rawKeys = Array.from({ length: CONCURRENCY }, (_, i) => `raw:${i}`);
    for (const key of rawKeys) await redis.command(["SET", key, record]);
    // The very reads the store makes for those sessions: their records, on
    // their per-DID hashes (the default prefix).
    const hgets = parts.manyIds.map((id) => [
      "HGET",
      `atproto-sessions:sessions:${id.slice(0, id.indexOf("~"))}`,
      id,
    ]);
    scenarios.push(
      {
        id: "store-redis",
        title:
          "getSessionFromRequest, hot, RedisSessionStore (local redis, cache full)",
        requestsPerOp: 1,
        impls: [
          ["target", () => parts.manager.getSessionFromRequest(parts.hot)],
          ["GET", () => redis.command(["GET", rawKeys[0]!])],
        ],
        ratios: [{ kind: "slowdown", against: "GET", goal: 1.15 }],
      },
      {
        id: "store-redis-64",
        title:
          `${CONCURRENCY} in flight getSessionFromRequest, hot, RedisSessionStore`,
        requestsPerOp: CONCURRENCY,
        impls: [
          [
            "target",
            () =>
              Promise.all(
                parts.many.map((r) => parts.manager.getSessionFromRequest(r)),
              ),
          ],
          [
            "GET",
            () =>
              Promise.all(rawKeys.map((key) => redis.command(["GET", key]))),
          ],
          [
            "HGET",
            () => Promise.all(hgets.map((args) => redis.command(args))),
          ],
        ],
        ratios: [
          { kind: "slowdown", against: "GET", goal: 1.3 },
          { kind: "slowdown", against: "HGET" },
        ],
      },
      {
        id: "refresh-redis",
        title:
          `getSessionFromRequest, refresh due, RedisSessionStore (${DISTINCT} distinct, cache miss)`,
        requestsPerOp: 1,
        impls: [
          [
            "target",
            cycle(parts.old, (r) => parts.refresher.getSessionFromRequest(r)),
          ],
          [
            "storeless",
            cycle(
              parts.old,
              (r) => storelessRefresher.getSessionFromRequest(r),
            ),
          ],
        ],
        ratios: [{ kind: "slowdown", against: "storeless" }],
      },
    );
    counters.push(() =>
      countTrips(
        "Redis",
        new RedisSessionStore({ command: counted.command }),
        counted,
      )
    );
  }
  return {
    scenarios,
    roundTrips: async () => {
      const out: RoundTrips[] = [];
      for (const count of counters) out.push(await count());
      return out;
    },
    close: async () => {
      for (const close of closers.reverse()) await close().catch(() => {});
    },
  };
}
