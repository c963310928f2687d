import assert from "node:assert/strict";
import { ConfigurationError } from "../../src/errors.ts";
import { MemorySessionStore } from "../../src/stores/memory.ts";
import type { KeyValueStore, SessionStore } from "../../src/store.ts";
import { RequestLockError } from "../../src/oauth/request_lock.ts";
import { createTestHost, TEST_SECRET } from "./_host.ts";
import { storeFactories } from "./_stores.ts";

const DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const SESSION = {
  dpopJwk: { kty: "EC", crv: "P-256", x: "x-part", y: "y-part", d: "SECRET-D" },
  authMethod: "none",
  tokenSet: {
    iss: "http://localhost:2583",
    sub: DID,
    aud: "http://localhost:2583",
    scope: "atproto",
    refresh_token: "REFRESH-TOKEN-SECRET",
    access_token: "ACCESS-TOKEN-SECRET",
    token_type: "DPoP",
  },
};

Deno.test("oauthStores() without a store throws a ConfigurationError saying what to pass", () => {
  const { bridge } = createTestHost();
  assert.throws(
    () => bridge.oauthStores(),
    (error: unknown) =>
      error instanceof ConfigurationError &&
      /oauthStores\(\) needs a store/.test(error.message) &&
      /new SessionManager\(\{ cookieSecret, store:/.test(error.message),
  );
});

Deno.test("oauthStores() with a store lacking KeyValueStore names the missing methods", () => {
  const memory = new MemorySessionStore();
  // Only the SessionStore half, as a store not yet ported to v2 has.
  const sessionOnly: SessionStore = {
    createSession: (...args) => memory.createSession(...args),
    getSession: (...args) => memory.getSession(...args),
    updateSession: (...args) => memory.updateSession(...args),
    rotateToken: (...args) => memory.rotateToken(...args),
    listSessions: (...args) => memory.listSessions(...args),
    deleteSession: (...args) => memory.deleteSession(...args),
    deleteAllSessions: (...args) => memory.deleteAllSessions(...args),
    revokeToken: (...args) => memory.revokeToken(...args),
    isTokenRevoked: (...args) => memory.isTokenRevoked(...args),
  };
  const { bridge } = createTestHost({ store: sessionOnly });
  assert.throws(
    () => bridge.oauthStores(),
    (error: unknown) =>
      error instanceof ConfigurationError &&
      /implements KeyValueStore/.test(error.message) &&
      /acquireLock/.test(error.message),
  );
});

Deno.test("oauthStores() rejects a non-positive lock wait with a ConfigurationError", () => {
  const { bridge } = createTestHost({ store: new MemorySessionStore() });
  assert.throws(
    () => bridge.oauthStores({ lockWait: 0 }),
    (error: unknown) =>
      error instanceof ConfigurationError &&
      /lockWait must be a positive number of seconds: received 0/.test(
        error.message,
      ),
  );
});

for (const factory of storeFactories()) {
  Deno.test(`oauthStores() over ${factory.name}`, async (t) => {
    const { store, close } = await factory.open();
    try {
      await runStoreSuite(t, store);
    } finally {
      await close();
    }
  });
}

async function runStoreSuite(
  t: Deno.TestContext,
  store: SessionStore & KeyValueStore,
): Promise<void> {
  await t.step(
    "sessionStore round-trips a value through get/set/del/delete",
    async () => {
      const { bridge } = createTestHost({ store });
      const { sessionStore } = bridge.oauthStores();
      await sessionStore.set(DID, SESSION);
      assert.deepEqual(await sessionStore.get(DID), SESSION);
      await sessionStore.del(DID);
      assert.equal(await sessionStore.get(DID), undefined);
      await sessionStore.set(DID, SESSION);
      await sessionStore.delete(DID);
      assert.equal(await sessionStore.get(DID), undefined);
    },
  );

  await t.step(
    "sessionStore seals values at rest: no key or token in the store",
    async () => {
      const { bridge } = createTestHost({ store });
      await bridge.oauthStores().sessionStore.set(DID, SESSION);
      const raw = await store.getValue("oauth_session", DID, Date.now());
      assert.ok(raw !== null && raw.startsWith("Fe26.2*"));
      for (
        const secret of ["SECRET-D", "REFRESH-TOKEN-SECRET", "ACCESS-TOKEN"]
      ) {
        assert.ok(!raw.includes(secret), `raw value contains ${secret}`);
      }
      await store.clearValues("oauth_session");
    },
  );

  await t.step(
    "sessionStore reads values sealed before a secret rotation",
    async () => {
      const before = createTestHost({
        store,
        cookieSecret: { "1": TEST_SECRET },
      });
      await before.bridge.oauthStores().sessionStore.set(DID, SESSION);
      const after = createTestHost({
        store,
        cookieSecret: { "1": TEST_SECRET, "2": "b".repeat(40) },
      });
      assert.deepEqual(
        await after.bridge.oauthStores().sessionStore.get(DID),
        SESSION,
      );
      await store.clearValues("oauth_session");
    },
  );

  await t.step(
    "sessionStore reads a value it cannot open as missing, with a warn",
    async () => {
      const other = createTestHost({ store, cookieSecret: "o".repeat(40) });
      await other.bridge.oauthStores().sessionStore.set(DID, SESSION);
      const { bridge, logger } = createTestHost({ store });
      assert.equal(await bridge.oauthStores().sessionStore.get(DID), undefined);
      assert.ok(
        logger.lines.some((line) =>
          line.level === "warn" && /could not be opened/.test(line.message)
        ),
      );
      await store.setValue(
        "oauth_session",
        DID,
        "not a seal",
        null,
        Date.now(),
      );
      assert.equal(await bridge.oauthStores().sessionStore.get(DID), undefined);
      await store.clearValues("oauth_session");
    },
  );

  await t.step(
    "sessionStore stores a 2048-character DID under a bounded key",
    async () => {
      const longDid = `did:web:${"a".repeat(2040)}`;
      const { bridge } = createTestHost({ store });
      const { sessionStore } = bridge.oauthStores();
      await sessionStore.set(longDid, { ...SESSION, n: 1 });
      assert.deepEqual(await sessionStore.get(longDid), { ...SESSION, n: 1 });
      await sessionStore.clear();
      assert.equal(await sessionStore.get(longDid), undefined);
    },
  );

  await t.step(
    "stateStore entries expire after stateTtl, checked on read",
    async () => {
      let now = Date.now();
      const { bridge } = createTestHost({ store, now: () => now });
      const { stateStore } = bridge.oauthStores({ stateTtl: 60 });
      await stateStore.set("state-1", {
        iss: "http://localhost",
        verifier: "v",
      });
      now += 59_000;
      assert.deepEqual(await stateStore.get("state-1"), {
        iss: "http://localhost",
        verifier: "v",
      });
      now += 1_000;
      assert.equal(await stateStore.get("state-1"), undefined);
    },
  );

  await t.step("stateStore defaults to a 10-minute lifetime", async () => {
    let now = Date.now();
    const { bridge } = createTestHost({ store, now: () => now });
    const { stateStore } = bridge.oauthStores();
    await stateStore.set("state-2", { iss: "x" });
    now += 10 * 60_000 - 1;
    assert.deepEqual(await stateStore.get("state-2"), { iss: "x" });
    now += 1;
    assert.equal(await stateStore.get("state-2"), undefined);
  });

  await t.step(
    "stateStore.clear() empties states but not sessions",
    async () => {
      const { bridge } = createTestHost({ store });
      const { stateStore, sessionStore } = bridge.oauthStores();
      await stateStore.set("s", { a: 1 });
      await sessionStore.set(DID, SESSION);
      await stateStore.clear();
      assert.equal(await stateStore.get("s"), undefined);
      assert.deepEqual(await sessionStore.get(DID), SESSION);
      await sessionStore.clear();
    },
  );

  await t.step(
    "requestLock() runs callers of one name one at a time, others in parallel",
    async () => {
      const { bridge } = createTestHost({ store });
      const { requestLock } = bridge.oauthStores();
      // A second bridge stands for a second process sharing the store.
      const { requestLock: otherLock } = createTestHost({ store }).bridge
        .oauthStores();
      let inside = 0;
      let maxInside = 0;
      const work = async (): Promise<number> => {
        inside++;
        maxInside = Math.max(maxInside, inside);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inside--;
        return 1;
      };
      const results = await Promise.all([
        requestLock("lock-a", work),
        otherLock("lock-a", work),
        requestLock("lock-a", work),
        otherLock("lock-a", work),
      ]);
      assert.deepEqual(results, [1, 1, 1, 1]);
      assert.equal(maxInside, 1);
      let parallel = 0;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => release = resolve);
      const first = requestLock("lock-b", async () => {
        parallel++;
        await gate;
      });
      await otherLock("lock-c", () => {
        parallel++;
      });
      release();
      await first;
      assert.equal(parallel, 2);
    },
  );

  await t.step(
    "requestLock() throws RequestLockError and never runs fn when the lease stays held",
    async () => {
      const { bridge } = createTestHost({ store });
      const { requestLock } = bridge.oauthStores({
        lockWait: 0.15,
        lockLease: 5,
      });
      let release!: () => void;
      const gate = new Promise<void>((resolve) => release = resolve);
      const holder = requestLock("lock-d", () => gate);
      await new Promise((resolve) => setTimeout(resolve, 20));
      let ran = false;
      await assert.rejects(
        requestLock("lock-d", () => {
          ran = true;
        }),
        (error: unknown) =>
          error instanceof RequestLockError &&
          /within 150 ms/.test(error.message),
      );
      assert.equal(ran, false);
      release();
      await holder;
      assert.equal(
        await requestLock("lock-d", () => "free again"),
        "free again",
      );
    },
  );

  await t.step("requestLock() releases the lease when fn throws", async () => {
    const { bridge } = createTestHost({ store });
    const { requestLock } = bridge.oauthStores({ lockWait: 0.2 });
    await assert.rejects(
      requestLock("lock-e", () => {
        throw new Error("boom");
      }),
      /boom/,
    );
    assert.equal(await requestLock("lock-e", () => 7), 7);
  });

  await t.step(
    "requestLock() renews the lease while fn outlives it",
    async () => {
      const { bridge } = createTestHost({ store });
      // A 300 ms lease, renewed every 100 ms; fn holds it for 900 ms while a
      // contender waits 600 ms: without renewal the contender would get in.
      const { requestLock } = bridge.oauthStores({ lockLease: 0.3 });
      const { requestLock: contender } = createTestHost({ store }).bridge
        .oauthStores({ lockLease: 0.3, lockWait: 0.6 });
      const holder = requestLock(
        "lock-f",
        () => new Promise((resolve) => setTimeout(resolve, 900)),
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
      let ran = false;
      await assert.rejects(
        contender("lock-f", () => {
          ran = true;
        }),
        RequestLockError,
      );
      assert.equal(ran, false);
      await holder;
    },
  );

  await t.step(
    "requestLock() takes over the lease of a crashed holder once it expires",
    async () => {
      const { bridge } = createTestHost({ store });
      // A holder that took the lease and died: nobody releases or renews it.
      // requestLock stores short names as they are.
      assert.equal(
        await store.acquireLock("lock-g", "crashed-owner", 300, Date.now()),
        true,
      );
      await assert.rejects(
        bridge.oauthStores({ lockWait: 0.05 }).requestLock("lock-g", () => 1),
        RequestLockError,
      );
      const { requestLock } = bridge.oauthStores({ lockWait: 5 });
      assert.equal(
        await requestLock("lock-g", () => "taken over"),
        "taken over",
      );
    },
  );

  await t.step(
    "requestLock() throws RequestLockError when the store fails",
    async () => {
      const failing = Object.create(store) as SessionStore & KeyValueStore;
      failing.acquireLock = () => Promise.reject(new Error("ECONNREFUSED"));
      const { bridge } = createTestHost({ store: failing });
      let ran = false;
      await assert.rejects(
        bridge.oauthStores().requestLock("lock-h", () => {
          ran = true;
        }),
        (error: unknown) =>
          error instanceof RequestLockError &&
          (error.cause as Error).message === "ECONNREFUSED",
      );
      assert.equal(ran, false);
    },
  );
}
