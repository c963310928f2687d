// deno-lint-ignore-file no-console
/**
 * RedisSessionStore on a real Redis Cluster (3 masters, 3 replicas, started
 * once for this file by tests/_redis_cluster.ts), through ioredis `Cluster`
 * and node-redis `createCluster`. The failover test runs last: it kills a
 * master.
 */
import assert from "node:assert/strict";
import type { SessionRecord } from "../../src/store.ts";
import {
  type RedisRoute,
  RedisSessionStore,
  type RedisSessionStoreOptions,
} from "../../src/stores/redis.ts";
import { type RedisCluster, startRedisCluster } from "../_redis_cluster.ts";
import { redisAvailable } from "../_redis_server.ts";
import { DID, HOUR, NOW, record, storeContract } from "./store_contract.ts";
import { valueContract } from "./value_contract.ts";
import { connectCluster } from "./redis_cluster_clients.ts";

type Command = (args: string[], route: RedisRoute) => Promise<unknown>;

interface Connection {
  readonly command: Command;
  close(): Promise<void>;
}

/** ioredis `Cluster`, as the module documentation wires it. */
function ioredisCluster(cluster: RedisCluster): Promise<Connection> {
  return connectCluster(
    "ioredis",
    cluster.seeds.map((seed) => seed.port),
  ) as Promise<Connection>;
}

/** node-redis `createCluster`, as the module documentation wires it. */
function nodeRedisCluster(cluster: RedisCluster): Promise<Connection> {
  return connectCluster(
    "node-redis",
    cluster.seeds.map((seed) => seed.port),
  ) as Promise<Connection>;
}

const CLIENTS = {
  "ioredis Cluster": ioredisCluster,
  "node-redis createCluster": nodeRedisCluster,
} as const;

/** Wraps a command function, recording each command's name. */
function counting(command: Command): { command: Command; sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    command: (args, route) => {
      sent.push(args[0]!);
      return command(args, route);
    },
  };
}

let prefixes = 0;
const storeOn = (
  command: Command,
  options: Partial<RedisSessionStoreOptions> = {},
) =>
  new RedisSessionStore({
    command,
    cluster: true,
    prefix: `c${prefixes++}:`,
    ...options,
  });

