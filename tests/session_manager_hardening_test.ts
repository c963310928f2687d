/**
 * Issue 8 (hardening), manager side: each test names the item it proves.
 */
import assert from "node:assert/strict";
import Iron from "npm:@hapi/iron@7.0.1";
import { SealKeyring } from "../src/_seal.ts";
import { StoreTimeoutError } from "../src/_store_calls.ts";
import {
  ConfigurationError,
  SessionsError,
  StoreError,
} from "../src/errors.ts";
import type { Logger } from "../src/logger.ts";
import { SessionManager } from "../src/session_manager.ts";
import { MemorySessionStore } from "../src/stores/memory.ts";
import type { SessionManagerOptions } from "../src/options.ts";
import {
  cookiePair,
  cookieValue,
  DID,
  requestWithCookie,
  SECRET,
  T0,
  TestClock,
} from "./_fixtures.ts";
import { fixture } from "./_manager_fixtures.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function manager(options: Partial<SessionManagerOptions> = {}): SessionManager {
  return new SessionManager({ cookieSecret: SECRET, ...options });
}

// ---- item 2: storeTimeout --------------------------------------------------

Deno.test("storeTimeout: a store that never answers yields STORE_UNAVAILABLE on the request path and StoreError on management calls", async () => {
  const { sessions, store, login, read, bearer, refresh } = fixture(
    new MemorySessionStore(),
    { storeTimeout: 30, refreshAfter: 60 },
  );
  const cookie = await login();
  const token = await sessions.sealToken({ did: DID });
  store.modes = { all: "hang" };
  const down = await read(cookie);
  assert.equal(down.error?.type, "STORE_UNAVAILABLE");
  assert.equal(down.setCookieHeader, null, "the cookie is kept");
  assert.equal((await bearer(token)).error?.type, "STORE_UNAVAILABLE");
  assert.equal(await refresh(token), null);
  for (
    const call of [
      () => sessions.createSession({ did: DID }),
      () => sessions.sealToken({ did: DID }),
      () => sessions.listSessions(DID),
      () => sessions.getSession("id"),
      () => sessions.revokeSession("id"),
      () => sessions.revokeAllSessions(DID),
      () => sessions.isTokenRevoked("jti"),
    ]
  ) {
    await assert.rejects(
      call(),
      (error) =>
        error instanceof StoreError &&
        error.cause instanceof StoreTimeoutError &&
        /within 30 ms/.test(error.message),
    );
  }
  store.modes = {};
  assert.equal((await read(cookie)).error, null);
});

Deno.test("storeTimeout: a rejection that arrives after the deadline is swallowed and no timer is left", async () => {
  const { store, login, read } = fixture(new MemorySessionStore(), {
    storeTimeout: 10,
  });
  const cookie = await login();
  store.modes = { getSession: "late-fail" };
  store.lateMs = 40;
  assert.equal((await read(cookie)).error?.type, "STORE_UNAVAILABLE");
  // The late rejection lands here; Deno's sanitizers fail the test on an
  // unhandled rejection or a timer still pending at the end.
  await Promise.all(store.pending);
  await sleep(5);
});

Deno.test("storeTimeout: the default is 5000 ms, and a bad value is a ConfigurationError", () => {
  for (const storeTimeout of [0, -1, 1.5, NaN, 600_001]) {
    assert.throws(
      () => manager({ store: new MemorySessionStore(), storeTimeout }),
      /storeTimeout must be an integer of milliseconds from 1 to 600000/,
    );
  }
});

// ---- item 4: a throwing logger ---------------------------------------------

Deno.test("a logger that throws or rejects never changes a result or escapes", async () => {
  const broken = new Error("BrokenPipe: Broken pipe (os error 32)");
  const throwing: Logger = {
    debug: () => {
      throw broken;
    },
    info: () => {
      throw broken;
    },
    warn: () => {
      throw broken;
    },
    error: () => {
      throw broken;
    },
  };
  const rejecting = {
    debug: () => Promise.reject(broken),
    info: () => Promise.reject(broken),
    warn: () => Promise.reject(broken),
    error: () => Promise.reject(broken),
  } as unknown as Logger;
  for (const logger of [throwing, rejecting]) {
    const { sessions, store, login, read, bearer, refresh, clock } = fixture(
      new MemorySessionStore(),
      { logger, refreshAfter: 60, maxSessionsPerUser: 1 },
    );
    const cookie = await login(); // logs "Session created"
    assert.equal((await read(cookie)).error, null);
    assert.equal((await read("sid=junk")).error?.type, "INVALID_COOKIE");
    assert.equal((await read("sid=")).error?.type, "INVALID_COOKIE");
    const token = await sessions.sealToken({ did: DID }); // evicts: logs
    assert.equal((await read(cookie)).error?.type, "SESSION_REVOKED");
    assert.equal((await bearer(token)).error, null);
    clock.advance(61);
    const fresh = await refresh(token);
    assert.ok(fresh !== null);
    store.modes = { all: "fail" }; // logs warnings
    assert.equal((await bearer(fresh)).error?.type, "STORE_UNAVAILABLE");
    await assert.rejects(sessions.listSessions(DID), StoreError);
    store.modes = {};
    assert.equal(await sessions.revokeAllSessions(DID), 1);
  }
});

