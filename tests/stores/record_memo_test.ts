import assert from "node:assert/strict";
import { DenoKvSessionStore } from "../../src/stores/deno_kv.ts";
import type { SessionRecord } from "../../src/store.ts";
import { NOW, record } from "./store_contract.ts";

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
