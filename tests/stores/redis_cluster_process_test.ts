// deno-lint-ignore-file no-console -- prints the cluster's start-up time
/**
 * Two OS processes sharing one real Redis Cluster (3 masters, 3 replicas,
 * started once for this file by tests/_redis_cluster.ts), as two app
 * servers behind a load balancer would: both race at once on one DID's
 * capped sign-ins, on every generation of the same tokens, on the same
 * hand-off codes and on the same leases, and every single-winner operation
 * has exactly one winner across the processes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { RedisSessionStore } from "../../src/stores/redis.ts";
import { startRedisCluster } from "../_redis_cluster.ts";
import { redisAvailable } from "../_redis_server.ts";
import {
  type ClusterClientName,
  connectCluster,
} from "./redis_cluster_clients.ts";
import {
  CAP_DID,
  COUNTER,
  LEASE_MS,
  ONE_SHOT_LOCK,
  record,
  TOKEN_DID,
  type WorkerConfig,
  type WorkerReport,
} from "./redis_cluster_worker.ts";
import { type RaceWorker, spawnRaceWorker } from "./_race_worker.ts";

const WORKER = new URL("./redis_cluster_worker.ts", import.meta.url).pathname;
const HOUR = 60 * 60 * 1000;

/** The race, less the cluster's ports and the prefix. */
const RACE = {
  signIns: 60,
  cap: 5,
  generations: 10,
  rotators: 3,
  lockCallers: 20,
  counterLoops: 2,
  lockTurns: 15,
} as const;
const TOKEN_COUNT = 4;
const CODE_COUNT = 100;

/** A spawned worker: its process and a promise of each line it prints. */
type Worker = RaceWorker<WorkerReport>;

function spawn(
  config: WorkerConfig,
  owner: string,
  client: ClusterClientName,
): Worker {
  return spawnRaceWorker<WorkerReport>([
    "run",
    "-A",
    WORKER,
    JSON.stringify(config),
    owner,
    client,
  ], owner);
}

if (redisAvailable("RedisSessionStore two-process tests on Redis Cluster")) {
  const started = Date.now();
  const cluster = await startRedisCluster();
  console.log(
    `Redis Cluster (3 masters, 3 replicas) up in ${Date.now() - started} ms`,
  );
  const ports = cluster.seeds.map((seed) => seed.port);
  let races = 0;

  /**
   * Seeds the tokens and codes under a fresh prefix, runs two workers on
   * the cluster at once, and checks what they report against the cluster.
   */
  const race = async (
    clients: readonly [ClusterClientName, ClusterClientName],
    durableWrites: boolean,
  ): Promise<void> => {
    const prefix = `proc${races++}:`;
    const connection = await connectCluster("ioredis", ports);
    const workers: Worker[] = [];
    try {
      const store = new RedisSessionStore({
        command: connection.command,
        cluster: true,
        prefix,
      });
      const now = Date.now();
      const tokens = Array.from(
        { length: TOKEN_COUNT },
        (_, k) => store.sessionIdFor(TOKEN_DID, `token-${k}`),
      );
      const codes = Array.from({ length: CODE_COUNT }, (_, i) => `code-${i}`);
      for (const id of tokens) {
        await store.createSession(record(id, TOKEN_DID, now, "token"), {}, now);
      }
      await Promise.all(
        codes.map((code) =>
          store.setValue("handoff", code, `payload-${code}`, now + HOUR, now)
        ),
      );
      const config: WorkerConfig = {
        ...RACE,
        ports,
        prefix,
        durableWrites,
        tokens,
        codes,
      };
      workers.push(
        spawn(config, "p1", clients[0]),
        spawn(config, "p2", clients[1]),
      );
      await Promise.all(workers.map((worker) => worker.ready));
      const go = new TextEncoder().encode("go\n");
      await Promise.all(workers.map(async ({ child }) => {
        const writer = child.stdin.getWriter();
        await writer.write(go);
        await writer.close();
      }));
      const reports = await Promise.all(workers.map((worker) => worker.report));
      const statuses = await Promise.all(
        workers.map(({ child }) => child.status),
      );
      for (const status of statuses) assert.equal(status.code, 0);

      // No error escaped the store in either process, and they overlapped.
      assert.deepEqual(reports.flatMap((r) => r.errors), []);
      assert.ok(
        Math.max(...reports.map((r) => r.startedAt)) <
          Math.min(...reports.map((r) => r.endedAt)),
        "the two processes raced at the same time",
      );

      // Every sign-in succeeded; exactly the cap remains, and each evicted
      // session was reported by exactly one createSession.
      const created = reports.flatMap((r) => r.created);
      assert.equal(created.length, 2 * RACE.signIns);
      const evicted = reports.flatMap((r) => r.evicted);
      assert.equal(new Set(evicted).size, evicted.length, "evicted once");
      const remaining = (await store.listSessions(CAP_DID, Date.now())).map((
        r,
      ) => r.id);
      assert.equal(remaining.length, RACE.cap, "exactly the cap remains");
      assert.equal(evicted.length + remaining.length, created.length);
      assert.deepEqual(new Set([...evicted, ...remaining]), new Set(created));

      // Each generation of each token was rotated by exactly one caller.
      const rotations = reports.flatMap((r) => r.rotations).sort();
      const expected = tokens.flatMap((id) =>
        Array.from({ length: RACE.generations }, (_, g) => `${id}#${g}`)
      ).sort();
      assert.deepEqual(rotations, expected);
      for (const id of tokens) {
        const token = await store.getSession(id, Date.now());
        assert.equal(token?.generation, RACE.generations);
      }

      // Each hand-off code went to exactly one process.
      const taken = reports.flatMap((r) => r.taken).sort();
      assert.deepEqual(taken, [...codes].sort());

      // One of the 40 one-shot callers holds the lease, and still does.
      assert.equal(reports.reduce((sum, r) => sum + r.oneShots, 0), 1);
      assert.equal(
        await store.acquireLock(ONE_SHOT_LOCK, "late", LEASE_MS, Date.now()),
        false,
      );

      // The lease excluded: no increment of the counter was lost.
      const turns = RACE.counterLoops * RACE.lockTurns;
      assert.deepEqual(reports.map((r) => r.lockTurns), [turns, turns]);
      assert.equal(
        await store.getValue("oauth_session", COUNTER, Date.now()),
        String(2 * turns),
      );
    } finally {
      for (const { child } of workers) {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already exited.
        }
        await child.status;
      }
      await connection.close();
    }
  };

  Deno.test(
    "RedisSessionStore on Redis Cluster: two ioredis processes racing get exactly the cap, one rotation per generation, one taker per code and one lease holder",
    () => race(["ioredis", "ioredis"], false),
  );

  Deno.test(
    "RedisSessionStore on Redis Cluster: an ioredis process and a node-redis process racing with durableWrites keep the same guarantees",
    () => race(["ioredis", "node-redis"], true),
  );

  Deno.test("the Redis Cluster of the two-process tests stops, by PID", async () => {
    const pids = cluster.ports.map((port) => cluster.pid(port));
    await cluster.close();
    for (const pid of pids) {
      assert.throws(() => Deno.kill(pid, "SIGCONT"), "the process is gone");
    }
  });
}