// ---- item 5: the cap never evicts the session being created ----------------

Deno.test("maxSessionsPerUser: 1 never evicts the session being created, even with an older createdAt", async () => {
  const { sessions, read } = fixture(new MemorySessionStore(), {
    maxSessionsPerUser: 1,
  });
  const first = cookiePair(await sessions.createSession({ did: DID }));
  // A second server whose clock is behind, or an explicit older createdAt.
  const second = cookiePair(
    await sessions.createSession({ did: DID, createdAt: T0 - 5_000 }),
  );
  assert.equal((await read(second)).error, null);
  assert.equal((await read(first)).error?.type, "SESSION_REVOKED");
  assert.equal((await sessions.listSessions(DID)).length, 1);
});

// ---- item 6: a lost reply after a successful create -------------------------

Deno.test("createSession(): a reply lost after the store wrote the record removes the record before throwing StoreError", async () => {
  for (const mode of ["write-then-fail", "write-then-hang"] as const) {
    const { sessions, store, lines } = fixture(new MemorySessionStore(), {
      storeTimeout: 30,
    });
    store.modes = { createSession: mode };
    await assert.rejects(sessions.createSession({ did: DID }), StoreError);
    await assert.rejects(sessions.sealToken({ did: DID }), StoreError);
    store.modes = {};
    assert.deepEqual(await sessions.listSessions(DID), [], mode);
    assert.ok(
      lines.some((line) =>
        line.message === "Removed a session whose creation reply was lost"
      ),
    );
  }
});

// ---- item 7: configured TTLs bound every seal -------------------------------

Deno.test("lowering sessionTtl or tokenTtl shortens seals already issued", async () => {
  const clock = new TestClock();
  const before = manager({ now: clock.now, sessionTtl: 7 * 86400 });
  const cookie = cookiePair(await before.createSession({ did: DID }));
  const token = await before.sealToken({ did: DID });
  clock.advance(2 * 86400); // idle two days
  const after = manager({
    now: clock.now,
    sessionTtl: 86400,
    tokenTtl: 86400,
  });
  const read = await after.getSessionFromRequest(requestWithCookie(cookie));
  assert.equal(read.error?.type, "SESSION_EXPIRED");
  assert.equal(
    (await after.validateBearerToken(`Bearer ${token}`)).error?.type,
    "TOKEN_EXPIRED",
  );
  assert.equal(await after.refreshBearerToken(`Bearer ${token}`), null);
  // Idle half a day: accepted, but the remaining lifetime is the new TTL's.
  clock.time = T0;
  const young = cookiePair(await before.createSession({ did: DID }));
  clock.advance(43_200);
  const kept = await after.getSessionFromRequest(requestWithCookie(young));
  assert.equal(kept.error, null);
  assert.ok(/; Max-Age=86400;/.test(kept.setCookieHeader!)); // re-sealed now
});

// ---- item 8: seals with neither expiration nor timestamps -------------------

Deno.test("a seal with no expiration and no timestamps is refused, as a cookie and as a token", async () => {
  const bare = await Iron.seal({ did: DID }, SECRET, Iron.defaults); // ttl 0
  const sessions = manager();
  const asCookie = await sessions.getSessionFromRequest(
    requestWithCookie(`sid=${bare}`),
  );
  assert.equal(asCookie.data, null);
  const asToken = await sessions.validateBearerToken(`Bearer ${bare}`);
  assert.equal(asToken.error?.type, "TOKEN_EXPIRED");
  // With timestamps but no expiration: bounded by lastAccessed + the TTL.
  const now = Date.now();
  const stamped = await Iron.seal(
    {
      did: DID,
      createdAt: now - 8 * 86_400_000,
      lastAccessed: now - 8 * 86_400_000,
    },
    SECRET,
    Iron.defaults,
  );
  const old = await sessions.getSessionFromRequest(
    requestWithCookie(`sid=${stamped}`),
  );
  assert.equal(old.error?.type, "SESSION_EXPIRED");
});

