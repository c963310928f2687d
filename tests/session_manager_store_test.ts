import assert from "node:assert/strict";
import { createClient } from "npm:redis@4";
import {
  ConfigurationError,
  SessionManager,
  type SessionStore,
  StoreError,
} from "../mod.ts";
import { RedisSessionStore } from "../src/stores/redis.ts";
import { cookiePair, DID, requestWithCookie, SECRET, T0 } from "./_fixtures.ts";
import {
  denoKvFactory,
  fixture,
  memoryFactory,
  redisFactory,
} from "./_manager_fixtures.ts";
import { redisAvailable, startRedisServer } from "./_redis_server.ts";
import type { StoreHarness } from "./stores/store_contract.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A token from before tokens had records: stateless, with a jti. */
function legacyToken(did = DID, now = T0, tokenTtl = 600): Promise<string> {
  return new SessionManager({ cookieSecret: SECRET, now: () => now, tokenTtl })
    .sealToken({ did });
}

const OTHER_DID = "did:web:example.com";

/**
 * Registers one test that runs the manager-level checks against a store.
 *
 * @param name The store's name.
 * @param setup Opens what the stores need; `create()` gives a fresh one.
 */
function managerSuite(
  name: string,
  setup: () => Promise<StoreHarness>,
): void {
  Deno.test(`SessionManager with ${name}`, async (t) => {
    const harness = await setup();
    const step = (title: string, fn: (store: SessionStore) => Promise<void>) =>
      t.step(title, async () => await fn(await harness.create()));
    try {
      await runManagerSuite(step);
    } finally {
      await harness.close();
    }
  });
}

