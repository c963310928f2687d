// deno-lint-ignore-file no-console -- a child process reporting on stdout
/**
 * One "server process" of the refresh race (oauth_race_test.ts): its own
 * SessionManager, its own NodeOAuthClient on `oauthStores()` over a shared
 * Redis or Deno KV file, force-refreshing one user's OAuth session for a
 * number of rounds once the parent says go.
 *
 * Usage: deno run -A --unstable-kv _race_process.ts '<json config>'
 * Prints `ready`, waits for a line on stdin, then prints one JSON line
 * `{ ok, failed, errors }`.
 *
 * @module
 */

import { readLines } from "./_lines.ts";
import { DenoKvSessionStore } from "../../src/stores/deno_kv.ts";
import type { KeyValueStore, SessionStore } from "../../src/store.ts";
import { summarizeOAuthError } from "../../src/oauth/_classify.ts";
import { createTestHost } from "./_host.ts";
import { oauthClient } from "./_pds.ts";

/** What the parent passes. */
export interface RaceConfig {
  readonly backend: "redis" | "kv";
  readonly redisUrl?: string;
  readonly kvPath?: string;
  readonly pdsUrl: string;
  readonly plcUrl: string;
  readonly did: string;
  readonly rounds: number;
  /** `"store"`: oauthStores()'s lock; `"none"`: a lock that locks nothing. */
  readonly lock: "store" | "none";
}

/** What the child prints. */
export interface RaceReport {
  readonly ok: number;
  readonly failed: number;
  readonly errors: string[];
}

const REDIS_MODULE = "../../src/stores/redis.ts";

async function openStore(
  config: RaceConfig,
): Promise<{ store: SessionStore & KeyValueStore; close(): Promise<void> }> {
  if (config.backend === "kv") {
    const kv = await Deno.openKv(config.kvPath!);
    return {
      store: new DenoKvSessionStore(kv),
      close: () => Promise.resolve(kv.close()),
    };
  }
  const { createClient } = await import("npm:redis@4");
  const { RedisSessionStore } = await import(REDIS_MODULE);
  const client = createClient({ url: config.redisUrl! });
  client.on("error", () => {});
  await client.connect();
  return {
    store: new RedisSessionStore({
      command: (args: string[]) => client.sendCommand(args),
    }),
    close: async () => void await client.quit(),
  };
}

if (import.meta.main) {
  const config = JSON.parse(Deno.args[0]!) as RaceConfig;
  const { store, close } = await openStore(config);
  const { bridge } = createTestHost({ store });
  const stores = bridge.oauthStores();
  const client = oauthClient(config, stores, {
    ...(config.lock === "none"
      ? { requestLock: (_name, fn) => Promise.resolve(fn()) }
      : {}),
  });
  console.log("ready");
  for await (const _go of readLines(Deno.stdin.readable)) break;
  let ok = 0;
  const errors: string[] = [];
  for (let round = 0; round < config.rounds; round++) {
    try {
      await client.restore(config.did, true);
      ok++;
    } catch (error) {
      const { error: name, code } = summarizeOAuthError(error);
      errors.push(code === undefined ? name : `${name}(${code})`);
    }
  }
  const report: RaceReport = { ok, failed: errors.length, errors };
  console.log(JSON.stringify(report));
  await close();
  Deno.exit(0);
}