// ---- item 9: a broken clock fails closed; the default clock is live ---------

Deno.test("a clock returning NaN or Infinity fails closed and never writes Max-Age=NaN", async () => {
  const good = manager();
  const cookie = cookiePair(await good.createSession({ did: DID }));
  const token = await good.sealToken({ did: DID });
  for (const value of [NaN, Infinity, -Infinity]) {
    const broken = manager({ now: () => value });
    const read = await broken.getSessionFromRequest(requestWithCookie(cookie));
    assert.equal(read.data, null);
    assert.ok(!String(read.setCookieHeader).includes("NaN"));
    assert.equal(
      (await broken.validateBearerToken(`Bearer ${token}`)).data,
      null,
    );
    assert.equal(await broken.refreshBearerToken(`Bearer ${token}`), null);
    await assert.rejects(
      broken.createSession({ did: DID }),
      (error) =>
        error instanceof ConfigurationError &&
        /now option returned/.test(error.message),
    );
    await assert.rejects(broken.sealToken({ did: DID }), ConfigurationError);
  }
});

Deno.test("the default clock reads Date.now() at each call, so faked time applies", async () => {
  const sessions = manager({ sessionTtl: 3600 });
  const realNow = Date.now;
  const start = realNow();
  try {
    Date.now = () => start;
    const cookie = cookiePair(await sessions.createSession({ did: DID }));
    Date.now = () => start + 3601_000;
    const read = await sessions.getSessionFromRequest(
      requestWithCookie(cookie),
    );
    assert.equal(read.error?.type, "SESSION_EXPIRED");
  } finally {
    Date.now = realNow;
  }
});

// ---- item 10: cookie tossing -----------------------------------------------

Deno.test("getSessionFromRequest(): junk cookies tossed before the real one cost nothing and the real one wins", async () => {
  const sessions = manager({ cacheSize: 0 });
  const real = cookieValue(await sessions.createSession({ did: DID }));
  const junk = Array.from({ length: 50 }, (_, i) => `sid=x${i}`).join("; ");
  const result = await sessions.getSessionFromRequest(
    requestWithCookie(`${junk}; sid=${real}`),
  );
  assert.equal(result.error, null);
  assert.equal(result.data?.did, DID);
});

Deno.test("getSessionFromRequest(): seal-shaped junk counts against the bound, a cached real cookie is free, and untried candidates keep the cookie", async () => {
  const keyring = new SealKeyring("a-third-secret-of-at-least-32-characters");
  const junk: string[] = [];
  for (let i = 0; i < 3; i++) {
    junk.push(`sid=${await keyring.seal({ did: DID }, 60_000, Date.now())}`);
  }
  const cached = manager();
  const real = cookieValue(await cached.createSession({ did: DID }));
  const header = `${junk.join("; ")}; sid=${real}`;
  const hit = await cached.getSessionFromRequest(requestWithCookie(header));
  assert.equal(hit.data?.did, DID, "the cached real cookie costs nothing");

  const uncached = manager({ cacheSize: 0 });
  const miss = await uncached.getSessionFromRequest(requestWithCookie(header));
  assert.equal(miss.data, null);
  assert.equal(miss.error?.type, "TAMPERED");
  assert.equal(miss.setCookieHeader, null, "an untried cookie is not cleared");
});

// ---- item 11: a cookie is never a token, a token never a cookie ------------

Deno.test("the kind is inside the MAC: a cookie is never a Bearer token and a token never a cookie, with or without a store", async () => {
  for (const store of [undefined, new MemorySessionStore()]) {
    const sessions = manager(store === undefined ? {} : { store });
    const cookie = cookieValue(await sessions.createSession({ did: DID }));
    const token = await sessions.sealToken({ did: DID });
    const asToken = await sessions.validateBearerToken(`Bearer ${cookie}`);
    assert.equal(asToken.error?.type, "INVALID_TOKEN");
    assert.equal(await sessions.refreshBearerToken(`Bearer ${cookie}`), null);
    assert.equal(await sessions.unsealToken(cookie), null);
    const asCookie = await sessions.getSessionFromRequest(
      requestWithCookie(`sid=${token}`),
    );
    assert.equal(asCookie.error?.type, "INVALID_COOKIE");
  }
});

