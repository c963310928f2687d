import assert from "node:assert/strict";
import { StoreError } from "../../src/errors.ts";
import { DenoKvSessionStore } from "../../src/stores/deno_kv.ts";
import { encodeRecord } from "../../src/stores/_redis_codec.ts";
import { RedisSessionStore } from "../../src/stores/redis.ts";
import type { SessionRecord } from "../../src/store.ts";
import { DID, NOW, record } from "./store_contract.ts";

/** A command function over one in-memory hash per key: HGET and HSET. */
function fakeRedis(): {
  command: (args: string[]) => Promise<unknown>;
  hashes: Map<string, Map<string, string>>;
  calls: string[];
} {
  const hashes = new Map<string, Map<string, string>>();
  const calls: string[] = [];
  return {
    hashes,
    calls,
    command: (args) => {
      calls.push(args[0]!);
      const [name, key, field] = args;
      if (name !== "HGET") throw new Error(`unexpected ${name}`);
      return Promise.resolve(hashes.get(key!)?.get(field!) ?? null);
    },
  };
}

function put(
  hashes: Map<string, Map<string, string>>,
  id: string,
  stored: string,
): void {
  const key = `atproto-sessions:sessions:${DID}`;
  if (!hashes.has(key)) hashes.set(key, new Map());
  hashes.get(key)!.set(id, stored);
}

Deno.test("RedisSessionStore.getSession() decodes a stored version once, and again whenever its bytes change", async () => {
  const { command, hashes, calls } = fakeRedis();
  const store = new RedisSessionStore({ command });
  const id = store.sessionIdFor(DID, "s1");
  put(hashes, id, encodeRecord(record(id)));
  const first = await store.getSession(id, NOW);
  const second = await store.getSession(id, NOW);
  assert.equal(second, first, "the same stored bytes yield the same record");
  assert.ok(Object.isFrozen(first) && Object.isFrozen(first?.metadata));
  assert.deepEqual(calls, ["HGET", "HGET"], "every read is a round trip");

  put(hashes, id, encodeRecord(record(id, { lastAccessed: NOW + 5 })));
  const changed = await store.getSession(id, NOW);
  assert.notEqual(changed, first);
  assert.equal(changed?.lastAccessed, NOW + 5);

  // Expiry is judged on every read, memo or not.
  assert.equal(await store.getSession(id, NOW + 2 * 60 * 60 * 1000), null);

  // A bad version is refused even after a good one was remembered.
  put(hashes, id, '{"id":"x"}');
  await assert.rejects(store.getSession(id, NOW), StoreError);
  hashes.clear();
  assert.equal(await store.getSession(id, NOW), null, "a deleted record");
});

Deno.test("DenoKvSessionStore.getSession() decodes a versionstamp once, and sees every write", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new DenoKvSessionStore(kv);
    await store.createSession(record("s1"), {}, NOW);
    const first = await store.getSession("s1", NOW);
    assert.equal(await store.getSession("s1", NOW), first);
    assert.ok(Object.isFrozen(first));

    const updated = await store.updateSession(
      "s1",
      { lastAccessed: NOW + 7 },
      NOW,
    );
    const read = await store.getSession("s1", NOW);
    assert.equal(read?.lastAccessed, NOW + 7);
    assert.deepEqual(read, updated);

    assert.equal(await store.getSession("s1", NOW + 2 * 60 * 60 * 1000), null);
    await store.deleteSession("s1");
    assert.equal(await store.getSession("s1", NOW), null);

    // An id too long to be its own key part is keyed by its digest.
    const long = "L".repeat(300);
    await store.createSession(record(long), {}, NOW);
    assert.equal((await store.getSession(long, NOW))?.id, long);
  } finally {
    kv.close();
  }
});

Deno.test("DenoKvSessionStore.getSession() reads a record written by another handle", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const reader = new DenoKvSessionStore(kv);
    const writer = new DenoKvSessionStore(kv);
    await writer.createSession(record("s2"), {}, NOW);
    const before: SessionRecord | null = await reader.getSession("s2", NOW);
    await writer.updateSession("s2", { expiresAt: NOW + 10 }, NOW);
    const after = await reader.getSession("s2", NOW);
    assert.equal(before?.expiresAt, NOW + 60 * 60 * 1000);
    assert.equal(after?.expiresAt, NOW + 10);
  } finally {
    kv.close();
  }
});