async function runManagerSuite(
  step: (
    title: string,
    fn: (store: SessionStore) => Promise<void>,
  ) => Promise<boolean>,
): Promise<void> {
  await step(
    "getSessionFromRequest() returns data.sessionId, the stored record's id",
    async (inner) => {
      const { sessions, login, read } = fixture(inner, { sessionTtl: 3600 });
      const cookie = await login(DID, {
        userAgent: "Firefox",
        ipAddress: "203.0.113.9",
      });
      const { data, error } = await read(cookie);
      assert.equal(error, null);
      assert.equal(typeof data?.sessionId, "string");
      assert.deepEqual(await sessions.getSession(data!.sessionId!), {
        id: data!.sessionId,
        did: DID,
        kind: "cookie",
        createdAt: T0,
        lastAccessed: T0,
        expiresAt: T0 + 3600_000,
        authenticatedAt: T0,
        generation: 0,
        rotatedAt: null,
        successor: null,
        metadata: { userAgent: "Firefox", ipAddress: "203.0.113.9" },
      });
    },
  );

  await step(
    "revokeSession() makes the very next request fail with SESSION_REVOKED, cached seal or not",
    async (inner) => {
      const { sessions, login, read, lines } = fixture(inner);
      const cookie = await login();
      // This request is answered from the verified-seal cache (createSession
      // put the seal there); the store is still asked on every request.
      const first = await read(cookie);
      assert.equal(first.error, null);
      assert.equal(await sessions.revokeSession(first.data!.sessionId!), true);
      const next = await read(cookie);
      assert.equal(next.data, null);
      assert.equal(next.error?.type, "SESSION_REVOKED");
      assert.equal(next.setCookieHeader, sessions.getClearCookieHeader());
      assert.equal(await sessions.revokeSession(first.data!.sessionId!), false);
      assert.ok(
        lines.some((line) =>
          line.level === "info" && line.message === "Session revoked"
        ),
      );
    },
  );

  await step(
    "clockSkew grace holds with a store, and past it the error is SESSION_EXPIRED",
    async (inner) => {
      const { login, read, clock } = fixture(inner, {
        sessionTtl: 60,
        clockSkew: 30,
        refreshAfter: 10,
      });
      const cookie = await login();
      clock.advance(70); // past the TTL, within the 30 s grace
      const graced = await read(cookie);
      assert.equal(graced.error, null);
      assert.equal(graced.data?.did, DID);
      const second = await login();
      clock.advance(100);
      assert.equal((await read(second)).error?.type, "SESSION_EXPIRED");
    },
  );

  await step(
    "updateSession() rejects non-finite times before they reach the store",
    async (inner) => {
      const { sessions, login, read } = fixture(inner);
      const { data } = await read(await login());
      for (
        const update of [{ expiresAt: Number.NaN }, { lastAccessed: Infinity }]
      ) {
        await assert.rejects(
          sessions.updateSession(data!.sessionId!, update),
          TypeError,
        );
      }
      assert.equal((await sessions.getSession(data!.sessionId!))?.did, DID);
    },
  );

  await step(
    "revokeSession(id, did) revokes only a session that did owns",
    async (inner) => {
      const { sessions, login, read } = fixture(inner);
      const mine = await read(await login(DID));
      const theirs = await read(await login(OTHER_DID));
      const theirId = theirs.data!.sessionId!;
      assert.equal(await sessions.revokeSession(theirId, DID), false);
      assert.equal((await sessions.getSession(theirId))?.did, OTHER_DID);
      assert.equal(await sessions.revokeSession("no-such-id", DID), false);
      assert.equal(
        await sessions.revokeSession(mine.data!.sessionId!, DID),
        true,
      );
      assert.equal(await sessions.getSession(mine.data!.sessionId!), null);
    },
  );

  await step(
    "revokeToken() takes the token data's expiresAt in milliseconds, and rejects a bad time",
    async (inner) => {
      const { sessions } = fixture(inner);
      const data = await sessions.unsealToken(await legacyToken());
      await sessions.revokeToken(data!.jti!, data!.expiresAt!);
      assert.equal(await sessions.isTokenRevoked(data!.jti!), true);
      await assert.rejects(sessions.revokeToken("jti", Number.NaN), TypeError);
      await assert.rejects(
        sessions.revokeToken("jti", new Date("nope")),
        TypeError,
      );
    },
  );

  await step(
    "revokeAllSessions() signs one user out everywhere",
    async (inner) => {
      const { sessions, login, read, clock } = fixture(inner);
      const cookies: string[] = [];
      for (let i = 0; i < 3; i++) {
        cookies.push(await login());
        clock.advance(1);
      }
      const theirs = await login(OTHER_DID);
      assert.equal(await sessions.revokeAllSessions(DID), 3);
      for (const cookie of cookies) {
        assert.equal((await read(cookie)).error?.type, "SESSION_REVOKED");
      }
      assert.equal((await read(theirs)).data?.did, OTHER_DID);
      assert.deepEqual(await sessions.listSessions(DID), []);
      assert.equal(await sessions.revokeAllSessions(DID), 0);
    },
  );

  await step(
    "listSessions() lists a user's devices newest first, with metadata",
    async (inner) => {
      const { sessions, login, read, clock } = fixture(inner);
      const ids: string[] = [];
      for (const userAgent of ["Firefox", "Safari", "Chrome"]) {
        const cookie = await login(DID, { userAgent, scope: "atproto" });
        ids.push((await read(cookie)).data!.sessionId!);
        clock.advance(10);
      }
      await login(OTHER_DID);
      const listed = await sessions.listSessions(DID);
      assert.deepEqual(listed.map((r) => r.id), [...ids].reverse());
      assert.deepEqual(listed.map((r) => r.metadata.userAgent), [
        "Chrome",
        "Safari",
        "Firefox",
      ]);
      assert.deepEqual(listed.map((r) => r.createdAt), [
        T0 + 20_000,
        T0 + 10_000,
        T0,
      ]);
      assert.ok(
        listed.every((r) => r.did === DID && r.metadata.scope === "atproto"),
      );
    },
  );

  await step(
    "maxSessionsPerUser evicts the oldest session through the manager",
    async (inner) => {
      const { sessions, login, read, clock, lines } = fixture(inner, {
        maxSessionsPerUser: 2,
      });
      const cookies: string[] = [];
      for (let i = 0; i < 3; i++) {
        cookies.push(await login());
        clock.advance(1);
      }
      assert.equal((await read(cookies[0]!)).error?.type, "SESSION_REVOKED");
      assert.equal((await read(cookies[1]!)).error, null);
      assert.equal((await read(cookies[2]!)).error, null);
      assert.equal((await sessions.listSessions(DID)).length, 2);
      const evictions = lines.filter((line) =>
        line.message.startsWith("Evicted oldest sessions")
      );
      assert.deepEqual(evictions.map((line) => line.context), [{ count: 1 }]);
    },
  );

  await step(
    "sliding refresh writes to the store at most once per refreshAfter",
    async (inner) => {
      const { sessions, store, login, read, clock } = fixture(inner, {
        sessionTtl: 3600,
        refreshAfter: 60,
      });
      let cookie = await login();
      const id = (await read(cookie)).data!.sessionId!;
      const stored = () => sessions.getSession(id);

      clock.advance(30);
      for (let i = 0; i < 5; i++) {
        assert.equal((await read(cookie)).error, null);
      }
      assert.equal(store.calls.updateSession ?? 0, 0);
      assert.equal((await stored())?.lastAccessed, T0);

      clock.advance(31); // 61 s since the seal: refresh once.
      const refreshed = await read(cookie);
      assert.equal(refreshed.data?.lastAccessed, T0 + 61_000);
      assert.equal(store.calls.updateSession, 1);
      assert.equal((await stored())?.lastAccessed, T0 + 61_000);
      assert.equal((await stored())?.expiresAt, T0 + 61_000 + 3600_000);
      cookie = cookiePair(refreshed.setCookieHeader!);

      clock.advance(30); // 30 s since the new seal: no write.
      for (let i = 0; i < 5; i++) {
        assert.equal((await read(cookie)).error, null);
      }
      assert.equal(store.calls.updateSession, 1);

      clock.advance(30); // 60 s since the new seal: the second write.
      cookie = cookiePair((await read(cookie)).setCookieHeader!);
      assert.equal(store.calls.updateSession, 2);
      assert.equal((await stored())?.lastAccessed, T0 + 121_000);

      // Past the first expiry (T0 + 3600 s), kept alive by the refreshes.
      clock.time = T0 + 3700_000;
      const late = await read(cookie);
      assert.equal(late.error, null);
      assert.equal((await stored())?.expiresAt, T0 + 3700_000 + 3600_000);
    },
  );

  await step(
    "a session whose record is gone is refused even when due for refresh",
    async (inner) => {
      const { sessions, login, read, clock } = fixture(inner, {
        refreshAfter: 60,
      });
      const cookie = await login();
      const id = (await read(cookie)).data!.sessionId!;
      clock.advance(61);
      await sessions.revokeSession(id);
      assert.equal((await read(cookie)).error?.type, "SESSION_REVOKED");
    },
  );

  await step(
    "revokeToken() by jti gives TOKEN_REVOKED to a token without a record until its expiry, then forgets it",
    async (inner) => {
      const { sessions, clock } = fixture(inner, { tokenTtl: 600 });
      const token = await legacyToken();
      const { data } = await sessions.validateBearerToken(`Bearer ${token}`);
      assert.equal(typeof data?.jti, "string");
      assert.equal(data?.expiresAt, T0 + 600_000);
      const jti = data!.jti!;
      assert.equal(await sessions.isTokenRevoked(jti), false);

      await sessions.revokeToken(jti, new Date(data!.expiresAt!));
      const revoked = await sessions.validateBearerToken(`Bearer ${token}`);
      assert.equal(revoked.error?.type, "TOKEN_REVOKED");
      assert.equal(await sessions.unsealToken(token), null);
      assert.equal(await sessions.isTokenRevoked(jti), true);

      clock.advance(599);
      assert.equal(await sessions.isTokenRevoked(jti), true);
      clock.advance(1);
      assert.equal(await sessions.isTokenRevoked(jti), false);
      const expired = await sessions.validateBearerToken(`Bearer ${token}`);
      assert.equal(expired.error?.type, "TOKEN_EXPIRED");
    },
  );

  await step(
    "refreshBearerToken() revokes the token it replaces",
    async (inner) => {
      const { sessions, clock } = fixture(inner, { tokenTtl: 600 });
      const token = await sessions.sealToken({ did: DID });
      clock.advance(10);
      const fresh = await sessions.refreshBearerToken(`Bearer ${token}`);
      assert.ok(fresh !== null);
      assert.equal(
        (await sessions.validateBearerToken(`Bearer ${fresh}`)).error,
        null,
      );
      assert.equal(
        (await sessions.validateBearerToken(`Bearer ${token}`)).error?.type,
        "TOKEN_REVOKED",
      );
    },
  );

  await step(
    "a failing store fails closed: STORE_UNAVAILABLE, nothing thrown, a warning, then recovery",
    async (inner) => {
      const { sessions, store, login, read, lines } = fixture(inner);
      const cookie = await login();
      const token = await sessions.sealToken({ did: DID });
      const id = (await read(cookie)).data!.sessionId!;

      store.modes = { all: "fail" };
      const down = await read(cookie);
      assert.equal(down.data, null);
      assert.equal(down.error?.type, "STORE_UNAVAILABLE");
      // The cookie is kept: the user is not signed out by an outage.
      assert.equal(down.setCookieHeader, null);
      const bearer = await sessions.validateBearerToken(`Bearer ${token}`);
      assert.equal(bearer.error?.type, "STORE_UNAVAILABLE");
      assert.equal(await sessions.unsealToken(token), null);
      assert.equal(await sessions.refreshBearerToken(`Bearer ${token}`), null);
      const warnings = lines.filter((line) =>
        line.level === "warn" && line.context?.type === "STORE_UNAVAILABLE"
      );
      assert.ok(
        warnings.length >= 4,
        `expected warnings, got ${warnings.length}`,
      );
      assert.ok(
        warnings.every((line) =>
          String(line.context?.error).includes("ECONNREFUSED")
        ),
      );
      const logged = JSON.stringify(lines);
      assert.ok(!logged.includes(token) && !logged.includes(cookie.slice(4)));

      // Management calls throw StoreError, with the store's error as cause.
      for (
        const call of [
          () => sessions.createSession({ did: DID }),
          () => sessions.getSession(id),
          () => sessions.listSessions(DID),
          () => sessions.updateSession(id, { metadata: { scope: "x" } }),
          () => sessions.revokeSession(id),
          () => sessions.revokeAllSessions(DID),
          () => sessions.revokeToken("jti", new Date(T0 + 60_000)),
          () => sessions.isTokenRevoked("jti"),
        ]
      ) {
        await assert.rejects(
          call(),
          (error) =>
            error instanceof StoreError && error.code === "STORE_UNAVAILABLE" &&
            error.cause instanceof Error &&
            error.cause.message.includes("ECONNREFUSED"),
        );
      }

      store.modes = {};
      assert.equal((await read(cookie)).error, null);
      assert.equal(
        (await sessions.validateBearerToken(`Bearer ${token}`)).error,
        null,
      );
      assert.equal((await sessions.listSessions(DID)).length, 2);
    },
  );

  await step(
    "a store refusing only the refresh write serves the live session with its unchanged seal and a warning",
    async (inner) => {
      const { store, login, read, clock, lines } = fixture(inner, {
        refreshAfter: 60,
        sessionTtl: 3600,
      });
      const cookie = await login();
      clock.advance(61);
      store.modes = { updateSession: "fail" };
      store.error = new Error("NOREPLICAS Not enough good replicas to write");
      const result = await read(cookie);
      assert.equal(result.error, null);
      assert.equal(result.data?.did, DID);
      assert.equal(result.data?.lastAccessed, T0);
      // The same seal, with its remaining lifetime.
      assert.equal(cookiePair(result.setCookieHeader!), cookie);
      assert.match(result.setCookieHeader!, /; Max-Age=3539;/);
      assert.ok(
        lines.some((line) =>
          line.level === "warn" &&
          line.message.startsWith("Session refresh could not be written")
        ),
      );
      // The fallback read happens only on the failure path.
      assert.equal(store.calls.getSession, 1);
      store.modes = {};
      const healed = await read(cookie);
      assert.equal(healed.data?.lastAccessed, T0 + 61_000);
      assert.notEqual(cookiePair(healed.setCookieHeader!), cookie);
    },
  );

  await step(
    "a refused refresh write does not serve a session that was revoked",
    async (inner) => {
      const { sessions, store, login, read, clock } = fixture(inner, {
        refreshAfter: 60,
      });
      const cookie = await login();
      const id = (await read(cookie)).data!.sessionId!;
      await sessions.revokeSession(id);
      clock.advance(61);
      store.modes = { updateSession: "fail" };
      const result = await read(cookie);
      assert.equal(result.error?.type, "SESSION_REVOKED");
    },
  );

  await step(
    "a refresh due with a store is one store call, a hot request one read",
    async (inner) => {
      const { store, login, read, clock } = fixture(inner, {
        refreshAfter: 60,
      });
      const cookie = await login();
      const before = store.total;
      assert.equal((await read(cookie)).error, null);
      assert.equal(store.total - before, 1);
      clock.advance(61);
      assert.equal((await read(cookie)).error, null);
      assert.equal(store.total - before, 2);
      assert.equal(store.calls.updateSession, 1);
      assert.equal(store.calls.getSession, 1);
    },
  );
}