Deno.test("seals from the original package and from 0.1 keep the role they were issued for", async () => {
  const keyring = new SealKeyring(SECRET);
  const now = Date.now();
  const seal = (payload: unknown) => keyring.seal(payload, 3600_000, now);
  const sessions = manager();
  const cases: [string, unknown, "cookie" | "token"][] = [
    [
      "original cookie",
      { did: DID, createdAt: now, lastAccessed: now },
      "cookie",
    ],
    ["original token", { did: DID }, "token"],
    ["0.1 cookie", {
      did: DID,
      createdAt: now,
      lastAccessed: now,
      sessionId: "s",
    }, "cookie"],
    [
      "0.1 token",
      { did: DID, createdAt: now, lastAccessed: now, jti: "j" },
      "token",
    ],
  ];
  for (const [name, payload, role] of cases) {
    const value = await seal(payload);
    const asCookie = await sessions.getSessionFromRequest(
      requestWithCookie(`sid=${value}`),
    );
    const asToken = await sessions.validateBearerToken(`Bearer ${value}`);
    assert.equal(asCookie.error === null, role === "cookie", name);
    assert.equal(asToken.error === null, role === "token", name);
  }
});

// ---- item 12: no error message contains a secret ----------------------------

Deno.test("no ConfigurationError message contains what was passed, in any option position (property, seeded)", () => {
  const seed = Number(Deno.env.get("SEED") ?? Date.now() % 100_000);
  let state = seed;
  const random = () =>
    (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const marker = (): string => {
    const alphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789;= _-\"'/";
    let text = "MARK";
    const length = 4 + Math.floor(random() * 40);
    for (let i = 0; i < length; i++) {
      text += alphabet[Math.floor(random() * alphabet.length)];
    }
    return text;
  };
  // Positions where a random marker is sometimes a valid value (a long
  // enough secret, a token-shaped cookie name, a path, a domain): those need not throw.
  const sometimesValid: ((m: string) => unknown)[] = [
    (m) => ({ cookieSecret: m }),
    (m) => ({ cookieSecret: { "1": m } }),
    (m) => ({ cookieSecret: SECRET, cookieName: m }),
    (m) => ({ cookieSecret: SECRET, cookie: { path: `/${m}` } }),
    (m) => ({ cookieSecret: SECRET, cookie: { domain: m } }),
  ];
  const alwaysInvalid: ((m: string) => unknown)[] = [
    (m) => m,
    (m) => ({ cookieSecret: { [m]: SECRET } }),
    (m) => ({ cookieSecret: SECRET, cookie: m }),
    (m) => ({ cookieSecret: SECRET, cookie: { path: m } }),
    (m) => ({ cookieSecret: SECRET, cookie: { sameSite: m } }),
    (m) => ({ cookieSecret: SECRET, cookie: { secure: m } }),
    (m) => ({ cookieSecret: SECRET, cookie: { httpOnly: m } }),
    (m) => ({ cookieSecret: SECRET, cookie: { partitioned: m } }),
    (m) => ({
      cookieSecret: SECRET,
      cookieName: `__Host-${m.replace(/\W/g, "")}`,
      cookie: { path: "/x" },
    }),
    ...[
      "sessionTtl",
      "tokenTtl",
      "maxSessionAge",
      "clockSkew",
      "refreshAfter",
      "cacheSize",
      "logger",
      "store",
      "maxSessionsPerUser",
      "now",
      "generateId",
      "storeTimeout",
      "tokenReuseGrace",
      "oauthTimeout",
      "handoffTtl",
      "trustedOrigins",
      "onEvent",
    ].map((key) => (m: string) => ({ cookieSecret: SECRET, [key]: m })),
    (m) => ({ cookieSecret: SECRET, trustedOrigins: [m] }),
    (m) => ({ cookieSecret: SECRET, logger: { debug: m } }),
    (m) => ({ cookieSecret: SECRET, store: { getSession: m } }),
  ];
  const tryPosition = (position: (m: string) => unknown): boolean => {
    const secret = marker();
    try {
      new SessionManager(position(secret) as SessionManagerOptions);
      return false;
    } catch (error) {
      assert.ok(error instanceof SessionsError, `seed ${seed}`);
      assert.ok(
        !error.message.includes(secret) && !error.message.includes("MARK"),
        `seed ${seed}: ${error.message}`,
      );
      return true;
    }
  };
  for (let run = 0; run < 20; run++) {
    for (const [index, position] of alwaysInvalid.entries()) {
      assert.ok(tryPosition(position), `seed ${seed}: position ${index} threw`);
    }
    for (const position of sometimesValid) tryPosition(position);
  }
});
