import assert from "node:assert/strict";
import { StoreError } from "../../src/errors.ts";
import { DenoKvSessionStore } from "../../src/stores/deno_kv.ts";
import { HOUR, NOW, record, storeContract } from "./store_contract.ts";

storeContract("DenoKvSessionStore", async () => {
  const kv = await Deno.openKv(":memory:");
  let next = 0;
  return {
    // A fresh prefix per store: also checks that prefixes isolate stores.
    create: () => new DenoKvSessionStore(kv, { prefix: ["test", next++] }),
    close: () => Promise.resolve(kv.close()),
  };
});

storeContract(
  "DenoKvSessionStore (default prefix, own database)",
  () => {
    const opened: Deno.Kv[] = [];
    return Promise.resolve({
      async create() {
        const kv = await Deno.openKv(":memory:");
        opened.push(kv);
        return new DenoKvSessionStore(kv);
      },
      close: () => Promise.resolve(opened.forEach((kv) => kv.close())),
    });
  },
);

async function withKv(fn: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    await fn(kv);
  } finally {
    kv.close();
  }
}

async function keysUnder(
  kv: Deno.Kv,
  prefix: Deno.KvKey,
): Promise<Deno.KvKey[]> {
  const keys: Deno.KvKey[] = [];
  for await (const entry of kv.list({ prefix })) keys.push(entry.key);
  return keys;
}

Deno.test("new DenoKvSessionStore() rejects a wrong kv, prefix or maxAttempts", async () => {
  assert.throws(
    () => new DenoKvSessionStore(null as unknown as Deno.Kv),
    (error) =>
      error instanceof TypeError &&
      error.message.startsWith(
        "Cannot create DenoKvSessionStore: kv must be",
      ) &&
      error.message.endsWith("received null"),
  );
  await withKv((kv) => {
    assert.throws(
      () =>
        new DenoKvSessionStore(kv, {
          prefix: "sessions" as unknown as Deno.KvKey,
        }),
      TypeError,
    );
    assert.throws(
      () => new DenoKvSessionStore(kv, { maxAttempts: 0 }),
      RangeError,
    );
    assert.throws(
      () => new DenoKvSessionStore(kv, { maxAttempts: 1.5 }),
      RangeError,
    );
    return Promise.resolve();
  });
});

Deno.test("DenoKvSessionStore keeps its documented key layout", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvSessionStore(kv, { prefix: ["app"] });
    const created = record("s1", { metadata: { userAgent: "Firefox" } });
    await store.createSession(created, 5, NOW);
    await store.revokeToken("jti-1", NOW + HOUR, NOW);
    const did = created.did;
    assert.deepEqual((await kv.get(["app", "sessions", "s1"])).value, created);
    assert.deepEqual(
      (await kv.get(["app", "user_sessions", did, "s1"])).value,
      {
        id: "s1",
        createdAt: NOW,
        expiresAt: NOW + HOUR,
      },
    );
    assert.notEqual((await kv.get(["app", "users", did])).versionstamp, null);
    assert.equal(
      (await kv.get(["app", "revoked_tokens", "jti-1"])).value,
      NOW + HOUR,
    );
    assert.equal((await keysUnder(kv, ["app"])).length, 4);

    // Deleting removes the record and its index entry; only the DID's
    // change marker stays, and it expires on its own.
    assert.equal(await store.deleteAllSessions(did), 1);
    assert.deepEqual(await keysUnder(kv, ["app", "sessions"]), []);
    assert.deepEqual(await keysUnder(kv, ["app", "user_sessions"]), []);
  });
});

Deno.test("DenoKvSessionStore keys a long id or DID by its SHA-256", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvSessionStore(kv, { prefix: ["app"] });
    const id = "x".repeat(5000);
    await store.createSession(record(id), undefined, NOW);
    const [key] = await keysUnder(kv, ["app", "sessions"]);
    assert.ok(key?.[2] instanceof Uint8Array);
    assert.equal(key[2].length, 32);
    assert.equal((await store.getSession(id, NOW))?.id, id);
    // A string that happens to be 32 bytes is a different key part.
    assert.equal(await store.getSession("y".repeat(32), NOW), null);
  });
});

Deno.test("DenoKvSessionStore instances over one database share sessions and the cap", async () => {
  await withKv(async (kv) => {
    const stores = [new DenoKvSessionStore(kv), new DenoKvSessionStore(kv)];
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        stores[i % 2]!.createSession(
          record(`s${String(i).padStart(2, "0")}`, { createdAt: NOW + i }),
          3,
          NOW,
        )),
    );
    const listed = await stores[0]!.listSessions(record("x").did, NOW);
    assert.deepEqual(listed.map((r) => r.id), ["s39", "s38", "s37"]);
    assert.equal(await stores[1]!.deleteSession("s39"), true);
    assert.equal(await stores[0]!.getSession("s39", NOW), null);
  });
});

Deno.test("DenoKvSessionStore evicts a backlog larger than one batch", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvSessionStore(kv);
    for (let i = 0; i < 250; i++) {
      await store.createSession(
        record(`s${i}`, { createdAt: NOW + i }),
        undefined,
        NOW,
      );
    }
    const evicted = await store.createSession(
      record("last", { createdAt: NOW + 1000 }),
      2,
      NOW,
    );
    assert.equal(evicted.length, 249);
    assert.deepEqual(
      (await store.listSessions(record("x").did, NOW)).map((r) => r.id),
      ["last", "s249"],
    );
    assert.equal(await store.deleteAllSessions(record("x").did), 2);
  });
});

Deno.test("DenoKvSessionStore deleteAllSessions() works through more than one batch", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvSessionStore(kv);
    for (let i = 0; i < 230; i++) {
      await store.createSession(record(`s${i}`), undefined, NOW);
    }
    assert.equal(await store.deleteAllSessions(record("x").did), 230);
    assert.deepEqual(await store.listSessions(record("x").did, NOW), []);
  });
});

Deno.test("DenoKvSessionStore gives up with StoreError after maxAttempts lost races", async () => {
  await withKv(async (kv) => {
    // Every commit loses, as if another writer always got there first.
    const losing = new Proxy(kv, {
      get(target, property) {
        if (property === "atomic") {
          return () => {
            const op = target.atomic();
            op.commit = () =>
              Promise.resolve({ ok: false } as Deno.KvCommitError);
            return op;
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const store = new DenoKvSessionStore(losing, { maxAttempts: 3 });
    await assert.rejects(
      store.createSession(record("s1"), 5, NOW),
      (error) =>
        error instanceof StoreError && error.code === "STORE_UNAVAILABLE" &&
        error.message.includes("createSession after 3 conflicting attempts"),
    );
    assert.equal(await store.getSession("s1", NOW), null);
  });
});

Deno.test("DenoKvSessionStore treats a foreign value under a session key as absent", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvSessionStore(kv, { prefix: ["app"] });
    await kv.set(["app", "sessions", "s1"], "not a record");
    assert.equal(await store.getSession("s1", NOW), null);
    assert.equal(
      await store.updateSession("s1", { lastAccessed: NOW }, NOW),
      null,
    );
    assert.equal(await store.deleteSession("s1"), false);
    assert.equal((await kv.get(["app", "sessions", "s1"])).versionstamp, null);
  });
});
