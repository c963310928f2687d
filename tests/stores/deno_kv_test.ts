import assert from "node:assert/strict";
import { StoreError } from "../../src/errors.ts";
import { DenoKvSessionStore } from "../../src/stores/deno_kv.ts";
import { storeContract } from "./store_contract.ts";
import { valueContract } from "./value_contract.ts";
import {
  countingKv,
  DID,
  HOUR,
  NOW,
  record,
  sharedKvFile,
} from "./deno_kv_fixtures.ts";

/** A fresh `:memory:` database per store, default prefix. */
const ownDatabase = () => {
  const opened: Deno.Kv[] = [];
  return Promise.resolve({
    async create() {
      const kv = await Deno.openKv(":memory:");
      opened.push(kv);
      return new DenoKvSessionStore(kv);
    },
    close: () => Promise.resolve(opened.forEach((kv) => kv.close())),
  });
};

/** One `:memory:` database, a fresh prefix per store (prefixes isolate). */
const prefixed = async () => {
  const kv = await Deno.openKv(":memory:");
  let next = 0;
  return {
    create: () => new DenoKvSessionStore(kv, { prefix: ["test", next++] }),
    close: () => Promise.resolve(kv.close()),
  };
};

/** One database file on disk, a fresh prefix per store. */
const fileDatabase = async () => {
  const file = await sharedKvFile();
  const kv = await file.open();
  let next = 0;
  return {
    create: () => new DenoKvSessionStore(kv, { prefix: ["file", next++] }),
    close: () => file.close(),
  };
};

storeContract("DenoKvSessionStore (own :memory: database)", ownDatabase);
storeContract("DenoKvSessionStore (prefixed, shared database)", prefixed);
storeContract("DenoKvSessionStore (database file)", fileDatabase);
valueContract("DenoKvSessionStore (own :memory: database)", ownDatabase);
valueContract("DenoKvSessionStore (prefixed, shared database)", prefixed);
valueContract("DenoKvSessionStore (database file)", fileDatabase);

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

/**
 * A database whose calls throw `error` while `failures.left > 0`, as a
 * file locked by another handle does.
 */
function failingKv(
  kv: Deno.Kv,
  error: () => Error,
): { kv: Deno.Kv; failures: { left: number; thrown: number } } {
  const failures = { left: 0, thrown: 0 };
  const fail = () => {
    if (failures.left <= 0) return;
    failures.left--;
    failures.thrown++;
    throw error();
  };
  const wrapped = new Proxy(kv, {
    get(target, property) {
      if (property === "atomic") {
        return () => {
          const op = target.atomic();
          const commit = op.commit.bind(op);
          op.commit = () => {
            fail();
            return commit();
          };
          return op;
        };
      }
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        fail();
        return value.apply(target, args);
      };
    },
  });
  return { kv: wrapped, failures };
}

const locked = () => new TypeError("database is locked");

Deno.test("new DenoKvSessionStore() rejects a wrong kv, prefix, maxAttempts or lockRetries", async () => {
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
    for (const maxAttempts of [0, 1.5, NaN]) {
      assert.throws(
        () => new DenoKvSessionStore(kv, { maxAttempts }),
        RangeError,
      );
    }
    for (const lockRetries of [-1, 0.5, Infinity]) {
      assert.throws(
        () => new DenoKvSessionStore(kv, { lockRetries }),
        (error) =>
          error instanceof RangeError &&
          error.message.includes("lockRetries must be a non-negative integer"),
      );
    }
    assert.ok(new DenoKvSessionStore(kv, { lockRetries: 0 }));
    return Promise.resolve();
  });
});