function harnessOf(
  factory: { setup(): Promise<StoreHarness> },
): () => Promise<StoreHarness> {
  return () => factory.setup();
}

managerSuite("MemorySessionStore", harnessOf(memoryFactory));
managerSuite("DenoKvSessionStore", harnessOf(denoKvFactory));

Deno.test("store methods on a manager without a store throw ConfigurationError", async () => {
  const sessions = new SessionManager({ cookieSecret: SECRET });
  for (
    const [name, call] of [
      ["getSession", () => sessions.getSession("id")],
      ["listSessions", () => sessions.listSessions(DID)],
      ["updateSession", () => sessions.updateSession("id", {})],
      ["revokeSession", () => sessions.revokeSession("id")],
      ["revokeAllSessions", () => sessions.revokeAllSessions(DID)],
      ["revokeToken", () => sessions.revokeToken("jti", new Date())],
      ["isTokenRevoked", () => sessions.isTokenRevoked("jti")],
    ] as const
  ) {
    await assert.rejects(
      call(),
      (error) =>
        error instanceof ConfigurationError && error.code === "CONFIGURATION" &&
        error.message.startsWith(`${name}() needs a store`),
    );
  }
  // Without a store, sessions and tokens carry no server-side ids.
  const cookie = cookiePair(await sessions.createSession({ did: DID }));
  const { data } = await sessions.getSessionFromRequest(
    requestWithCookie(cookie),
  );
  assert.equal(data?.sessionId, undefined);
});

