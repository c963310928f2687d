import assert from "node:assert/strict";
import { StoreError } from "../../src/errors.ts";
import { encodeRecord } from "../../src/stores/_redis_codec.ts";
import { RedisSessionStore } from "../../src/stores/redis.ts";
import type { RedisRoute } from "../../src/stores/redis.ts";
import { DID, NOW, record } from "./store_contract.ts";

/** A command function over one in-memory hash per key: HGET and HSET. */
function fakeRedis(): {
  command: (args: string[], route: RedisRoute) => Promise<unknown>;
  hashes: Map<string, Map<string, string>>;
  calls: string[];
  sent: Array<{ args: string[]; route: RedisRoute }>;
} {
  const hashes = new Map<string, Map<string, string>>();
  const calls: string[] = [];
  const sent: Array<{ args: string[]; route: RedisRoute }> = [];
  return {
    hashes,
    calls,
    sent,
    command: (args, route) => {
      calls.push(args[0]!);
      sent.push({ args, route });
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

Deno.test("RedisSessionStore.getSession() sends a fresh argument list with a shared frozen route, and nothing for an id that names no DID", async () => {
  const { command, hashes, sent } = fakeRedis();
  const store = new RedisSessionStore({ command });
  const id = store.sessionIdFor(DID, "s2");
  put(hashes, id, encodeRecord(record(id)));
  await store.getSession(id, NOW);
  await store.getSession(id, NOW);
  const [a, b] = sent;
  const key = `atproto-sessions:sessions:${DID}`;
  assert.deepEqual(a!.args, ["HGET", key, id]);
  assert.notEqual(a!.args, b!.args, "an argument list the client may keep");
  assert.equal(a!.route, b!.route, "one route per session id");
  assert.ok(Object.isFrozen(a!.route));
  assert.deepEqual(a!.route, { key, readonly: true });
  sent.length = 0;
  assert.equal(await store.getSession("no-did-here", NOW), null);
  assert.deepEqual(sent, [], "no command");
});