Deno.test("DenoKvSessionStore keeps its documented key layout", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvSessionStore(kv, { prefix: ["app"] });
    const created = record("s1", { metadata: { userAgent: "Firefox" } });
    await store.createSession(created, { maxSessionsPerUser: 5 }, NOW);
    await store.revokeToken("jti-1", NOW + HOUR, NOW);
    await store.setValue("oauth_state", "st", "v", NOW + HOUR, NOW);
    await store.acquireLock("refresh", "me", 1000, NOW);
    assert.deepEqual((await kv.get(["app", "sessions", "s1"])).value, created);
    assert.deepEqual(
      (await kv.get(["app", "user_sessions", DID, "s1"])).value,
      created,
    );
    assert.notEqual((await kv.get(["app", "users", DID])).versionstamp, null);
    assert.equal(
      (await kv.get(["app", "revoked_tokens", "jti-1"])).value,
      NOW + HOUR,
    );
    assert.deepEqual(
      (await kv.get(["app", "values", "oauth_state", "st"])).value,
      { value: "v", expiresAt: NOW + HOUR },
    );
    assert.deepEqual((await kv.get(["app", "locks", "refresh"])).value, {
      owner: "me",
      expiresAt: NOW + 1000,
    });
    assert.equal((await keysUnder(kv, ["app"])).length, 6);

    // Deleting removes the record and its index entry; only the DID's
    // change marker stays, and it expires on its own.
    assert.deepEqual(await store.deleteAllSessions(DID), [created]);
    assert.deepEqual(await keysUnder(kv, ["app", "sessions"]), []);
    assert.deepEqual(await keysUnder(kv, ["app", "user_sessions"]), []);
    await store.releaseLock("refresh", "me");
    assert.deepEqual(await keysUnder(kv, ["app", "locks"]), []);
  });
});

Deno.test("DenoKvSessionStore keys a long id, DID, value key or lock name by its SHA-256", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvSessionStore(kv, { prefix: ["app"] });
    const id = "x".repeat(5000);
    await store.createSession(record(id), {}, NOW);
    const [key] = await keysUnder(kv, ["app", "sessions"]);
    assert.ok(key?.[2] instanceof Uint8Array);
    assert.equal(key[2].length, 32);
    assert.equal((await store.getSession(id, NOW))?.id, id);
    // A string that happens to be 32 bytes is a different key part.
    assert.equal(await store.getSession("y".repeat(32), NOW), null);

    await store.setValue("handoff", "k".repeat(1024), "v", null, NOW);
    const [valueKey] = await keysUnder(kv, ["app", "values", "handoff"]);
    assert.ok(valueKey?.[3] instanceof Uint8Array);
    assert.equal(await store.getValue("handoff", "k".repeat(1024), NOW), "v");
    assert.equal(
      await store.acquireLock("n".repeat(300), "me", 1000, NOW),
      true,
    );
    const [lockKey] = await keysUnder(kv, ["app", "locks"]);
    assert.ok(lockKey?.[2] instanceof Uint8Array);
  });
});

Deno.test("DenoKvSessionStore reads records and index entries written before v2", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvSessionStore(kv, { prefix: ["app"] });
    // What v1 wrote: no kind, authenticatedAt, generation, rotatedAt or
    // successor in the record, and only id and times in the index.
    for (const [id, createdAt] of [["old1", NOW], ["old2", NOW + 1]] as const) {
      await kv.set(["app", "sessions", id], {
        id,
        did: DID,
        createdAt,
        lastAccessed: createdAt,
        expiresAt: createdAt + HOUR,
        metadata: { userAgent: "Firefox" },
      });
      await kv.set(["app", "user_sessions", DID, id], {
        id,
        createdAt,
        expiresAt: createdAt + HOUR,
      });
    }
    const upgraded = record("old1", { metadata: { userAgent: "Firefox" } });
    assert.deepEqual(await store.getSession("old1", NOW), upgraded);
    assert.deepEqual(
      (await store.listSessions(DID, NOW)).map((r) => r.id),
      ["old2", "old1"],
    );
    // The next change rewrites both keys in the v2 shape.
    const updated = await store.updateSession("old2", {
      lastAccessed: NOW + 5,
    }, NOW + 5);
    assert.equal(updated?.kind, "cookie");
    assert.deepEqual(
      (await kv.get(["app", "user_sessions", DID, "old2"])).value,
      updated,
    );
    // The cap evicts a v1 session and reports its record.
    const evicted = await store.createSession(
      record("new", { createdAt: NOW + 2 }),
      { maxSessionsPerUser: 2 },
      NOW,
    );
    assert.deepEqual(evicted, [upgraded]);
    assert.deepEqual(
      (await store.listSessions(DID, NOW)).map((r) => r.id),
      ["new", "old2"],
    );
  });
});

