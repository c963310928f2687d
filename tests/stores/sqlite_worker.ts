// deno-lint-ignore-file no-console
/**
 * One of the processes of the two-process SQLite test: opens the database
 * file given on the command line (with `node:sqlite` or libSQL), prints
 * `ready`, waits for `go` on stdin, then hammers the store concurrently
 * with sign-ins under a cap, refreshes of one session, token rotations,
 * hand-off code redemptions and a lease-guarded counter, and prints what it
 * achieved as one JSON line.
 *
 * Usage: `deno run ... sqlite_worker.ts <file> <owner> <sync|libsql> <config JSON>`
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { createClient } from "npm:@libsql/client@0.18.0";
import { SqliteSessionStore } from "../../src/stores/sqlite.ts";
import type { SessionRecord } from "../../src/store.ts";

/** What the parent asks each worker to do. */
export interface WorkerConfig {
  /** Sign-ins for `capDid`, each under the cap. */
  readonly signIns: number;
  /** The per-user cap of those sign-ins. */
  readonly cap: number;
  /** Refreshes of the session `refreshId`. */
  readonly refreshes: number;
  /** Token session ids to rotate, each up to `generations`. */
  readonly tokens: readonly string[];
  /** How many generations each token is rotated through. */
  readonly generations: number;
  /** Hand-off keys to redeem. */
  readonly codes: readonly string[];
  /** Turns through the lease-guarded counter. */
  readonly lockTurns: number;
  /**
   * Store options; the control run turns waiting and retrying off to show
   * that the race is real.
   */
  readonly store?: { busyTimeout: number; maxBusyWait: number };
}

/** What a worker prints. */
export interface WorkerReport {
  readonly owner: string;
  /** Ids this worker created. */
  readonly created: string[];
  /** Ids its createSession calls reported evicted. */
  readonly evicted: string[];
  /** Refreshes that found no live session (must be 0). */
  readonly refreshMisses: number;
  /** `<token>#<generation>` for each rotation this worker won. */
  readonly rotations: string[];
  /** Hand-off keys this worker received. */
  readonly taken: string[];
  /** Turns this worker completed under the lease. */
  readonly lockTurns: number;
  /** Every error that escaped the store (must be none). */
  readonly errors: string[];
  /** Wall time of the hammering, in milliseconds. */
  readonly ms: number;
}

/** The DID the sign-ins share. */
export const CAP_DID = "did:plc:capcapcapcapcapcapcapcapca";
/** The session every worker refreshes. */
export const REFRESH_ID = "refresh-target";
/** The lease the counter is guarded by. */
export const LOCK = "@atproto-oauth-client-did:plc:counter";
/** The value key of the counter. */
export const COUNTER = "counter";
const HOUR = 60 * 60 * 1000;

if (import.meta.main) {
  const [file, owner, driver, configJson] = Deno.args;
  if (!file || !owner || !configJson || !["sync", "libsql"].includes(driver!)) {
    throw new Error(
      "Usage: sqlite_worker.ts <file> <owner> <sync|libsql> <config JSON>",
    );
  }
  const config = JSON.parse(configJson) as WorkerConfig;
  const database = driver === "sync" ? new DatabaseSync(file) : undefined;
  const client = driver === "libsql"
    ? createClient({
      url: `file:${file}`,
      timeout: config.store?.busyTimeout ?? 5000,
    })
    : undefined;
  const store = new SqliteSessionStore({
    ...(database !== undefined ? { database } : { client }),
    ...config.store,
  });
  // Open the tables before the start signal, as a server would at start-up
  // (retried here, as the control run's store does not retry by itself).
  for (let tries = 1;; tries++) {
    try {
      await store.getSession("warm-up", Date.now());
      break;
    } catch (error) {
      if (tries >= 100) throw error;
      await sleep(10);
    }
  }
  console.log("ready");
  const reader = Deno.stdin.readable.getReader();
  await reader.read();
  reader.releaseLock();
  const report = await hammer(store, owner, config);
  console.log(JSON.stringify(report));
  database?.close();
  client?.close();
}

async function hammer(
  store: SqliteSessionStore,
  owner: string,
  config: WorkerConfig,
): Promise<WorkerReport> {
  const errors: string[] = [];
  const guard = async <T>(name: string, fn: () => Promise<T>) => {
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
  let refreshMisses = 0;
  let lockTurns = 0;
  const start = performance.now();

  const signIns = async () => {
    for (let i = 0; i < config.signIns; i++) {
      const now = Date.now();
      const id = `${owner}-s${i}`;
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
    }
  };

  const refreshes = async () => {
    for (let i = 0; i < config.refreshes; i++) {
      const now = Date.now();
      const updated = await guard(
        "updateSession",
        () =>
          store.updateSession(REFRESH_ID, {
            lastAccessed: now,
            expiresAt: now + HOUR,
            metadata: { userAgent: owner },
          }, now),
      );
      if (updated === null) refreshMisses++;
    }
  };

  const rotate = async (id: string) => {
    for (;;) {
      const now = Date.now();
      const current = await guard(
        "getSession",
        () => store.getSession(id, now),
      );
      if (current === undefined) return; // The error is reported.
      if (current === null || current.generation >= config.generations) return;
      const generation = current.generation;
      const result = await guard(
        "rotateToken",
        () =>
          store.rotateToken(id, generation, {
            lastAccessed: now,
            expiresAt: now + HOUR,
            successor: `${owner}:${generation + 1}`,
          }, now),
      );
      if (result === undefined) return;
      if (result.rotated) rotations.push(`${id}#${generation}`);
    }
  };

  const redeem = async () => {
    for (const code of config.codes) {
      const value = await guard(
        "takeValue",
        () => store.takeValue("handoff", code, Date.now()),
      );
      if (typeof value === "string") taken.push(code);
    }
  };

  const counter = async () => {
    for (let turn = 0; turn < config.lockTurns; turn++) {
      let held = false;
      for (let tries = 0; !held && tries < 2000; tries++) {
        held = await guard(
          "acquireLock",
          () => store.acquireLock(LOCK, owner, 10_000, Date.now()),
        ) ?? false;
        if (!held) await sleep(1);
      }
      if (!held) {
        errors.push("acquireLock: never acquired in 2000 tries");
        continue;
      }
      const now = Date.now();
      const value = await guard(
        "getValue",
        () => store.getValue("oauth_session", COUNTER, now),
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
      await guard("releaseLock", () => store.releaseLock(LOCK, owner));
    }
  };

  await Promise.all([
    signIns(),
    refreshes(),
    ...config.tokens.map(rotate),
    redeem(),
    counter(),
  ]);
  return {
    owner,
    created,
    evicted,
    refreshMisses,
    rotations,
    taken,
    lockTurns,
    errors,
    ms: Math.round(performance.now() - start),
  };
}

/**
 * A cookie session record for the tests.
 *
 * @param id The id.
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
