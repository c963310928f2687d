/**
 * One local Deno KV file shared by two handles and by a second `deno`
 * process (issue 8 item 1), and the atomicity of the cap, `rotateToken`
 * and `takeValue` across them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DenoKvSessionStore } from "../../src/stores/deno_kv.ts";
import type { SessionRecord } from "../../src/store.ts";
import {
  DID,
  HOUR,
  NOW,
  record,
  type SharedKvFile,
  sharedKvFile,
  startSecondProcess,
} from "./deno_kv_fixtures.ts";

/** Two stores over two handles on one fresh database file. */
async function withTwoHandles(
  fn: (
    stores: [DenoKvSessionStore, DenoKvSessionStore],
    file: SharedKvFile,
  ) => Promise<void>,
): Promise<void> {
  const file = await sharedKvFile();
  try {
    const stores: [DenoKvSessionStore, DenoKvSessionStore] = [
      new DenoKvSessionStore(await file.open()),
      new DenoKvSessionStore(await file.open()),
    ];
    await fn(stores, file);
  } finally {
    await file.close();
  }
}

/** Settles every call and returns the messages of those that rejected. */
async function rejections(calls: Promise<unknown>[]): Promise<string[]> {
  const outcomes = await Promise.allSettled(calls);
  return outcomes.flatMap((o) =>
    o.status === "rejected" ? [String(o.reason)] : []
  );
}

const ROTATION = (successor: string) => ({
  lastAccessed: NOW + 1000,
  expiresAt: NOW + 2 * HOUR,
  successor,
});

Deno.test("DenoKvSessionStore.createSession() serves 20 concurrent sign-ins over two handles on one file", async () => {
  await withTwoHandles(async (stores) => {
    const errors = await rejections(
      Array.from({ length: 20 }, (_, i) =>
        stores[i % 2]!.createSession(
          record(`s${String(i).padStart(2, "0")}`, { createdAt: NOW + i }),
          { maxSessionsPerUser: 25 },
          NOW,
        )),
    );
    assert.deepEqual(errors, []);
    assert.equal((await stores[0].listSessions(DID, NOW)).length, 20);
  });
});

Deno.test("DenoKvSessionStore.updateSession() serves refresh-due requests over two handles on one file", async () => {
  await withTwoHandles(async (stores) => {
    const ids = Array.from({ length: 10 }, (_, i) => `s${i}`);
    for (const id of ids) {
      await stores[0].createSession(record(id), {}, NOW);
    }
    // 40 refreshes: four per session, alternating handles.
    const results: (SessionRecord | null)[] = [];
    const errors = await rejections(
      Array.from({ length: 40 }, async (_, i) => {
        results.push(
          await stores[i % 2]!.updateSession(ids[i % ids.length]!, {
            lastAccessed: NOW + 1000 + i,
            expiresAt: NOW + 2 * HOUR,
          }, NOW + 1000),
        );
      }),
    );
    assert.deepEqual(errors, []);
    assert.equal(
      results.filter((r) => r?.expiresAt === NOW + 2 * HOUR).length,
      40,
    );
  });
});

Deno.test("DenoKvSessionStore.updateSession() serves refresh-due requests from a second deno process on the same file", async () => {
  await withTwoHandles(async (stores, file) => {
    const ids = Array.from({ length: 10 }, (_, i) => `s${i}`);
    for (const id of ids) {
      await stores[0].createSession(record(id), {}, NOW);
    }
    const other = await startSecondProcess({
      path: file.path,
      op: "update",
      count: 30,
      ids,
    });
    const refresh = (i: number) =>
      stores[i % 2]!.updateSession(ids[i % ids.length]!, {
        lastAccessed: NOW + 1000,
        expiresAt: NOW + 2 * HOUR,
      }, NOW + 1000);
    await other.go();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) => refresh(i)),
    );
    const remote = await other.result;
    assert.deepEqual(remote.errors, []);
    assert.equal(remote.hits, 30);
    assert.deepEqual(
      outcomes.map((o) => o.status === "fulfilled" && o.value !== null),
      Array(30).fill(true),
    );
  });
});

