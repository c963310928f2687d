/**
 * Issue 9, "every device is a session", on every store (memory, Deno KV,
 * real Redis): tokens as session records, single-use rotation with reuse
 * detection, freshness, rotateSession and events.
 */
import assert from "node:assert/strict";
import { authenticatedWithin } from "../src/freshness.ts";
import type { SessionEvent } from "../src/events.ts";
import { SessionManager } from "../src/session_manager.ts";
import type { SessionStore } from "../src/store.ts";
import { cookiePair, DID, SECRET, T0, TestClock } from "./_fixtures.ts";
import {
  fixture,
  settle,
  storeFactories,
  type StoreFactory,
} from "./_manager_fixtures.ts";
import { redisAvailable } from "./_redis_server.ts";

const OTHER_DID = "did:web:example.com";

type Step = (
  title: string,
  fn: (store: SessionStore) => Promise<void>,
) => Promise<boolean>;

function devicesSuite(factory: StoreFactory): void {
  Deno.test(`every device is a session, with ${factory.name}`, async (t) => {
    const harness = await factory.setup();
    const step: Step = (title, fn) =>
      t.step(title, async () => await fn(await harness.create()));
    try {
      await runSuite(step);
    } finally {
      await harness.close();
    }
  });
}

async function runSuite(step: Step): Promise<void> {
  await step(
    "sealToken() creates a token session listed with the cookies, newest first, with its label and no successor",
    async (store) => {
      const { sessions, login, bearer, clock } = fixture(store);
      await login(DID, { userAgent: "Firefox" });
      clock.advance(1);
      const token = await sessions.sealToken({ did: DID }, {
        label: "Alice's iPhone",
      });
      const { data } = await bearer(token);
      assert.equal(typeof data?.sessionId, "string");
      assert.equal(data?.jti, undefined);
      const listed = await sessions.listSessions(DID);
      assert.deepEqual(listed.map((r) => r.kind), ["token", "cookie"]);
      assert.equal(listed[0]?.id, data?.sessionId);
      assert.equal(listed[0]?.metadata.label, "Alice's iPhone");
      clock.advance(1);
      await sessions.refreshBearerToken(`Bearer ${token}`);
      const record = await sessions.getSession(data!.sessionId!);
      assert.equal(record?.generation, 1);
      assert.equal(record?.successor, null, "getSession hides the successor");
      assert.ok(
        (await sessions.listSessions(DID)).every((r) => r.successor === null),
      );
    },
  );

  await step(
    "maxSessionsPerUser counts cookies and tokens together",
    async (store) => {
      const { sessions, login, read, bearer, clock } = fixture(store, {
        maxSessionsPerUser: 2,
      });
      const cookie = await login();
      clock.advance(1);
      const token = await sessions.sealToken({ did: DID });
      clock.advance(1);
      const second = await login();
      assert.equal((await read(cookie)).error?.type, "SESSION_REVOKED");
      assert.equal((await bearer(token)).error, null);
      assert.equal((await read(second)).error, null);
    },
  );

  await step(
    "maxSessionsPerUser: 1 never evicts the session being created, even with an older createdAt",
    async (store) => {
      const { sessions, read, bearer } = fixture(store, {
        maxSessionsPerUser: 1,
      });
      const first = cookiePair(await sessions.createSession({ did: DID }));
      const second = cookiePair(
        await sessions.createSession({ did: DID, createdAt: T0 - 5_000 }),
      );
      assert.equal((await read(second)).error, null);
      assert.equal((await read(first)).error?.type, "SESSION_REVOKED");
      const token = await sessions.sealToken({
        did: DID,
        createdAt: T0 - 9_000,
      });
      assert.equal((await bearer(token)).error, null);
      assert.equal((await read(second)).error?.type, "SESSION_REVOKED");
    },
  );

  await step(
    "revokeSession() and revokeAllSessions() end tokens on a second manager with a warm cache",
    async (store) => {
      const clock = new TestClock();
      const a = fixture(store, {}, clock);
      const b = fixture(store, {}, clock);
      const one = await a.sessions.sealToken({ did: DID });
      const two = await a.sessions.sealToken({ did: DID });
      const cookie = await a.login();
      for (const token of [one, two]) {
        assert.equal((await b.bearer(token)).error, null); // warms b's cache
      }
      const id = (await b.bearer(one)).data!.sessionId!;
      assert.equal(await a.sessions.revokeSession(id, DID), true);
      assert.equal((await b.bearer(one)).error?.type, "TOKEN_REVOKED");
      assert.equal(await b.sessions.unsealToken(one), null);
      assert.equal(await b.refresh(one), null);
      assert.equal(await a.sessions.revokeAllSessions(DID), 2);
      assert.equal((await b.bearer(two)).error?.type, "TOKEN_REVOKED");
      assert.equal((await b.read(cookie)).error?.type, "SESSION_REVOKED");
    },
  );

  await step(
    "a token is valid only while its record is: a store that lost its data fails closed",
    async (store) => {
      const { sessions, bearer, clock } = fixture(store);
      const token = await sessions.sealToken({ did: DID });
      assert.equal((await bearer(token)).error, null);
      await sessions.revokeAllSessions(DID); // as FLUSHDB would
      assert.equal((await bearer(token)).error?.type, "TOKEN_REVOKED");
      clock.advance(7 * 86400 + 1);
      assert.equal((await bearer(token)).error?.type, "TOKEN_EXPIRED");
    },
  );

  await step(
    "refreshBearerToken() is single-use: the old token stops at once, the new one works",
    async (store) => {
      const { sessions, bearer, refresh, clock, events } = fixture(store);
      const token = await sessions.sealToken({
        did: DID,
        createdAt: T0 - 1000,
      });
      clock.advance(60);
      const fresh = await refresh(token);
      assert.ok(fresh !== null && fresh !== token);
      const { data } = await bearer(fresh);
      assert.equal(data?.lastAccessed, T0 + 60_000);
      assert.equal(data?.createdAt, T0 - 1000);
      assert.equal(data?.authenticatedAt, T0);
      assert.equal((await bearer(token)).error?.type, "TOKEN_REVOKED");
      await settle();
      assert.ok(events.some((e) => e.type === "token.rotated"));
    },
  );

  await step(
    "10 concurrent refreshes of one token across two managers yield one live token",
    async (store) => {
      const clock = new TestClock();
      const a = fixture(store, {}, clock);
      const b = fixture(store, {}, clock);
      const token = await a.sessions.sealToken({ did: DID });
      clock.advance(10);
      const results = await Promise.all(
        Array.from(
          { length: 10 },
          (_, i) => (i % 2 === 0 ? a : b).refresh(token),
        ),
      );
      const distinct = new Set(results);
      assert.equal(distinct.size, 1, "every caller got the same token");
      const [fresh] = [...distinct];
      assert.ok(typeof fresh === "string" && fresh !== token);
      assert.equal((await a.bearer(fresh)).error, null);
      assert.equal((await b.bearer(fresh)).error, null);
      assert.equal((await b.bearer(token)).error?.type, "TOKEN_REVOKED");
      const listed = await a.sessions.listSessions(DID);
      assert.equal(listed.length, 1);
      assert.equal(listed[0]?.generation, 1);
    },
  );

  await step(
    "a retry within tokenReuseGrace receives the same successor; reuse after it revokes the session",
    async (store) => {
      const { sessions, bearer, refresh, clock, lines, events } = fixture(
        store,
        { tokenReuseGrace: 30 },
      );
      const token = await sessions.sealToken({ did: DID });
      clock.advance(10);
      const fresh = await refresh(token);
      clock.advance(29);
      assert.equal(await refresh(token), fresh, "an honest retry");
      assert.equal((await bearer(token)).error?.type, "TOKEN_REVOKED");
      assert.equal((await bearer(fresh!)).error, null, "not revoked in grace");
      clock.advance(2); // 31 s after the rotation
      assert.equal(await refresh(token), null);
      assert.equal((await bearer(fresh!)).error?.type, "TOKEN_REVOKED");
      assert.deepEqual(await sessions.listSessions(DID), []);
      assert.ok(
        lines.some((line) =>
          line.level === "warn" && line.context?.type === "TOKEN_REUSE"
        ),
      );
      await settle();
      const reuse = events.find((e) => e.type === "token.reuse_detected");
      assert.equal(reuse?.did, DID);
      assert.equal(reuse?.kind, "token");
      assert.ok(
        events.some((e) =>
          e.type === "session.revoked" && e.reason === "token_reuse"
        ),
      );
    },
  );

  await step(
    "presenting a rotated-away token to validateBearerToken() after the grace is reuse too",
    async (store) => {
      const { sessions, bearer, refresh, clock } = fixture(store);
      const token = await sessions.sealToken({ did: DID });
      const fresh = await refresh(token);
      clock.advance(31);
      assert.equal((await bearer(token)).error?.type, "TOKEN_REVOKED");
      assert.equal((await bearer(fresh!)).error?.type, "TOKEN_REVOKED");
    },
  );

  await step(
    "tokens without a record (0.1) keep revokeToken(); their refresh moves them onto a record",
    async (store) => {
      const { sessions, bearer, refresh, clock } = fixture(store, {
        clockSkew: 30,
        tokenTtl: 600,
      });
      const legacy = await new SessionManager({
        cookieSecret: SECRET,
        now: clock.now,
        tokenTtl: 600,
      }).sealToken({ did: DID });
      const { data } = await bearer(legacy);
      assert.equal(typeof data?.jti, "string");
      const upgraded = await refresh(legacy);
      assert.ok(upgraded !== null);
      assert.equal((await bearer(legacy)).error?.type, "TOKEN_REVOKED");
      const listed = await sessions.listSessions(DID);
      assert.deepEqual(listed.map((r) => r.kind), ["token"]);
      // Revoked stays revoked through the clockSkew grace.
      const other = await new SessionManager({
        cookieSecret: SECRET,
        now: clock.now,
        tokenTtl: 600,
      }).sealToken({ did: DID });
      const otherData = (await bearer(other)).data!;
      await sessions.revokeToken(otherData.jti!, otherData.expiresAt!);
      clock.advance(610); // past expiry, inside the 30 s grace
      assert.equal((await bearer(other)).error?.type, "TOKEN_REVOKED");
    },
  );

  await step(
    "authenticatedAt survives sliding refresh and rotation; authenticatedWithin() measures from it",
    async (store) => {
      const { sessions, read, refresh, bearer, clock } = fixture(store, {
        refreshAfter: 60,
      });
      const cookie = cookiePair(
        await sessions.createSession({ did: DID, createdAt: T0 - 86_400_000 }),
      );
      clock.advance(120);
      const refreshed = await read(cookie);
      assert.equal(refreshed.data?.authenticatedAt, T0);
      assert.equal(refreshed.data?.lastAccessed, T0 + 120_000);
      assert.equal(authenticatedWithin(refreshed.data!, 300, clock.time), true);
      assert.equal(authenticatedWithin(refreshed.data!, 60, clock.time), false);
      const token = await sessions.sealToken({ did: DID });
      clock.advance(600);
      const fresh = await refresh(token);
      const data = (await bearer(fresh!)).data!;
      assert.equal(data.authenticatedAt, T0 + 120_000);
      assert.equal(authenticatedWithin(data, 599, clock.time), false);
      const record = await sessions.getSession(data.sessionId!);
      assert.equal(record?.authenticatedAt, T0 + 120_000);
    },
  );

  await step(
    "rotateSession() issues a new id, ends the old cookie atomically and keeps the device's metadata",
    async (store) => {
      const { sessions, login, read, events } = fixture(store, {
        maxSessionsPerUser: 1,
      });
      const cookie = await login(DID, { userAgent: "Firefox" });
      const before = (await read(cookie)).data!;
      const rotated = cookiePair(await sessions.rotateSession(before));
      const after = (await read(rotated)).data!;
      assert.notEqual(after.sessionId, before.sessionId);
      assert.equal(after.createdAt, before.createdAt);
      assert.equal(after.authenticatedAt, before.authenticatedAt);
      assert.equal((await read(cookie)).error?.type, "SESSION_REVOKED");
      const listed = await sessions.listSessions(DID);
      assert.deepEqual(listed.map((r) => r.id), [after.sessionId]);
      assert.equal(listed[0]?.metadata.userAgent, "Firefox");
      await settle();
      const event = events.find((e) => e.type === "session.rotated");
      assert.equal(
        event?.type === "session.rotated" && event.previousSessionId,
        before.sessionId,
      );
      assert.ok(!events.some((e) => e.type === "session.evicted"));
    },
  );

  await step(
    "onEvent receives typed events with did, sessionId and kind, never a seal or token",
    async (store) => {
      const { sessions, login, read, refresh, clock, events } = fixture(store, {
        maxSessionsPerUser: 2,
      });
      const cookie = await login(DID, { label: "laptop" });
      clock.advance(1);
      const token = await sessions.sealToken({ did: DID }, { label: "phone" });
      clock.advance(1);
      await login(); // evicts the laptop
      const fresh = await refresh(token);
      const id = (await sessions.listSessions(DID))[0]!.id;
      await sessions.revokeSession(id);
      await settle();
      const types = events.map((e) => e.type);
      for (
        const type of [
          "session.created",
          "session.evicted",
          "token.rotated",
          "session.revoked",
        ]
      ) assert.ok(types.includes(type as SessionEvent["type"]), type);
      const created = events.filter((e) => e.type === "session.created");
      assert.deepEqual(created.map((e) => e.kind), [
        "cookie",
        "token",
        "cookie",
      ]);
      assert.ok(
        events.every((e) =>
          e.did === DID && typeof e.sessionId === "string" && e.at >= T0
        ),
      );
      const logged = JSON.stringify(events);
      for (const secret of [cookie.slice(4), token, fresh!, SECRET]) {
        for (const part of secret.split("*").filter((p) => p.length >= 16)) {
          assert.ok(!logged.includes(part), "an event holds secret material");
        }
      }
      assert.equal((await read(cookie)).error?.type, "SESSION_REVOKED");
    },
  );

  await step(
    "a throwing, rejecting or never-settling onEvent handler never breaks or delays a request",
    async (store) => {
      let never: (() => void) | undefined;
      for (
        const onEvent of [
          () => {
            throw new Error("handler bug");
          },
          () => Promise.reject(new Error("handler down")),
          () => new Promise<void>((resolve) => never = resolve),
        ]
      ) {
        const { sessions, login, read, refresh, lines } = fixture(store, {
          onEvent,
        });
        const cookie = await login();
        assert.equal((await read(cookie)).error, null);
        const token = await sessions.sealToken({ did: OTHER_DID });
        assert.ok((await refresh(token)) !== null);
        assert.equal(await sessions.revokeAllSessions(DID), 1);
        await settle();
        if (never === undefined) {
          assert.ok(
            lines.some((line) => line.message === "onEvent handler failed"),
          );
        }
      }
      never?.();
    },
  );
}

for (const factory of storeFactories) devicesSuite(factory);
redisAvailable("every device is a session, with RedisSessionStore");
