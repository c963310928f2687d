import assert from "node:assert/strict";
import { SessionManager } from "../src/session_manager.ts";
import {
  cookiePair,
  cookieValue,
  DID,
  requestWithCookie,
  SECRET,
  TestClock,
} from "./_fixtures.ts";
import { countingSeals } from "./_crypto_counting.ts";
import { fixture, memoryFactory, storeFactories } from "./_manager_fixtures.ts";
import { redisAvailable } from "./_redis_server.ts";

redisAvailable("single-flight refresh on Redis");

const PARALLEL = 60;

for (const factory of storeFactories) {
  Deno.test(`getSessionFromRequest() single-flight refresh (${factory.name})`, async (t) => {
    const harness = await factory.setup();
    try {
      await t.step(
        `${PARALLEL} parallel refresh-due requests share 1 write and 1 re-seal`,
        async () => {
          const f = fixture(await harness.create());
          const cookie = await f.login();
          f.clock.advance(61);
          f.store.calls.updateSession = 0;
          let results: Awaited<ReturnType<typeof f.read>>[] = [];
          const seals = await countingSeals(async () => {
            results = await Promise.all(
              Array.from({ length: PARALLEL }, () => f.read(cookie)),
            );
          });
          assert.equal(f.store.calls.updateSession, 1);
          assert.equal(seals, 1);
          const fresh = new Set(
            results.map((r) => {
              assert.equal(r.error, null);
              return cookieValue(r.setCookieHeader!);
            }),
          );
          assert.equal(fresh.size, 1);
          assert.notEqual([...fresh][0], cookie.slice(cookie.indexOf("=") + 1));
          for (const r of results) {
            assert.equal(r.data?.lastAccessed, f.clock.time);
          }
        },
      );

      await t.step(
        "a later request with the pre-refresh cookie gets the fresh seal without another refresh; revoked, it gets SESSION_REVOKED",
        async () => {
          const f = fixture(await harness.create());
          const cookie = await f.login();
          f.clock.advance(61);
          const first = await f.read(cookie);
          const fresh = cookieValue(first.setCookieHeader!);
          f.clock.advance(5);
          const writes = f.store.calls.updateSession;
          const reads = f.store.calls.getSession ?? 0;
          let again: Awaited<ReturnType<typeof f.read>> | undefined;
          const seals = await countingSeals(async () => {
            again = await f.read(cookie);
          });
          assert.equal(seals, 0);
          assert.equal(again!.error, null);
          assert.equal(cookieValue(again!.setCookieHeader!), fresh);
          assert.equal(f.store.calls.updateSession, writes);
          // The record is still read: the memo holds cryptography only.
          assert.equal(f.store.calls.getSession, reads + 1);

          await f.sessions.revokeSession(first.data!.sessionId!);
          const old = await f.read(cookie);
          assert.equal(old.error?.type, "SESSION_REVOKED");
          assert.equal(old.data, null);
          assert.ok(!old.setCookieHeader?.includes(fresh));
          const current = await f.read(`sid=${fresh}`);
          assert.equal(current.error?.type, "SESSION_REVOKED");
        },
      );

      await t.step(
        "parallel refresh-due requests of a revoked session all get SESSION_REVOKED and no fresh seal",
        async () => {
          const f = fixture(await harness.create());
          const cookie = await f.login();
          const id = (await f.read(cookie)).data!.sessionId!;
          await f.sessions.revokeSession(id);
          f.clock.advance(61);
          const results = await Promise.all(
            Array.from({ length: 10 }, () => f.read(cookie)),
          );
          for (const r of results) {
            assert.equal(r.error?.type, "SESSION_REVOKED");
            assert.equal(r.data, null);
          }
        },
      );
    } finally {
      await harness.close();
    }
  });
}

Deno.test("getSessionFromRequest() single flight without a store: parallel refresh-due requests share one re-seal", async () => {
  const clock = new TestClock();
  const sessions = new SessionManager({ cookieSecret: SECRET, now: clock.now });
  const cookie = cookiePair(await sessions.createSession({ did: DID }));
  clock.advance(61);
  let results: Awaited<ReturnType<typeof sessions.getSessionFromRequest>>[] =
    [];
  const seals = await countingSeals(async () => {
    results = await Promise.all(
      Array.from(
        { length: PARALLEL },
        () => sessions.getSessionFromRequest(requestWithCookie(cookie)),
      ),
    );
  });
  assert.equal(seals, 1);
  assert.equal(
    new Set(results.map((r) => cookieValue(r.setCookieHeader!))).size,
    1,
  );
  clock.advance(10);
  const later = await sessions.getSessionFromRequest(requestWithCookie(cookie));
  assert.equal(
    cookieValue(later.setCookieHeader!),
    cookieValue(results[0]!.setCookieHeader!),
  );
  // Max-Age counts down from the fresh seal's expiry.
  assert.match(later.setCookieHeader!, /Max-Age=604790;/);
});