const didNumber = (i: number) => `did:plc:user${String(i).padStart(5, "0")}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts a prefix's keys on each master. */
async function keysPerMaster(
  cluster: RedisCluster,
  prefix: string,
): Promise<number[]> {
  const masters = (await cluster.nodes()).filter((node) =>
    node.master && node.slots > 0 && !node.failed
  );
  return await Promise.all(
    masters.map(async (node) =>
      (await cluster.cli(node.port, "--scan", "--pattern", `${prefix}*`))
        .split("\n").filter(Boolean).length
    ),
  );
}

if (redisAvailable("RedisSessionStore on Redis Cluster tests")) {
  const started = Date.now();
  const cluster = await startRedisCluster();
  console.log(
    `Redis Cluster (3 masters, 3 replicas) up in ${Date.now() - started} ms`,
  );

  for (const [name, connect] of Object.entries(CLIENTS)) {
    // ioredis with durableWrites (WAIT through a pipeline), node-redis without.
    const durableWrites = name.startsWith("ioredis");
    const harness = async () => {
      const connection = await connect(cluster);
      return {
        create: () => storeOn(connection.command, { durableWrites }),
        close: connection.close,
      };
    };
    const label = `RedisSessionStore on Redis Cluster (${name}${
      durableWrites ? ", durableWrites" : ""
    })`;
    storeContract(label, harness);
    valueContract(label, harness);
  }

  /** Both clients, closed together. */
  const withBoth = async (
    fn: (io: Connection, nr: Connection) => Promise<void>,
  ): Promise<void> => {
    const io = await ioredisCluster(cluster);
    const nr = await nodeRedisCluster(cluster);
    try {
      await fn(io, nr);
    } finally {
      await io.close();
      await nr.close();
    }
  };

  Deno.test("RedisSessionStore on a cluster spreads DIDs over all three masters, readable through either client", async () => {
    await withBoth(async (io, nr) => {
      const prefix = `spread${prefixes++}:`;
      const writer = storeOn(io.command, { prefix });
      const reader = storeOn(nr.command, { prefix });
      const ids = Array.from(
        { length: 300 },
        (_, i) => writer.sessionIdFor(didNumber(i), "s"),
      );
      await Promise.all(
        ids.map((id, i) =>
          writer.createSession(record(id, { did: didNumber(i) }), {}, NOW)
        ),
      );
      const counts = await keysPerMaster(cluster, prefix);
      assert.equal(counts.length, 3);
      assert.ok(
        counts.every((count) => count > 0),
        `keys per master ${counts}`,
      );
      assert.equal(counts.reduce((a, b) => a + b), 300);
      const read = await Promise.all(
        ids.map((id) => reader.getSession(id, NOW)),
      );
      assert.deepEqual(read.map((r) => r?.id), ids);
    });
  });

  Deno.test("RedisSessionStore on a cluster keeps the cap under 100 concurrent sign-ins from two clients", async () => {
    await withBoth(async (io, nr) => {
      const prefix = `cap${prefixes++}:`;
      const stores = [
        storeOn(io.command, { prefix, durableWrites: true }),
        storeOn(nr.command, { prefix, durableWrites: true }),
      ];
      const ids = Array.from(
        { length: 100 },
        (_, i) =>
          stores[0]!.sessionIdFor(DID, `c${String(i).padStart(3, "0")}`),
      );
      const results = await Promise.all(
        ids.map((id, i) =>
          stores[i % 2]!.createSession(
            record(id, { createdAt: NOW + i }),
            { maxSessionsPerUser: 5 },
            NOW,
          )
        ),
      );
      const listed = (await stores[1]!.listSessions(DID, NOW)).map((r) => r.id);
      assert.equal(listed.length, 5);
      const evicted = results.flat().map((r) => r.id);
      assert.equal(evicted.length, 95);
      assert.equal(new Set([...evicted, ...listed]).size, 100);
    });
  });

  Deno.test("RedisSessionStore on a cluster: a refresh is one round trip, a hot read one HGET", async () => {
    await withBoth(async (io, nr) => {
      for (const connection of [io, nr]) {
        const { command, sent } = counting(connection.command);
        const store = storeOn(command, { durableWrites: true });
        const id = store.sessionIdFor(DID, "rt");
        await store.createSession(record(id), {}, NOW);
        await store.updateSession(id, { lastAccessed: NOW }, NOW); // loads the script
        sent.length = 0;
        await store.getSession(id, NOW + 1);
        assert.deepEqual(sent, ["HGET"]);
        sent.length = 0;
        const refreshed = await store.updateSession(id, {
          lastAccessed: NOW + 1,
          expiresAt: NOW + 1 + HOUR,
        }, NOW + 1);
        assert.equal(refreshed?.lastAccessed, NOW + 1);
        assert.deepEqual(sent, ["EVALSHA"]);
        sent.length = 0;
        await store.createSession(
          record(store.sessionIdFor(DID, "rt2")),
          {},
          NOW,
        );
        assert.deepEqual(sent, ["EVALSHA", "WAIT"], "a durable sign-in");
      }
    });
  });

  Deno.test("RedisSessionStore on a cluster: rotateToken, takeValue and acquireLock have one winner among 100 callers on two clients", async () => {
    await withBoth(async (io, nr) => {
      const prefix = `race${prefixes++}:`;
      const stores = [
        storeOn(io.command, { prefix }),
        storeOn(nr.command, { prefix }),
      ];
      const id = stores[0]!.sessionIdFor(DID, "t");
      await stores[0]!.createSession(record(id, { kind: "token" }), {}, NOW);
      await stores[0]!.setValue("handoff", "code", "payload", NOW + HOUR, NOW);
      const callers = Array.from({ length: 100 }, (_, i) => stores[i % 2]!);
      const [rotations, takes, locks] = await Promise.all([
        Promise.all(callers.map((store, i) =>
          store.rotateToken(id, 0, {
            lastAccessed: NOW + 1,
            expiresAt: NOW + HOUR,
            successor: `s${i}`,
          }, NOW + 1)
        )),
        Promise.all(
          callers.map((store) => store.takeValue("handoff", "code", NOW)),
        ),
        Promise.all(
          callers.map((store, i) =>
            store.acquireLock("oauth-did", `owner-${i}`, 60_000, NOW)
          ),
        ),
      ]);
      assert.equal(rotations.filter((r) => r.rotated).length, 1);
      assert.ok(rotations.every((r) => r.record?.generation === 1));
      assert.equal(takes.filter((v) => v === "payload").length, 1);
      assert.equal(locks.filter(Boolean).length, 1);
    });
  });

  Deno.test("RedisSessionStore on a cluster: clearValues() empties a namespace spread over several masters", async () => {
    await withBoth(async (io, nr) => {
      const prefix = `vals${prefixes++}:`;
      const writer = storeOn(io.command, { prefix });
      await Promise.all(
        Array.from(
          { length: 200 },
          (_, i) =>
            writer.setValue("oauth_state", `state-${i}`, "v", NOW + HOUR, NOW),
        ),
      );
      await writer.setValue("oauth_session", "did:plc:keep", "k", null, NOW);
      const counts = await keysPerMaster(cluster, `${prefix}value:`);
      assert.ok(
        counts.filter((count) => count > 0).length >= 2,
        `values per master ${counts}`,
      );
      await storeOn(nr.command, { prefix }).clearValues("oauth_state");
      const left = await Promise.all(
        Array.from(
          { length: 200 },
          (_, i) => writer.getValue("oauth_state", `state-${i}`, NOW),
        ),
      );
      assert.ok(left.every((value) => value === null));
      assert.equal(
        await writer.getValue("oauth_session", "did:plc:keep", NOW),
        "k",
      );
    });
  });

  Deno.test({
    name:
      "RedisSessionStore on a cluster survives a master killed mid-test: errors, never a wrong answer, and durable writes outlive the failover",
    // The clients' reconnect timers outlive a killed node's sockets.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const io = await ioredisCluster(cluster);
      const nr = await nodeRedisCluster(cluster);
      const prefix = "fo:";
      const ioStore = storeOn(io.command, { prefix, durableWrites: true });
      const nrStore = storeOn(nr.command, { prefix, durableWrites: true });
      try {
        // Before the kill: sessions, revocations, a rotation, values.
        const expected = new Map<string, SessionRecord | null>();
        const now = NOW;
        for (let d = 0; d < 60; d++) {
          const did = didNumber(d);
          for (let s = 0; s < 3; s++) {
            const id = ioStore.sessionIdFor(did, `s${s}`);
            const created = record(id, { did, createdAt: now + s });
            await (s % 2 ? nrStore : ioStore).createSession(created, {}, now);
            expected.set(id, created);
          }
          const revoked = ioStore.sessionIdFor(did, "s0");
          assert.ok(await nrStore.deleteSession(revoked));
          expected.set(revoked, null);
          const rotated = ioStore.sessionIdFor(did, "s1");
          const rotation = await ioStore.rotateToken(rotated, 0, {
            lastAccessed: now + 10,
            expiresAt: now + 2 * HOUR,
            successor: `successor-${d}`,
          }, now + 10);
          assert.ok(rotation.rotated);
          expected.set(rotated, rotation.record);
        }
        for (let d = 0; d < 10; d++) {
          for (const record of await ioStore.deleteAllSessions(didNumber(d))) {
            expected.set(record.id, null);
          }
        }
        for (let j = 0; j < 20; j++) {
          await nrStore.revokeToken(`jti-${j}`, now + HOUR, now);
        }
        for (let v = 0; v < 30; v++) {
          await ioStore.setValue(
            "handoff",
            `code-${v}`,
            `v${v}`,
            now + HOUR,
            now,
          );
        }
        for (let v = 0; v < 15; v++) {
          assert.equal(
            await nrStore.takeValue("handoff", `code-${v}`, now),
            `v${v}`,
          );
        }

        const counts = await keysPerMaster(cluster, prefix);
        const masters = (await cluster.nodes()).filter((node) =>
          node.master && node.slots > 0
        );
        const victim = masters[counts.findIndex((count) => count > 0)]!;
        const killedAt = Date.now();
        await cluster.kill(victim.port);

        // While the master is down and until its replica takes over, every
        // answer is right or an error; each call settles.
        let wrong = 0;
        let errors = 0;
        let slowest = 0;
        const pending: Promise<unknown>[] = [];
        const check = async (store: RedisSessionStore): Promise<boolean> => {
          let allRight = true;
          await Promise.all([...expected].map(async ([id, want]) => {
            const began = Date.now();
            const call = store.getSession(id, now + 20);
            pending.push(call.catch(() => {}));
            const outcome = await Promise.race([
              call.then((got) => ({ got }), (error) => ({ error })),
              sleep(3000).then(() => ({ error: new Error("timed out") })),
            ]);
            slowest = Math.max(slowest, Date.now() - began);
            if ("error" in outcome) {
              errors++;
              allRight = false;
            } else if (
              JSON.stringify(outcome.got) !== JSON.stringify(want)
            ) {
              wrong++;
              allRight = false;
            }
          }));
          return allRight;
        };
        let recoveredAt = 0;
        while (Date.now() - killedAt < 30_000) {
          if (await check(ioStore)) {
            recoveredAt = Date.now();
            break;
          }
          await sleep(200);
        }
        assert.ok(recoveredAt > 0, "ioredis answers again after the failover");
        assert.ok(errors > 0, "the outage was seen as errors");
        await cluster.waitHealthy(20_000);
        const promoted = (await cluster.nodes()).find((node) =>
          node.id !== victim.id && node.master && node.slots === victim.slots
        );
        assert.ok(promoted, "a replica took over the killed master's slots");

        // Everything written before the kill is there; revocations hold.
        for (let j = 0; j < 20; j++) {
          assert.equal(await ioStore.isTokenRevoked(`jti-${j}`, now), true);
        }
        for (let v = 0; v < 30; v++) {
          assert.equal(
            await ioStore.getValue("handoff", `code-${v}`, now),
            v < 15 ? null : `v${v}`,
          );
        }
        for (let d = 0; d < 10; d++) {
          assert.deepEqual(await ioStore.listSessions(didNumber(d), now), []);
        }
        // Rotated tokens stay rotated: generation 0 cannot rotate again.
        const again = await ioStore.rotateToken(
          ioStore.sessionIdFor(didNumber(20), "s1"),
          0,
          { lastAccessed: now + 30, expiresAt: now + HOUR, successor: "x" },
          now + 30,
        );
        assert.equal(again.rotated, false);
        assert.equal(again.record?.generation, 1);

        // node-redis 4 rediscovers slots only on MOVED: it answers again
        // once the killed node is back (as a replica) and redirects it.
        await cluster.restart(victim.port);
        await cluster.waitHealthy(20_000);
        let nodeRedisBack = false;
        while (Date.now() - killedAt < 60_000) {
          if (await check(nrStore)) {
            nodeRedisBack = true;
            break;
          }
          await sleep(200);
        }
        assert.ok(nodeRedisBack, "node-redis answers again");
        assert.equal(wrong, 0, "no wrong answer at any point");
        const settled = await Promise.race([
          Promise.all(pending).then(() => true),
          sleep(15_000).then(() => false),
        ]);
        assert.ok(settled, "every call settled: none hung");
        console.log(
          `Failover: killed master ${victim.port} (PID gone); ioredis answered every session right after ${
            recoveredAt - killedAt
          } ms; ${errors} calls answered errors meanwhile, 0 wrong; slowest call ${slowest} ms`,
        );
      } finally {
        await io.close();
        await nr.close();
      }
    },
  });

  Deno.test("the Redis Cluster of this file stops, by PID", async () => {
    const pids = cluster.ports.map((port) => cluster.pid(port));
    await cluster.close();
    for (const pid of pids) {
      assert.throws(() => Deno.kill(pid, "SIGCONT"), "the process is gone");
    }
  });
}
