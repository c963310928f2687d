// deno-lint-ignore-file no-console -- prints the race's tallies
/**
 * The refresh race, across processes: two OS processes sharing one Redis
 * (and, separately, one Deno KV file), each with its own NodeOAuthClient on
 * `oauthStores()`, force-refresh one user's OAuth session concurrently. With
 * the store's lock every call succeeds and the session survives; with a
 * lock that locks nothing the PDS sees a refresh token used twice and the
 * session is lost, so this test can fail.
 */

import assert from "node:assert/strict";
import type { Browser } from "npm:playwright-core@1.65.1";
import {
  type AtprotoNetwork,
  atprotoNetworkAvailable,
  startAtprotoNetwork,
} from "../../dev/pds/mod.ts";
import type { KeyValueStore, SessionStore } from "../../src/store.ts";
import { DenoKvSessionStore } from "../../src/stores/deno_kv.ts";
import { redisAvailable, startRedisServer } from "../_redis_server.ts";
import { createTestHost } from "./_host.ts";
import {
  chromiumAvailable,
  getSession,
  launchChromium,
  oauthClient,
  ON_CI,
  signIn,
} from "./_pds.ts";
import { readLines } from "./_lines.ts";
import type { RaceConfig, RaceReport } from "./_race_process.ts";

const SUITE = "OAuth refresh race across processes";
const ROUNDS = 12;
const CHILD = new URL("./_race_process.ts", import.meta.url).pathname;
const RUN = atprotoNetworkAvailable(SUITE) &&
  (chromiumAvailable(SUITE) || ON_CI);
const REDIS_MODULE = "../../src/stores/redis.ts";

/** Starts one child, waits for `ready`; `go()` releases it. */
async function startChild(config: RaceConfig): Promise<{
  go(): Promise<void>;
  report: Promise<RaceReport>;
}> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-kv", CHILD, JSON.stringify(config)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = readLines(child.stdout);
  const first = await lines.next();
  if (first.value !== "ready") {
    child.kill();
    throw new Error(
      `Race child (pid ${child.pid}) did not start: ${first.value}`,
    );
  }
  const writer = child.stdin.getWriter();
  const report = (async () => {
    const line = await lines.next();
    const status = await child.status;
    assert.equal(
      status.code,
      0,
      `race child ${child.pid} exited ${status.code}`,
    );
    return JSON.parse(line.value as string) as RaceReport;
  })();
  return {
    async go() {
      await writer.write(new TextEncoder().encode("go\n"));
      await writer.close();
    },
    report,
  };
}

/** Two children racing; their reports. */
async function race(config: RaceConfig): Promise<RaceReport[]> {
  const children = await Promise.all([startChild(config), startChild(config)]);
  await Promise.all(children.map((child) => child.go()));
  return await Promise.all(children.map((child) => child.report));
}

interface Backend {
  readonly name: string;
  open(): Promise<{
    store: SessionStore & KeyValueStore;
    config: Pick<RaceConfig, "backend" | "redisUrl" | "kvPath">;
    close(): Promise<void>;
  }>;
}

function backends(): Backend[] {
  const list: Backend[] = [{
    name: "one Deno KV file",
    async open() {
      const dir = await Deno.makeTempDir({ prefix: "oauth_race_kv_" });
      const kvPath = `${dir}/race.sqlite`;
      const kv = await Deno.openKv(kvPath);
      return {
        store: new DenoKvSessionStore(kv),
        config: { backend: "kv", kvPath },
        async close() {
          kv.close();
          await Deno.remove(dir, { recursive: true });
        },
      };
    },
  }];
  if (redisAvailable(`${SUITE} over Redis`)) {
    list.unshift({
      name: "one Redis",
      async open() {
        const server = await startRedisServer();
        const { createClient } = await import("npm:redis@4");
        const { RedisSessionStore } = await import(REDIS_MODULE);
        const client = createClient({ url: server.url });
        client.on("error", () => {});
        await client.connect();
        return {
          store: new RedisSessionStore({
            command: (args: string[]) => client.sendCommand(args),
          }),
          config: { backend: "redis", redisUrl: server.url },
          async close() {
            await client.quit();
            await server.close();
          },
        };
      },
    });
  }
  return list;
}

if (RUN) {
  Deno.test({
    name:
      "requestLock() keeps concurrent force-refreshes in two processes from revoking the session",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      let network: AtprotoNetwork | undefined;
      let browser: Browser | undefined;
      try {
        network = await startAtprotoNetwork({ accounts: [{ name: "dave" }] });
        browser = await launchChromium();
        const net = network;
        const chromium = browser;
        const dave = net.accounts.dave!;
        for (const backend of backends()) {
          const { store, config, close } = await backend.open();
          try {
            const { bridge } = createTestHost({ store });
            const client = oauthClient(net, bridge.oauthStores());
            const base: RaceConfig = {
              ...config,
              pdsUrl: net.pdsUrl,
              plcUrl: net.plcUrl,
              did: dave.did,
              rounds: ROUNDS,
              lock: "store",
            };

            await t.step(
              `${backend.name}, the store's lock: every refresh succeeds and the session survives`,
              async () => {
                await client.callback(await signIn(chromium, client, dave));
                const reports = await race(base);
                console.log(
                  `${backend.name}, lock: ${JSON.stringify(reports)}`,
                );
                for (const report of reports) {
                  assert.deepEqual(report, {
                    ok: ROUNDS,
                    failed: 0,
                    errors: [],
                  });
                }
                const after = await client.restore(dave.did, true);
                assert.equal((await getSession(after)).status, 200);
              },
            );

            await t.step(
              `${backend.name}, a no-op lock: the race shows failures`,
              async () => {
                const reports = await race({ ...base, lock: "none" });
                console.log(
                  `${backend.name}, no-op lock: ${JSON.stringify(reports)}`,
                );
                const failed = reports.reduce((sum, r) => sum + r.failed, 0);
                assert.ok(
                  failed > 0,
                  "unlocked concurrent refreshes all succeeded",
                );
                assert.ok(
                  reports.some((r) =>
                    r.errors.some((e) => e.startsWith("TokenRefreshError"))
                  ),
                );
              },
            );
          } finally {
            await close();
          }
        }
      } finally {
        await browser?.close();
        await network?.close();
      }
    },
  });
}
