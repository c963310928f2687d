/**
 * One of the two OS processes of `redis_cluster_process_test.ts`, sharing
 * one real Redis Cluster: connects a cluster client (ioredis or node-redis)
 * to the seed ports given on the command line, prints `ready`, waits for
 * `go` on stdin, then races the other process at once on capped sign-ins
 * for one DID, token rotations through every generation, hand-off code
 * redemptions, a one-shot lease and a lease-guarded counter, and prints
 * what it won as one JSON line.
 *
 * Usage: `deno run -A redis_cluster_worker.ts <config JSON> <owner> <ioredis|node-redis>`
 *
 * @module
 */

import type { SessionRecord } from "../../src/store.ts";
import { RedisSessionStore } from "../../src/stores/redis.ts";
import {
  type ClusterClientName,
  connectCluster,
} from "./redis_cluster_clients.ts";

/** What the parent asks each worker to do. */
export interface WorkerConfig {
  /** Seed nodes' ports on 127.0.0.1. */
  readonly ports: readonly number[];
  /** The store's key prefix (one per race, on the shared cluster). */
  readonly prefix: string;
  /** Send `WAIT` after each write. */
  readonly durableWrites: boolean;
  /** Concurrent sign-ins for {@linkcode CAP_DID}, each under the cap. */
  readonly signIns: number;
  /** The per-user cap of those sign-ins. */
  readonly cap: number;
  /** Token session ids (made by `sessionIdFor`) to rotate. */
  readonly tokens: readonly string[];
  /** How many generations each token is rotated through. */
  readonly generations: number;
  /** Concurrent rotators per token in each process. */
  readonly rotators: number;
  /** Hand-off keys to redeem, all at once. */
  readonly codes: readonly string[];
  /** Concurrent callers of the one-shot lease in each process. */
  readonly lockCallers: number;
  /** Concurrent loops through the counter in each process. */
  readonly counterLoops: number;
  /** Turns each counter loop takes under the lease. */
  readonly lockTurns: number;
}

/** What a worker prints. */
export interface WorkerReport {
  readonly owner: string;
  /** Ids this worker created. */
  readonly created: string[];
  /** Ids its createSession calls reported evicted. */
  readonly evicted: string[];
  /** `<token>#<generation>` for each rotation this worker won. */
  readonly rotations: string[];
  /** Hand-off keys this worker received. */
  readonly taken: string[];
  /** How many of its one-shot acquireLock calls got the lease. */
  readonly oneShots: number;
  /** Counter turns this worker completed under the lease. */
  readonly lockTurns: number;
  /** Every error that escaped the store (must be none). */
  readonly errors: string[];
  /** When the racing began and ended (`Date.now()`), to show overlap. */
  readonly startedAt: number;
  readonly endedAt: number;
}

/** The DID the capped sign-ins share. */
export const CAP_DID = "did:plc:capcapcapcapcapcapcapcapca";
/** The DID owning the token sessions. */
export const TOKEN_DID = "did:plc:tokentokentokentokentoke";
/** The lease every process races for once. */
export const ONE_SHOT_LOCK = "@atproto-oauth-client-did:plc:oneshot";
/** The lease guarding the counter. */
export const COUNTER_LOCK = "@atproto-oauth-client-did:plc:counter";
/** The value key of the counter. */
export const COUNTER = "counter";
/** The one-shot lease's length: longer than the race. */
export const LEASE_MS = 60_000;
const HOUR = 60 * 60 * 1000;

