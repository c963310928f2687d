/**
 * Hot-path scenarios with a server-side store: `MemorySessionStore`, and a
 * `RedisSessionStore` against a redis-server this module starts on a free
 * 127.0.0.1 port (when `/usr/bin/redis-server` exists and the run was
 * granted `--allow-run` and `--allow-net`), compared with the storeless hot
 * path.
 *
 * @module
 */

import type { SessionStore } from "../mod.ts";
import { MemorySessionStore } from "../src/stores/memory.ts";
import { RedisSessionStore } from "../src/stores/redis.ts";
import { fillCache, hotManager, type Scenario } from "./_scenarios.ts";

/** Store scenarios, and how to stop what they started. */
export interface StoreScenarios {
  readonly scenarios: Scenario[];
  readonly close: () => Promise<void>;
}

const REDIS_SERVER = "/usr/bin/redis-server";

function request(setCookie: string): Request {
  return new Request("https://app.example/dashboard", {
    headers: { cookie: setCookie.slice(0, setCookie.indexOf(";")) },
  });
}

async function hotScenarioParts(store: SessionStore | undefined) {
  const manager = hotManager(store === undefined ? {} : { store });
  await fillCache(manager);
  const req = request(
    await manager.createSession({
      did: "did:web:user0.example.com",
      handle: "user0.example.com",
    }),
  );
  const result = await manager.getSessionFromRequest(req);
  if (result.error !== null) {
    throw new Error(`Store benchmark setup failed: ${result.error.type}`);
  }
  return () => manager.getSessionFromRequest(req);
}

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

/**
 * Builds the store scenarios that can run here.
 *
 * @param options `redis: false` skips Redis even when it is available.
 * @returns The scenarios and a `close` that stops redis-server.
 */
export async function buildStoreScenarios(
  options: { redis: boolean },
): Promise<StoreScenarios> {
  const storeless = await hotScenarioParts(undefined);
  const memory = await hotScenarioParts(new MemorySessionStore());
  const scenarios: Scenario[] = [{
    id: "store-memory",
    title: "getSessionFromRequest, hot, MemorySessionStore (cache full)",
    requestsPerOp: 1,
    impls: [["target", memory], ["storeless", storeless]],
    ratios: [{ kind: "slowdown", against: "storeless", goal: 1.2 }],
  }];
  let close = (): Promise<void> => Promise.resolve();
  if (
    options.redis && exists(REDIS_SERVER) && granted()
  ) {
    const redis = await startRedis();
    close = () => redis.close();
    try {
      const store = new RedisSessionStore({
        command: (args) => redis.command(args),
      });
      scenarios.push({
        id: "store-redis",
        title:
          "getSessionFromRequest, hot, RedisSessionStore (local redis, cache full)",
        requestsPerOp: 1,
        impls: [
          ["target", await hotScenarioParts(store)],
          ["storeless", storeless],
          ["memory", memory],
        ],
        ratios: [
          { kind: "slowdown", against: "storeless" },
          { kind: "slowdown", against: "memory" },
        ],
      });
    } catch (error) {
      await close();
      throw error;
    }
  }
  return { scenarios, close };
}