Deno.test("DenoKvSessionStore.createSession() evicts a backlog larger than one batch", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvSessionStore(kv);
    for (let i = 0; i < 250; i++) {
      await store.createSession(
        record(`s${i}`, { createdAt: NOW + i }),
        {},
        NOW,
      );
    }
    const evicted = await store.createSession(
      record("last", { createdAt: NOW + 1000 }),
      { maxSessionsPerUser: 2 },
      NOW,
    );
    assert.equal(evicted.length, 249);
    assert.equal(new Set(evicted.map((r) => r.id)).size, 249);
    assert.deepEqual(
      (await store.listSessions(DID, NOW)).map((r) => r.id),
      ["last", "s249"],
    );
    assert.equal((await store.deleteAllSessions(DID)).length, 2);
  });
});

Deno.test("DenoKvSessionStore.createSession() with a cap of 0 keeps only the new record", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvSessionStore(kv);
    await store.createSession(record("a"), {}, NOW);
    const evicted = await store.createSession(
      record("b", { createdAt: NOW - 1 }),
      { maxSessionsPerUser: 0 },
      NOW,
    );
    assert.deepEqual(evicted.map((r) => r.id), ["a"]);
    assert.deepEqual((await store.listSessions(DID, NOW)).map((r) => r.id), [
      "b",
    ]);
  });
});

Deno.test("DenoKvSessionStore.deleteAllSessions() works through more than one batch", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvSessionStore(kv);
    for (let i = 0; i < 230; i++) {
      await store.createSession(record(`s${i}`), {}, NOW);
    }
    assert.equal((await store.deleteAllSessions(DID)).length, 230);
    assert.deepEqual(await store.listSessions(DID, NOW), []);
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
      store.createSession(record("s1"), { maxSessionsPerUser: 5 }, NOW),
      (error) =>
        error instanceof StoreError && error.code === "STORE_UNAVAILABLE" &&
        error.message.includes("createSession after 3 conflicting attempts"),
    );
    assert.equal(await store.getSession("s1", NOW), null);
  });
});

Deno.test("DenoKvSessionStore retries reads and commits that meet a locked database", async (t) => {
  await withKv(async (kv) => {
    const { kv: flaky, failures } = failingKv(kv, locked);
    const store = new DenoKvSessionStore(flaky, { lockRetries: 5 });
    await t.step("a commit", async () => {
      failures.left = 3;
      assert.deepEqual(await store.createSession(record("s1"), {}, NOW), []);
      assert.equal(failures.thrown, 3);
    });
    await t.step("reads and read-check-commit rounds", async () => {
      for (
        const call of [
          () => store.getSession("s1", NOW),
          () => store.listSessions(DID, NOW),
          () => store.updateSession("s1", { lastAccessed: NOW + 1 }, NOW),
          () => store.isTokenRevoked("jti", NOW),
          () => store.getValue("handoff", "k", NOW),
          () => store.acquireLock("l", "me", 1000, NOW),
        ]
      ) {
        failures.left = 5;
        await call();
        assert.equal(failures.left, 0);
      }
      assert.equal((await store.getSession("s1", NOW))?.lastAccessed, NOW + 1);
    });
    await t.step(
      "until lockRetries, then StoreError with the cause",
      async () => {
        failures.left = 6;
        await assert.rejects(
          store.getSession("s1", NOW),
          (error) =>
            error instanceof StoreError &&
            error.message.includes(
              "locked by another handle or process 6 times",
            ) &&
            error.cause instanceof TypeError &&
            error.cause.message === "database is locked",
        );
        failures.left = 0;
      },
    );
  });
});

Deno.test("DenoKvSessionStore does not retry an error that is not lock contention", async () => {
  await withKv(async (kv) => {
    const { kv: broken, failures } = failingKv(
      kv,
      () => new TypeError("Value too large (max 65536 bytes)"),
    );
    const store = new DenoKvSessionStore(broken);
    failures.left = 100;
    await assert.rejects(store.getSession("s1", NOW), /Value too large/);
    assert.equal(failures.thrown, 1);
  });
});