if (import.meta.main) {
  const [configJson, owner, client] = Deno.args;
  if (
    !configJson || !owner || !["ioredis", "node-redis"].includes(client!)
  ) {
    throw new Error(
      "Usage: redis_cluster_worker.ts <config JSON> <owner> <ioredis|node-redis>",
    );
  }
  const config = JSON.parse(configJson) as WorkerConfig;
  const connection = await connectCluster(
    client as ClusterClientName,
    config.ports,
  );
  const store = new RedisSessionStore({
    command: connection.command,
    cluster: true,
    prefix: config.prefix,
    durableWrites: config.durableWrites,
  });
  // Warm up the slot map before the start signal, as a server would.
  await store.getSession(store.sessionIdFor(CAP_DID, "warm-up"), Date.now());
  await print("ready");
  const reader = Deno.stdin.readable.pipeThrough(new TextDecoderStream())
    .getReader();
  let input = "";
  while (!input.includes("go\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("stdin closed before go");
    input += value;
  }
  reader.releaseLock();
  const report = await race(store, owner, config);
  await print(JSON.stringify(report));
  await connection.close();
}

async function race(
  store: RedisSessionStore,
  owner: string,
  config: WorkerConfig,
): Promise<WorkerReport> {
  const errors: string[] = [];
  const guard = async <T>(
    name: string,
    fn: () => Promise<T>,
  ): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (error) {
      errors.push(`${name}: ${String(error)}`);
      return undefined;
    }
  };
  const created: string[] = [];
  const evicted: string[] = [];
  const rotations: string[] = [];
  const taken: string[] = [];
  let oneShots = 0;
  let lockTurns = 0;
  const startedAt = Date.now();

  const signIns = () =>
    Promise.all(
      Array.from({ length: config.signIns }, async (_, i) => {
        const now = Date.now();
        const id = store.sessionIdFor(CAP_DID, `${owner}-s${i}`);
        const gone = await guard(
          "createSession",
          () =>
            store.createSession(
              record(id, CAP_DID, now),
              { maxSessionsPerUser: config.cap },
              now,
            ),
        );
        if (gone !== undefined) {
          created.push(id);
          for (const old of gone) evicted.push(old.id);
        }
      }),
    );

  const rotate = async (id: string, rotator: number): Promise<void> => {
    for (;;) {
      const now = Date.now();
      const current = await guard(
        "getSession",
        () => store.getSession(id, now),
      );
      if (current === undefined) return; // The error is reported.
      if (current === null) {
        errors.push(`getSession: token ${id} vanished`);
        return;
      }
      if (current.generation >= config.generations) return;
      const generation = current.generation;
      const result = await guard(
        "rotateToken",
        () =>
          store.rotateToken(id, generation, {
            lastAccessed: now,
            expiresAt: now + HOUR,
            successor: `${owner}-${rotator}:${generation + 1}`,
          }, now),
      );
      if (result === undefined) return;
      if (result.rotated) rotations.push(`${id}#${generation}`);
    }
  };

  const redeem = () =>
    Promise.all(config.codes.map(async (code) => {
      const value = await guard(
        "takeValue",
        () => store.takeValue("handoff", code, Date.now()),
      );
      if (typeof value === "string") taken.push(code);
    }));

  const oneShot = () =>
    Promise.all(
      Array.from({ length: config.lockCallers }, async (_, i) => {
        const held = await guard(
          "acquireLock",
          () =>
            store.acquireLock(
              ONE_SHOT_LOCK,
              `${owner}-${i}`,
              LEASE_MS,
              Date.now(),
            ),
        );
        if (held === true) oneShots++;
      }),
    );

  const counter = async (loop: number): Promise<void> => {
    const holder = `${owner}-counter-${loop}`;
    for (let turn = 0; turn < config.lockTurns; turn++) {
      let held = false;
      for (let tries = 0; !held && tries < 5000; tries++) {
        held = await guard(
          "acquireLock",
          () => store.acquireLock(COUNTER_LOCK, holder, 10_000, Date.now()),
        ) ?? false;
        if (!held) await sleep(1);
      }
      if (!held) {
        errors.push("acquireLock: never acquired in 5000 tries");
        continue;
      }
      const value = await guard(
        "getValue",
        () => store.getValue("oauth_session", COUNTER, Date.now()),
      );
      // Widen the window a lost update would need.
      await sleep(1);
      await guard("setValue", () =>
        store.setValue(
          "oauth_session",
          COUNTER,
          String(Number(value ?? "0") + 1),
          null,
          Date.now(),
        ));
      lockTurns++;
      await guard("releaseLock", () => store.releaseLock(COUNTER_LOCK, holder));
    }
  };

  await Promise.all([
    signIns(),
    ...config.tokens.flatMap((id) =>
      Array.from({ length: config.rotators }, (_, k) => rotate(id, k))
    ),
    redeem(),
    oneShot(),
    ...Array.from({ length: config.counterLoops }, (_, k) => counter(k)),
  ]);
  return {
    owner,
    created,
    evicted,
    rotations,
    taken,
    oneShots,
    lockTurns,
    errors,
    startedAt,
    endedAt: Date.now(),
  };
}

/**
 * A session record for the race.
 *
 * @param id The id, made by `sessionIdFor(did, ...)`.
 * @param did The owner.
 * @param now The creation time.
 * @param kind Cookie or token.
 * @returns The record.
 */
export function record(
  id: string,
  did: string,
  now: number,
  kind: "cookie" | "token" = "cookie",
): SessionRecord {
  return {
    id,
    did,
    kind,
    createdAt: now,
    lastAccessed: now,
    expiresAt: now + HOUR,
    authenticatedAt: now,
    generation: 0,
    rotatedAt: null,
    successor: null,
    metadata: {},
  };
}

function print(line: string): Promise<number> {
  return Deno.stdout.write(new TextEncoder().encode(`${line}\n`));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
