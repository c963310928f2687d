/**
 * Two OS processes on one SQLite file (what `deno serve --parallel` or two
 * app processes do): both hammer the store at once, and no sign-in or
 * refresh fails from lock contention, while every single-winner operation
 * still has exactly one winner.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SqliteSessionStore } from "../../src/stores/sqlite.ts";
import {
  CAP_DID,
  COUNTER,
  record,
  REFRESH_ID,
  type WorkerConfig,
  type WorkerReport,
} from "./sqlite_worker.ts";
import { type RaceWorker, spawnRaceWorker } from "./_race_worker.ts";

const WORKER = new URL("./sqlite_worker.ts", import.meta.url).pathname;
const HOUR = 60 * 60 * 1000;

const CONFIG: WorkerConfig = {
  signIns: 150,
  cap: 3,
  refreshes: 150,
  tokens: ["token-0", "token-1", "token-2", "token-3"],
  generations: 15,
  codes: Array.from({ length: 100 }, (_, i) => `code-${i}`),
  lockTurns: 25,
};

/** A spawned worker: its process and a promise of its report. */
type Worker = RaceWorker<WorkerReport>;

function spawn(
  file: string,
  owner: string,
  driver: string,
  config: WorkerConfig,
): Worker {
  return spawnRaceWorker<WorkerReport>([
    "run",
    "--no-lock",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-ffi",
    "--allow-sys",
    WORKER,
    file,
    owner,
    driver,
    JSON.stringify(config),
  ], owner);
}

/**
 * Seeds a fresh file, runs two workers on it at once and checks their
 * reports. With `control`, the workers neither wait for locks nor retry,
 * and the race must then surface lock errors: proof that it is a race.
 */
async function race(
  drivers: readonly [string, string],
  { control = false, store }: {
    control?: boolean;
    store?: WorkerConfig["store"];
  } = {},
): Promise<void> {
  const config: WorkerConfig = control
    ? { ...CONFIG, store: { busyTimeout: 0, maxBusyWait: 0 } }
    : store !== undefined
    ? { ...CONFIG, store }
    : CONFIG;
  const dir = await Deno.makeTempDir({ prefix: "sqlite-two-processes-" });
  const file = `${dir}/sessions.db`;
  const database = new DatabaseSync(file);
  const workers: Worker[] = [];
  try {
    const store = new SqliteSessionStore({ database });
    const now = Date.now();
    await store.createSession(
      record(REFRESH_ID, "did:plc:refresh", now),
      {},
      now,
    );
    for (const id of CONFIG.tokens) {
      await store.createSession(
        record(id, "did:plc:tokens", now, "token"),
        {},
        now,
      );
    }
    for (const code of CONFIG.codes) {
      await store.setValue("handoff", code, `payload-${code}`, now + HOUR, now);
    }
    workers.push(
      spawn(file, "p1", drivers[0], config),
      spawn(file, "p2", drivers[1], config),
    );
    await Promise.all(workers.map((worker) => worker.ready));
    await Promise.all(workers.map(async ({ child }) => {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode("go\n"));
      await writer.close();
    }));
    const reports = await Promise.all(workers.map((worker) => worker.report));
    const statuses = await Promise.all(
      workers.map(({ child }) => child.status),
    );
    for (const status of statuses) assert.equal(status.code, 0);

    const errors = reports.flatMap((r) => r.errors);
    if (control) {
      assert.ok(errors.length > 0, "the processes contended for the lock");
      for (const error of errors) assert.match(error, /StoreError.*locked/);
      return;
    }
    // No lock error (or any other) escaped the store in either process.
    assert.deepEqual(errors, []);

    // Every sign-in succeeded; the cap holds, and each evicted session was
    // reported by exactly one create.
    const created = reports.flatMap((r) => r.created);
    assert.equal(created.length, 2 * CONFIG.signIns);
    const evicted = reports.flatMap((r) => r.evicted);
    assert.equal(new Set(evicted).size, evicted.length);
    const remaining = (await store.listSessions(CAP_DID, Date.now())).map((
      r,
    ) => r.id);
    assert.equal(remaining.length, CONFIG.cap);
    assert.equal(evicted.length + remaining.length, created.length);
    assert.deepEqual(
      new Set([...evicted, ...remaining]),
      new Set(created),
    );

    // Every refresh found the session.
    assert.deepEqual(reports.map((r) => r.refreshMisses), [0, 0]);
    assert.ok((await store.getSession(REFRESH_ID, Date.now())) !== null);

    // Each generation of each token was rotated by exactly one process.
    const rotations = reports.flatMap((r) => r.rotations).sort();
    const expected = CONFIG.tokens.flatMap((id) =>
      Array.from({ length: CONFIG.generations }, (_, g) => `${id}#${g}`)
    ).sort();
    assert.deepEqual(rotations, expected);
    for (const id of CONFIG.tokens) {
      const token = await store.getSession(id, Date.now());
      assert.equal(token?.generation, CONFIG.generations);
    }

    // Each hand-off code went to exactly one process.
    const taken = reports.flatMap((r) => r.taken).sort();
    assert.deepEqual(taken, [...CONFIG.codes].sort());

    // The lease excluded: no increment of the counter was lost.
    assert.deepEqual(reports.map((r) => r.lockTurns), [
      CONFIG.lockTurns,
      CONFIG.lockTurns,
    ]);
    assert.equal(
      await store.getValue("oauth_session", COUNTER, Date.now()),
      String(2 * CONFIG.lockTurns),
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
    database.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test(
  "SqliteSessionStore: two node:sqlite processes on one file never fail a sign-in, refresh, rotation, redemption or lease from lock contention",
  () => race(["sync", "sync"]),
);

Deno.test(
  "SqliteSessionStore: a node:sqlite process and a libSQL process on one file never fail from lock contention",
  () => race(["sync", "libsql"]),
);

Deno.test(
  "SqliteSessionStore: two libSQL processes whose SQLite waits only 50 ms for a lock recover from SQLITE_BUSY without a lost write",
  () =>
    race(["libsql", "libsql"], {
      store: { busyTimeout: 50, maxBusyWait: 2000 },
    }),
);

Deno.test(
  "SqliteSessionStore: without busy waiting and retries the same two-process race fails with lock errors (the test can fail)",
  () => race(["sync", "sync"], { control: true }),
);
