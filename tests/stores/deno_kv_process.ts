/**
 * The second process of the Deno KV cross-process tests (started by
 * `startSecondProcess` in `deno_kv_fixtures.ts`): opens the database file,
 * prints "ready", waits for a line on stdin, then makes `job.count`
 * concurrent calls on its own handle and prints one JSON line with what
 * they resolved to.
 *
 * @module
 */

import { DenoKvSessionStore } from "../../src/stores/deno_kv.ts";
import {
  DID,
  HOUR,
  NOW,
  openKvFile,
  type ProcessJob,
  type ProcessResult,
  record,
} from "./deno_kv_fixtures.ts";

const job = JSON.parse(Deno.args[0] ?? "{}") as ProcessJob;
const kv = await openKvFile(job.path);
const store = new DenoKvSessionStore(kv);
const encoder = new TextEncoder();
await Deno.stdout.write(encoder.encode("ready\n"));
// Wait for "go" (or stdin closing).
for await (const _ of Deno.stdin.readable) break;

async function call(i: number): Promise<boolean> {
  const ids = job.ids ?? [];
  switch (job.op) {
    case "create":
      await store.createSession(
        record(`p${Deno.pid}-${i}`, { createdAt: NOW + i, did: DID }),
        { maxSessionsPerUser: job.cap },
        NOW,
      );
      return true;
    case "update":
      return (await store.updateSession(
        ids[i % ids.length]!,
        { lastAccessed: NOW + 1000, expiresAt: NOW + 2 * HOUR },
        NOW + 1000,
      )) !== null;
    case "rotate":
      return (await store.rotateToken(ids[0]!, 0, {
        lastAccessed: NOW + 1000,
        expiresAt: NOW + 2 * HOUR,
        successor: `process-${Deno.pid}-${i}`,
      }, NOW + 1000)).rotated;
    case "take":
      return (await store.takeValue("handoff", job.key!, NOW)) !== null;
    case "acquire":
      return await store.acquireLock(
        job.key!,
        `process-${Deno.pid}-${i}`,
        60_000,
        NOW,
      );
  }
}

const outcomes = await Promise.allSettled(
  Array.from({ length: job.count }, (_, i) => call(i)),
);
const result: ProcessResult = {
  hits: outcomes.filter((o) => o.status === "fulfilled" && o.value).length,
  misses: outcomes.filter((o) => o.status === "fulfilled" && !o.value).length,
  errors: outcomes.flatMap((o) =>
    o.status === "rejected" ? [String(o.reason)] : []
  ),
};
await Deno.stdout.write(encoder.encode(JSON.stringify(result) + "\n"));
kv.close();
