import assert from "node:assert/strict";
import { defaults, seal as ironSeal } from "iron-webcrypto";
import { contextOf } from "../src/_context.ts";
import { SessionManager } from "../src/session_manager.ts";
import type { SessionManagerOptions } from "../src/options.ts";
import {
  cookiePair,
  cookieValue,
  DID,
  OTHER_SECRET,
  requestWithCookie,
  SECRET,
  TestClock,
} from "./_fixtures.ts";
import { countingSeals } from "./_crypto_counting.ts";
import { fixture, memoryFactory, storeFactories } from "./_manager_fixtures.ts";
import { redisAvailable } from "./_redis_server.ts";

redisAvailable("key rotation on Redis");

/** Secrets before the rotation (id 1) and after it (ids 1 and 2). */
const BEFORE = { "1": OTHER_SECRET };
const AFTER = { "1": OTHER_SECRET, "2": SECRET };

function valueOf(pair: string): string {
  return pair.slice(pair.indexOf("=") + 1);
}

function managers(
  clock: TestClock,
  options: Partial<SessionManagerOptions> = {},
) {
  return {
    before: new SessionManager({
      cookieSecret: BEFORE,
      now: clock.now,
      ...options,
    }),
    after: new SessionManager({
      cookieSecret: AFTER,
      now: clock.now,
      refreshAfter: 3600,
      ...options,
    }),
  };
}

function usageOf(sessions: SessionManager, keyId: string) {
  const usage = sessions.keyUsage().keys.find((key) => key.keyId === keyId);
  assert.ok(usage, `keyUsage() lists ${keyId}`);
  return usage;
}

Deno.test("getSessionFromRequest() re-seals a cookie under an old key id under the newest, whatever refreshAfter says", async () => {
  const clock = new TestClock();
  const { before, after } = managers(clock);
  const cookie = cookiePair(await before.createSession({ did: DID }));
  assert.ok(valueOf(cookie).startsWith("Fe26.2*1*"));
  clock.advance(5);
  const result = await after.getSessionFromRequest(requestWithCookie(cookie));
  assert.equal(result.error, null);
  assert.equal(result.data?.did, DID);
  assert.equal(result.data?.lastAccessed, clock.time);
  const fresh = cookieValue(result.setCookieHeader!);
  assert.ok(fresh.startsWith("Fe26.2*2*"));
  // The fresh seal is not refreshed again: it is under the newest id.
  const next = await after.getSessionFromRequest(
    requestWithCookie(`sid=${fresh}`),
  );
  assert.equal(cookieValue(next.setCookieHeader!), fresh);
});

Deno.test("getSessionFromRequest() re-seals an old-id cookie once, not on every request that still carries it", async () => {
  const clock = new TestClock();
  const { before, after } = managers(clock);
  const cookie = cookiePair(await before.createSession({ did: DID }));
  const first = await after.getSessionFromRequest(requestWithCookie(cookie));
  const fresh = cookieValue(first.setCookieHeader!);
  clock.advance(10);
  const seals = await countingSeals(async () => {
    for (let i = 0; i < 5; i++) {
      const again = await after.getSessionFromRequest(
        requestWithCookie(cookie),
      );
      assert.equal(cookieValue(again.setCookieHeader!), fresh);
    }
  });
  assert.equal(seals, 0);
  const old = usageOf(after, "1");
  assert.equal(old.opened, 1);
  assert.equal(old.seen, 6);
});

Deno.test("getSessionFromRequest() with a store re-seals an old-id cookie in one updateSession, and never for a revoked session", async (t) => {
  for (const factory of storeFactories) {
    await t.step(factory.name, async () => {
      const harness = await factory.setup();
      try {
        const inner = await harness.create();
        const clock = new TestClock();
        const old = fixture(inner, { cookieSecret: BEFORE }, clock);
        const f = fixture(
          inner,
          { cookieSecret: AFTER, refreshAfter: 3600 },
          clock,
        );
        const cookie = await old.login();
        const before = f.store.total;
        const result = await f.read(cookie);
        assert.equal(result.error, null);
        assert.ok(cookieValue(result.setCookieHeader!).startsWith("Fe26.2*2*"));
        assert.equal(f.store.total - before, 1);
        assert.equal(f.store.calls.updateSession, 1);
        const record = await f.sessions.getSession(result.data!.sessionId!);
        assert.equal(record?.lastAccessed, clock.time);

        const revoked = await old.login();
        const id = (await old.read(revoked)).data!.sessionId!;
        await f.sessions.revokeSession(id);
        const refused = await f.read(revoked);
        assert.equal(refused.error?.type, "SESSION_REVOKED");
        assert.equal(refused.data, null);
      } finally {
        await harness.close();
      }
    });
  }
});