if (redisAvailable("SessionManager with RedisSessionStore")) {
  managerSuite("RedisSessionStore", harnessOf(redisFactory));

  Deno.test("SessionManager with Redis fails closed while redis-server is down and recovers with no session lost", async () => {
    const server = await startRedisServer({ persistent: true });
    const client = createClient({
      url: server.url,
      // Fail fast while disconnected instead of queueing commands until
      // Redis returns; reconnect every 50 ms.
      disableOfflineQueue: true,
      socket: { reconnectStrategy: () => 50, connectTimeout: 1000 },
    });
    client.on("error", () => {});
    await client.connect();
    try {
      const { sessions, login, read, clock, lines } = fixture(
        new RedisSessionStore({ command: (args) => client.sendCommand(args) }),
      );
      const cookies: string[] = [];
      for (let i = 0; i < 3; i++) {
        cookies.push(await login(DID, { userAgent: `device ${i}` }));
        clock.advance(1);
      }
      const token = await sessions.sealToken({ did: DID });
      const { data } = await sessions.validateBearerToken(`Bearer ${token}`);
      await sessions.revokeSession(data!.sessionId!);

      await server.stop();
      for (let attempt = 0; attempt < 3; attempt++) {
        const started = performance.now();
        const down = await read(cookies[0]!);
        const elapsed = performance.now() - started;
        assert.equal(down.error?.type, "STORE_UNAVAILABLE");
        assert.ok(elapsed < 1000, `answered in ${elapsed.toFixed(0)} ms`);
        assert.equal(
          (await sessions.validateBearerToken(`Bearer ${token}`)).error?.type,
          "STORE_UNAVAILABLE",
        );
      }
      assert.ok(
        lines.some((line) =>
          line.level === "warn" && line.context?.type === "STORE_UNAVAILABLE"
        ),
      );
      await assert.rejects(sessions.listSessions(DID), StoreError);

      await server.start();
      const deadline = Date.now() + 10_000;
      let result = await read(cookies[0]!);
      while (
        result.error?.type === "STORE_UNAVAILABLE" && Date.now() < deadline
      ) {
        await sleep(50);
        result = await read(cookies[0]!);
      }
      assert.equal(result.error, null, "recovered after the restart");
      for (const cookie of cookies) {
        assert.equal((await read(cookie)).error, null);
      }
      const listed = await sessions.listSessions(DID);
      assert.deepEqual(listed.map((r) => r.metadata.userAgent), [
        "device 2",
        "device 1",
        "device 0",
      ]);
      assert.equal(
        (await sessions.validateBearerToken(`Bearer ${token}`)).error?.type,
        "TOKEN_REVOKED",
      );
    } finally {
      if (client.isOpen) await client.disconnect();
      await server.close();
    }
  });
}