Deno.test("DenoKvSessionStore.rotateToken() lets exactly one of 40 callers over two handles and two processes rotate", async () => {
  await withTwoHandles(async (stores, file) => {
    await stores[0].createSession(record("t1", { kind: "token" }), {}, NOW);
    const other = await startSecondProcess({
      path: file.path,
      op: "rotate",
      count: 20,
      ids: ["t1"],
    });
    await other.go();
    const local = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) =>
          stores[i % 2]!.rotateToken(
            "t1",
            0,
            ROTATION(`local-${i}`),
            NOW + 1000,
          ),
      ),
    );
    const remote = await other.result;
    assert.deepEqual(remote.errors, []);
    const localWins = local.filter((r) => r.rotated);
    assert.equal(localWins.length + remote.hits, 1);
    const stored = await stores[1].getSession("t1", NOW + 1000);
    assert.equal(stored?.generation, 1);
    if (localWins.length === 1) {
      assert.equal(stored?.successor, localWins[0]!.record?.successor);
    } else {
      assert.match(stored?.successor ?? "", /^process-/);
    }
    // Every loser reports the record as it stands after the winner.
    for (const result of local.filter((r) => !r.rotated)) {
      assert.equal(result.record?.generation, 1);
    }
  });
});

Deno.test("DenoKvSessionStore.takeValue() hands a value to exactly one of 40 callers over two handles and two processes", async () => {
  await withTwoHandles(async (stores, file) => {
    await stores[0].setValue("handoff", "code", "token", NOW + HOUR, NOW);
    const other = await startSecondProcess({
      path: file.path,
      op: "take",
      count: 20,
      key: "code",
    });
    await other.go();
    const local = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) => stores[i % 2]!.takeValue("handoff", "code", NOW),
      ),
    );
    const remote = await other.result;
    assert.deepEqual(remote.errors, []);
    assert.equal(local.filter((v) => v === "token").length + remote.hits, 1);
    assert.equal(await stores[1].getValue("handoff", "code", NOW), null);
  });
});

Deno.test("DenoKvSessionStore.acquireLock() grants a lease to exactly one of 40 owners over two handles and two processes", async () => {
  await withTwoHandles(async (stores, file) => {
    const other = await startSecondProcess({
      path: file.path,
      op: "acquire",
      count: 20,
      key: "refresh:did",
    });
    await other.go();
    const local = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) =>
          stores[i % 2]!.acquireLock("refresh:did", `local-${i}`, 60_000, NOW),
      ),
    );
    const remote = await other.result;
    assert.deepEqual(remote.errors, []);
    assert.equal(local.filter(Boolean).length + remote.hits, 1);
    // Nobody else can take it until it runs out; then one can.
    assert.equal(
      await stores[1].acquireLock("refresh:did", "late", 60_000, NOW + 1),
      false,
    );
    assert.equal(
      await stores[1].acquireLock("refresh:did", "late", 60_000, NOW + 60_000),
      true,
    );
  });
});

Deno.test("DenoKvSessionStore.createSession() ends with exactly the cap after 60 concurrent creates over two handles and two processes", async () => {
  await withTwoHandles(async (stores, file) => {
    const cap = 5;
    const other = await startSecondProcess({
      path: file.path,
      op: "create",
      count: 20,
      cap,
    });
    await other.go();
    const evictions = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const id = `local-${i}`;
        return stores[i % 2]!.createSession(
          record(id, { createdAt: NOW + (i * 7) % 40 }),
          { maxSessionsPerUser: cap },
          NOW,
        ).then((evicted) => ({ id, evicted }));
      }),
    );
    const remote = await other.result;
    assert.deepEqual(remote.errors, []);
    assert.equal(remote.hits, 20);
    const listed = await stores[0].listSessions(DID, NOW);
    assert.equal(listed.length, cap);
    // No create evicted the record it created.
    for (const { id, evicted } of evictions) {
      assert.ok(!evicted.some((r) => r.id === id), `${id} evicted itself`);
    }
  });
});