Deno.test("getSessionFromRequest() leaves an old-id cookie in its last second as it is", async () => {
  const clock = new TestClock();
  const { before, after } = managers(clock, { maxSessionAge: 100 });
  const cookie = cookiePair(await before.createSession({ did: DID }));
  clock.time += 99_500;
  const result = await after.getSessionFromRequest(requestWithCookie(cookie));
  assert.equal(result.error, null);
  assert.equal(cookieValue(result.setCookieHeader!), valueOf(cookie));
});

Deno.test("validateBearerToken() accepts a token under an old key id, counts it, and leaves re-issuing to refreshBearerToken", async () => {
  const clock = new TestClock();
  const { before, after } = managers(clock);
  const token = await before.sealToken({ did: DID });
  const validated = await after.validateBearerToken(`Bearer ${token}`);
  assert.equal(validated.error, null);
  assert.equal(validated.data?.did, DID);
  assert.equal(usageOf(after, "1").seen, 1);
  assert.equal(usageOf(after, "1").opened, 1);
  const fresh = await after.refreshBearerToken(`Bearer ${token}`);
  assert.ok(fresh?.startsWith("Fe26.2*2*"));
  assert.equal(
    (await after.validateBearerToken(`Bearer ${fresh}`)).error,
    null,
  );
  assert.equal(usageOf(after, "2").seen, 1);
});

Deno.test("keyUsage() reports every configured id newest first, with counts and lastSeenAt since the manager started", async () => {
  const clock = new TestClock();
  const { before, after } = managers(clock);
  const fresh = new SessionManager({ cookieSecret: AFTER, now: clock.now });
  const start = fresh.keyUsage();
  assert.equal(start.currentKeyId, "2");
  assert.deepEqual(start.keys, [
    {
      keyId: "2",
      current: true,
      opened: 0,
      seen: 0,
      valuesOpened: 0,
      lastSeenAt: null,
    },
    {
      keyId: "1",
      current: false,
      opened: 0,
      seen: 0,
      valuesOpened: 0,
      lastSeenAt: null,
    },
  ]);
  assert.ok(Object.isFrozen(start) && Object.isFrozen(start.keys));

  const cookie = cookiePair(await before.createSession({ did: DID }));
  clock.advance(30);
  await after.getSessionFromRequest(requestWithCookie(cookie));
  const report = after.keyUsage();
  assert.deepEqual(report.keys.map((key) => key.keyId), ["2", "1"]);
  assert.equal(usageOf(after, "1").lastSeenAt, clock.time);
  assert.equal(usageOf(after, "2").seen, 0);
  // A snapshot: later requests do not change a report already taken.
  clock.advance(1);
  await after.getSessionFromRequest(requestWithCookie(cookie));
  assert.equal(report.keys[1]!.seen, 1);
  assert.equal(usageOf(after, "1").seen, 2);
});

Deno.test("keyUsage() counts values at rest opened under each id", async () => {
  const clock = new TestClock();
  const sessions = new SessionManager({ cookieSecret: AFTER, now: clock.now });
  const context = contextOf(sessions);
  const sealed = await context.sealValue("test", { a: 1 }, null);
  assert.deepEqual(await context.openValue("test", sealed), { a: 1 });
  assert.equal(usageOf(sessions, "2").valuesOpened, 1);
  assert.equal(usageOf(sessions, "2").lastSeenAt, clock.time);
  // Sealed for another purpose: not opened, not counted.
  assert.equal(await context.openValue("other", sealed), undefined);
  assert.equal(usageOf(sessions, "2").valuesOpened, 1);
});

Deno.test('keyUsage() lists "default" once a seal without an id was seen, and re-seals it under the newest id', async () => {
  const clock = new TestClock();
  const sessions = new SessionManager({ cookieSecret: SECRET, now: clock.now });
  assert.deepEqual(sessions.keyUsage().keys.map((key) => key.keyId), ["1"]);
  // A plain Iron seal (no id), as @hapi/iron makes them.
  const plain = await ironSeal(
    { did: DID, createdAt: clock.time, lastAccessed: clock.time },
    SECRET,
    { ...defaults, ttl: 60_000 },
  );
  const result = await sessions.getSessionFromRequest(
    requestWithCookie(`sid=${plain}`),
  );
  assert.equal(result.error, null);
  assert.ok(cookieValue(result.setCookieHeader!).startsWith("Fe26.2*1*"));
  assert.deepEqual(
    sessions.keyUsage().keys.map((key) => [key.keyId, key.seen]),
    [["1", 0], ["default", 1]],
  );
});

Deno.test("getSessionFromRequest() after the old id is dropped: its cookies are UNKNOWN_KEY", async () => {
  const harness = await memoryFactory.setup();
  const clock = new TestClock();
  const { before } = managers(clock);
  const cookie = cookiePair(await before.createSession({ did: DID }));
  const dropped = new SessionManager({
    cookieSecret: { "2": SECRET },
    now: clock.now,
  });
  const result = await dropped.getSessionFromRequest(requestWithCookie(cookie));
  assert.equal(result.error?.type, "UNKNOWN_KEY");
  await harness.close();
});