Deno.test("DenoKvSessionStore makes the minimum round trips per operation", async (t) => {
  await withKv(async (raw) => {
    const { kv, calls } = countingKv(raw);
    const store = new DenoKvSessionStore(kv);
    const count = async (fn: () => Promise<unknown>) => {
      for (const key of Object.keys(calls)) {
        calls[key as keyof typeof calls] = 0;
      }
      await fn();
      return Object.fromEntries(
        Object.entries(calls).filter(([, n]) => n > 0),
      );
    };
    await store.createSession(record("other"), {}, NOW);
    await t.step(
      "createSession(): 1 commit without cap or replaces",
      async () => {
        assert.deepEqual(
          await count(() => store.createSession(record("a"), {}, NOW)),
          { commit: 1 },
        );
      },
    );
    await t.step(
      "createSession(): getMany + commit with replaces",
      async () => {
        assert.deepEqual(
          await count(() =>
            store.createSession(record("b"), { replaces: "a" }, NOW)
          ),
          { getMany: 1, commit: 1 },
        );
      },
    );
    await t.step(
      "createSession(): getMany + list + commit with a cap",
      async () => {
        assert.deepEqual(
          await count(() =>
            store.createSession(record("c"), { maxSessionsPerUser: 2 }, NOW)
          ),
          { getMany: 1, list: 1, commit: 1 },
        );
      },
    );
    await t.step("getSession(), listSessions(): 1 read", async () => {
      assert.deepEqual(await count(() => store.getSession("c", NOW)), {
        get: 1,
      });
      assert.deepEqual(await count(() => store.listSessions(DID, NOW)), {
        list: 1,
      });
    });
    await t.step("updateSession() (the refresh): get + commit", async () => {
      assert.deepEqual(
        await count(() =>
          store.updateSession("c", {
            lastAccessed: NOW + 1,
            expiresAt: NOW + HOUR + 1,
          }, NOW + 1)
        ),
        { get: 1, commit: 1 },
      );
    });
    await t.step("rotateToken(), deleteSession(): get + commit", async () => {
      assert.deepEqual(
        await count(() =>
          store.rotateToken("c", 0, {
            lastAccessed: NOW + 2,
            expiresAt: NOW + HOUR,
            successor: "s",
          }, NOW + 2)
        ),
        { get: 1, commit: 1 },
      );
      assert.deepEqual(await count(() => store.deleteSession("c")), {
        get: 1,
        commit: 1,
      });
    });
    await t.step("values and leases", async () => {
      assert.deepEqual(
        await count(() => store.setValue("handoff", "k", "v", NOW + 1, NOW)),
        { set: 1 },
      );
      assert.deepEqual(
        await count(() => store.getValue("handoff", "k", NOW)),
        { get: 1 },
      );
      assert.deepEqual(
        await count(() => store.takeValue("handoff", "k", NOW)),
        { get: 1, commit: 1 },
      );
      assert.deepEqual(
        await count(() => store.acquireLock("l", "me", 1000, NOW)),
        { get: 1, commit: 1 },
      );
    });
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
    assert.deepEqual(
      await store.rotateToken("s1", 0, {
        lastAccessed: NOW,
        expiresAt: NOW + HOUR,
        successor: "s",
      }, NOW),
      { rotated: false, record: null },
    );
    assert.equal(await store.deleteSession("s1"), null);
    assert.equal((await kv.get(["app", "sessions", "s1"])).versionstamp, null);
  });
});

Deno.test("DenoKvSessionStore checks value and lease expiry on read, not by expireIn", async () => {
  await withKv(async (kv) => {
    const store = new DenoKvSessionStore(kv, { prefix: ["app"] });
    await store.setValue("oauth_state", "s", "v", NOW + 10, NOW);
    // Deno KV may keep the entry past expireIn; the store's clock decides.
    assert.notEqual(
      (await kv.get(["app", "values", "oauth_state", "s"])).versionstamp,
      null,
    );
    assert.equal(await store.getValue("oauth_state", "s", NOW + 10), null);
    assert.equal(await store.takeValue("oauth_state", "s", NOW + 10), null);
    await store.setValue("oauth_state", "gone", "v", NOW, NOW);
    assert.equal(await store.getValue("oauth_state", "gone", NOW - 1), null);
    await assert.rejects(
      store.acquireLock("l", "me", 0, NOW),
      (error) =>
        error instanceof RangeError && error.message.includes("leaseMs"),
    );
  });
});