Deno.test("getSessionFromRequest() refreshes the pre-refresh cookie again once refreshAfter has passed since the refresh", async () => {
  const harness = await memoryFactory.setup();
  const f = fixture(await harness.create());
  const cookie = await f.login();
  f.clock.advance(61);
  const first = cookieValue((await f.read(cookie)).setCookieHeader!);
  f.clock.advance(61);
  const second = await f.read(cookie);
  assert.equal(second.error, null);
  assert.notEqual(cookieValue(second.setCookieHeader!), first);
  assert.equal(f.store.calls.updateSession, 2);
  await harness.close();
});

Deno.test("getSessionFromRequest() memo is bounded (half of cacheSize): an evicted refresh is done again", async () => {
  const harness = await memoryFactory.setup();
  const f = fixture(await harness.create(), { cacheSize: 4 });
  const cookies = [await f.login(), await f.login(), await f.login()];
  f.clock.advance(61);
  for (const cookie of cookies) {
    assert.equal((await f.read(cookie)).error, null);
  }
  assert.equal(f.store.calls.updateSession, 3);
  // The first refresh was evicted by the two after it: refreshed again.
  assert.equal((await f.read(cookies[0]!)).error, null);
  assert.equal(f.store.calls.updateSession, 4);
  // The last one is still remembered.
  assert.equal((await f.read(cookies[2]!)).error, null);
  assert.equal(f.store.calls.updateSession, 4);
  await harness.close();
});

Deno.test("getSessionFromRequest() expiry stays exact for the pre-refresh cookie within the memo window", async () => {
  const harness = await memoryFactory.setup();
  const f = fixture(await harness.create(), {
    sessionTtl: 120,
    refreshAfter: 60,
  });
  const cookie = await f.login();
  f.clock.advance(100);
  const refreshed = await f.read(cookie);
  assert.equal(refreshed.error, null);
  const fresh = cookieValue(refreshed.setCookieHeader!);
  // The old seal expires at 120 s, inside the 60 s window of the refresh.
  f.clock.advance(21);
  const old = await f.read(cookie);
  assert.equal(old.error?.type, "SESSION_EXPIRED");
  assert.equal((await f.read(`sid=${fresh}`)).error, null);
  await harness.close();
});

Deno.test("getSessionFromRequest() single flight: a refused refresh write serves every joined request its unchanged seal, and the next request tries again", async () => {
  const harness = await memoryFactory.setup();
  const f = fixture(await harness.create());
  const cookie = await f.login();
  f.clock.advance(61);
  f.store.modes.updateSession = "fail";
  const results = await Promise.all(
    Array.from({ length: 5 }, () => f.read(cookie)),
  );
  for (const r of results) {
    assert.equal(r.error, null);
    assert.equal(
      cookieValue(r.setCookieHeader!),
      cookie.slice(cookie.indexOf("=") + 1),
    );
  }
  assert.equal(f.store.calls.updateSession, 1);
  f.store.modes.updateSession = "pass";
  const next = await f.read(cookie);
  assert.equal(next.error, null);
  assert.notEqual(
    cookieValue(next.setCookieHeader!),
    cookie.slice(cookie.indexOf("=") + 1),
  );
  assert.equal(f.store.calls.updateSession, 2);
  await harness.close();
});

Deno.test("getSessionFromRequest() single flight: a request that joins while the store is down gets STORE_UNAVAILABLE, never the fresh seal", async () => {
  const harness = await memoryFactory.setup();
  const f = fixture(await harness.create());
  const cookie = await f.login();
  f.clock.advance(61);
  assert.equal((await f.read(cookie)).error, null);
  f.store.modes.getSession = "fail";
  const joined = await f.read(cookie);
  assert.equal(joined.error?.type, "STORE_UNAVAILABLE");
  assert.equal(joined.setCookieHeader, null);
  await harness.close();
});
