/**
 * One of two OS processes racing on one PostgreSQL server, spawned by
 * `postgres_process_test.ts`: `deno run -A postgres_race_worker.ts <url>
 * <prefix> <worker> <rounds>`. Prints `ready`, waits for `go` on stdin,
 * makes a first use of fresh tables from several store instances, runs
 * every round's races at once (the cap, rotateToken, takeValue,
 * acquireLock) and prints one JSON line with what it won.
 *
 * @module
 */

import { PostgresSessionStore } from "../../src/stores/postgres.ts";
import { pgPool } from "./postgres_clients.ts";
import { HOUR, NOW, record } from "./store_contract.ts";

/** What one worker reports for one round. */
export interface RaceResult {
  /** Ids its createSession calls reported as evicted. */
  evicted: string[];
  /** How many of its rotateToken calls rotated. */
  rotated: number;
  /** How many of its takeValue calls received the value. */
  taken: number;
  /** How many of its acquireLock calls got the lease. */
  locked: number;
}

/** Sessions each worker creates per round, for one DID with the cap. */
export const CREATES = 50;
/** Concurrent calls per worker per round for the other races. */
export const CALLS = 20;
/** Store instances per worker making a first use of fresh tables. */
export const FIRST_USES = 5;
/** The cap in the race. */
export const CAP = 5;

if (import.meta.main) {
  const [url, prefix, worker, rounds] = Deno.args;
  const { client, end } = pgPool(url!);
  const store = new PostgresSessionStore({ client, tablePrefix: prefix! });
  const print = (line: string) =>
    Deno.stdout.write(new TextEncoder().encode(`${line}\n`));
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

  // First use of fresh tables by 5 store instances in each process at once:
  // the migrations must take turns, not fail.
  await Promise.all(
    Array.from(
      { length: FIRST_USES },
      (_, k) =>
        new PostgresSessionStore({ client, tablePrefix: `${prefix}fresh_` })
          .setValue("handoff", `w${worker}-${k}`, "v", null, NOW),
    ),
  );

  const results: RaceResult[] = await Promise.all(
    Array.from({ length: Number(rounds) }, async (_, round) => {
      const did = `did:plc:race${round}`;
      const [created, rotations, takes, locks] = await Promise.all([
        Promise.all(
          Array.from({ length: CREATES }, (_, i) =>
            store.createSession(
              record(`w${worker}-r${round}-${i}`, {
                did,
                createdAt: NOW + i,
              }),
              { maxSessionsPerUser: CAP },
              NOW,
            )),
        ),
        Promise.all(
          Array.from(
            { length: CALLS },
            (_, i) =>
              store.rotateToken(`token-${round}`, 0, {
                lastAccessed: NOW + 1,
                expiresAt: NOW + 2 * HOUR,
                successor: `w${worker}-${i}`,
              }, NOW + 1),
          ),
        ),
        Promise.all(
          Array.from(
            { length: CALLS },
            () => store.takeValue("handoff", `code-${round}`, NOW),
          ),
        ),
        Promise.all(
          Array.from(
            { length: CALLS },
            (_, i) =>
              store.acquireLock(`lock-${round}`, `w${worker}-${i}`, HOUR, NOW),
          ),
        ),
      ]);
      return {
        evicted: created.flat().map((r) => r.id),
        rotated: rotations.filter((r) => r.rotated).length,
        taken: takes.filter((v) => v !== null).length,
        locked: locks.filter(Boolean).length,
      };
    }),
  );
  await print(JSON.stringify(results));
  await end();
}
