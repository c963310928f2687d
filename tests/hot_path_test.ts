import assert from "node:assert/strict";
import { findCookieValues, findFirstCookieValue } from "../src/_cookie.ts";
import { hasBearerScheme } from "../src/_bearer.ts";
import { SessionManager } from "../src/session_manager.ts";
import {
  cookiePair,
  cookieValue,
  DID,
  requestWithCookie,
  SECRET,
  TestClock,
} from "./_fixtures.ts";
import { countingVerifications } from "./_crypto_counting.ts";
import { fixture, memoryFactory } from "./_manager_fixtures.ts";
import type { SessionRecord } from "../src/store.ts";

const OTHER_DID = "did:web:other.example.com";

/** A seeded PRNG (mulberry32), so a failure reproduces from its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("findFirstCookieValue() returns what findCookieValues(header, name, 1) does (seeded property)", () => {
  const seed = Number(Deno.env.get("SEED") ?? 13);
  const next = random(seed);
  const pieces = [
    "sid",
    "xsid",
    "sidx",
    "__Host-sid",
    "=",
    ";",
    "; ",
    " ",
    "\t",
    '"',
    "%2A",
    "a",
    "Fe26.2*1*ab",
    "sid=",
    "sid =",
  ];
  for (const name of ["sid", "__Host-sid", "s"]) {
    for (let i = 0; i < 20_000; i++) {
      let header = "";
      const length = Math.floor(next() * 12);
      for (let j = 0; j < length; j++) {
        header += pieces[Math.floor(next() * pieces.length)];
      }
      const expected = findCookieValues(header, name, 1)[0] ?? null;
      assert.equal(
        findFirstCookieValue(header, name),
        expected,
        `seed ${seed}, name ${name}, header ${JSON.stringify(header)}`,
      );
    }
  }
  assert.equal(findFirstCookieValue(null, "sid"), null);
  assert.equal(findFirstCookieValue("", "sid"), null);
});

Deno.test("findFirstCookieValue() is linear on hostile headers", () => {
  const header = "sid".repeat(100_000) + " ".repeat(100_000) + "sid=ok";
  assert.equal(findFirstCookieValue(header, "sid"), null);
  assert.equal(
    findFirstCookieValue(`a=b; ${"sid ".repeat(50_000)}`, "sid"),
    null,
  );
  assert.equal(findFirstCookieValue('a=1; sid = "v" ; b=2', "sid"), "v");
});

Deno.test("hasBearerScheme() accepts the scheme in any case with one space, and nothing else", () => {
  for (const header of ["Bearer x", "bearer x", "BEARER x", "bEaReR x"]) {
    assert.equal(hasBearerScheme(header), true, header);
  }
  for (
    const header of [
      null,
      undefined,
      "",
      "Bearer ",
      "Bearer",
      "Basic xx",
      "Bearer\tx",
      "Bearerx y",
      "Bearer " + "a".repeat(9000),
    ]
  ) {
    assert.equal(hasBearerScheme(header), false, String(header));
  }
});

Deno.test("getSessionFromRequest() cached payloads stay immutable: changing a result changes nothing later requests see", async (t) => {
  const clock = new TestClock();
  const sessions = new SessionManager<{
    handle: string;
    prefs?: { theme: string };
    tags?: string[];
  }>({ cookieSecret: SECRET, now: clock.now });
  for (
    const [label, input] of [
      ["flat data", { did: DID, handle: "alice.example.com" }],
      [
        "nested data",
        {
          did: DID,
          handle: "alice.example.com",
          prefs: { theme: "dark" },
          tags: ["a"],
        },
      ],
    ] as const
  ) {
    await t.step(label, async () => {
      const source = structuredClone(input) as {
        did: string;
        handle: string;
        prefs?: { theme: string };
        tags?: string[];
      };
      const cookie = cookiePair(await sessions.createSession(source));
      // Changing the input after createSession does not reach the cache.
      source.handle = "changed";
      if (source.prefs) source.prefs.theme = "changed";
      const first = await sessions.getSessionFromRequest(
        requestWithCookie(cookie),
      );
      assert.equal(first.data?.handle, "alice.example.com");
      const data = first.data!;
      data.handle = "mallory";
      (data as { did: string }).did = OTHER_DID;
      data.lastAccessed = 0;
      if (data.prefs) data.prefs.theme = "light";
      data.tags?.push("b");
      const second = await sessions.getSessionFromRequest(
        requestWithCookie(cookie),
      );
      assert.notEqual(second.data, first.data);
      assert.deepEqual(second.data, {
        ...structuredClone(input),
        createdAt: clock.time,
        lastAccessed: clock.time,
        authenticatedAt: clock.time,
      });
    });
  }
});

Deno.test("validateBearerToken() cached payloads stay immutable", async () => {
  const sessions = new SessionManager<{ prefs: { theme: string } }>({
    cookieSecret: SECRET,
  });
  const token = await sessions.sealToken({
    did: DID,
    prefs: { theme: "dark" },
  });
  const first = await sessions.validateBearerToken(`Bearer ${token}`);
  first.data!.prefs.theme = "light";
  (first.data as { did: string }).did = OTHER_DID;
  delete first.data!.expiresAt;
  const second = await sessions.validateBearerToken(`Bearer ${token}`);
  assert.equal(second.data?.prefs.theme, "dark");
  assert.equal(second.data?.did, DID);
  assert.equal(typeof second.data?.expiresAt, "number");
});

Deno.test("validateBearerToken() hot path: a cached token in any scheme case is answered without cryptography; the alphabet still guards misses", async () => {
  const sessions = new SessionManager({ cookieSecret: SECRET });
  const token = await sessions.sealToken({ did: DID });
  const cookie = cookiePair(await sessions.createSession({ did: DID }));
  const verifications = await countingVerifications(async () => {
    for (const scheme of ["Bearer", "bearer", "BEARER"]) {
      const result = await sessions.validateBearerToken(`${scheme} ${token}`);
      assert.equal(result.error, null, scheme);
    }
  });
  assert.equal(verifications, 0);
  // A cached cookie seal is still not a Bearer token.
  const asToken = await sessions.validateBearerToken(
    `Bearer ${cookie.slice(4)}`,
  );
  assert.equal(asToken.error?.type, "INVALID_TOKEN");
  for (
    const header of [
      `Bearer  ${token}`,
      `Bearer ${token} `,
      `Bearer ${token}"`,
      `Bearer ${token},x`,
      `Basic ${token}`,
    ]
  ) {
    const result = await sessions.validateBearerToken(header);
    assert.equal(
      result.error?.type,
      "INVALID_TOKEN",
      JSON.stringify(header.slice(-3)),
    );
  }
});

Deno.test("getSessionFromRequest() hot path keeps the cookie-tossing rules: a cached first cookie that fails lets a later valid one win", async (t) => {
  await t.step("revoked first (with a store)", async () => {
    const harness = await memoryFactory.setup();
    const f = fixture(await harness.create());
    const revoked = await f.login();
    const id = (await f.read(revoked)).data!.sessionId!;
    await f.sessions.revokeSession(id);
    const valid = await f.login(OTHER_DID);
    const result = await f.read(`${revoked}; ${valid}`);
    assert.equal(result.error, null);
    assert.equal(result.data?.did, OTHER_DID);
    await harness.close();
  });
  await t.step("expired first", async () => {
    const clock = new TestClock();
    const short = new SessionManager({
      cookieSecret: SECRET,
      now: clock.now,
      sessionTtl: 10,
      refreshAfter: 5,
    });
    const expired = cookiePair(await short.createSession({ did: DID }));
    clock.advance(11);
    const valid = cookiePair(await short.createSession({ did: OTHER_DID }));
    const result = await short.getSessionFromRequest(
      requestWithCookie(`${expired}; ${valid}`),
    );
    assert.equal(result.error, null);
    assert.equal(result.data?.did, OTHER_DID);
    assert.equal(cookieValue(result.setCookieHeader!), valid.slice(4));
  });
  await t.step("a cached Bearer token as the first cookie", async () => {
    const sessions = new SessionManager({ cookieSecret: SECRET });
    const token = await sessions.sealToken({ did: DID });
    const valid = cookiePair(await sessions.createSession({ did: OTHER_DID }));
    const result = await sessions.getSessionFromRequest(
      requestWithCookie(`sid=${token}; ${valid}`),
    );
    assert.equal(result.data?.did, OTHER_DID);
  });
});

Deno.test("getSessionFromRequest() hot path with a store reads the record on every request", async () => {
  const harness = await memoryFactory.setup();
  const f = fixture(await harness.create());
  const cookie = await f.login();
  const reads = f.store.calls.getSession ?? 0;
  for (let i = 0; i < 3; i++) assert.equal((await f.read(cookie)).error, null);
  assert.equal(f.store.calls.getSession, reads + 3);
  await f.sessions.revokeAllSessions(DID);
  assert.equal((await f.read(cookie)).error?.type, "SESSION_REVOKED");
  await harness.close();
});

Deno.test("getSessionFromRequest() hot path answers a cached cookie with an already-settled promise and the same seal", async () => {
  const clock = new TestClock();
  const sessions = new SessionManager({ cookieSecret: SECRET, now: clock.now });
  const setCookie = await sessions.createSession({ did: DID });
  clock.advance(10);
  const pending = sessions.getSessionFromRequest(
    requestWithCookie(cookiePair(setCookie)),
  );
  // Settled before any macrotask: no nested awaits on the hot path.
  let settled = false;
  pending.then(() => settled = true);
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(settled, true);
  const result = await pending;
  assert.equal(cookieValue(result.setCookieHeader!), cookieValue(setCookie));
  assert.match(result.setCookieHeader!, /Max-Age=604790;/);
});

Deno.test("getSessionFromRequest() hot path with a store fails closed on the store's answer: another DID or kind is revoked, a throw or a hang keeps the cookie", async (t) => {
  const harness = await memoryFactory.setup();
  const inner = await harness.create();
  const f = fixture(inner, { storeTimeout: 20 });
  const cookie = await f.login();
  assert.equal((await f.read(cookie)).error, null, "cached and live");
  const real = inner.getSession.bind(inner);
  const answer = (
    change: (record: SessionRecord) => SessionRecord,
  ) =>
  async (id: string, now: number) => {
    const record = await real(id, now);
    return record === null ? null : change(record);
  };
  await t.step("a record of another DID", async () => {
    inner.getSession = answer((record) => ({ ...record, did: OTHER_DID }));
    const result = await f.read(cookie);
    assert.equal(result.error?.type, "SESSION_REVOKED");
    assert.match(result.setCookieHeader!, /Max-Age=0/);
  });
  await t.step("a Bearer token's record", async () => {
    inner.getSession = answer((record) => ({ ...record, kind: "token" }));
    assert.equal((await f.read(cookie)).error?.type, "SESSION_REVOKED");
  });
  await t.step("a synchronous throw", async () => {
    inner.getSession = () => {
      throw new Error("bug in the store");
    };
    const result = await f.read(cookie);
    assert.equal(result.error?.type, "STORE_UNAVAILABLE");
    assert.equal(result.setCookieHeader, null, "the cookie is kept");
  });
  await t.step("no answer within storeTimeout", async () => {
    inner.getSession = () => new Promise(() => {});
    const result = await f.read(cookie);
    assert.equal(result.error?.type, "STORE_UNAVAILABLE");
    assert.equal(result.setCookieHeader, null);
  });
  inner.getSession = real;
  assert.equal((await f.read(cookie)).error, null, "served again");
  await harness.close();
});

Deno.test("getSessionFromRequest() hot path's Set-Cookie line follows the clock, with and without a store", async (t) => {
  for (const withStore of [false, true]) {
    await t.step(withStore ? "with a store" : "without a store", async () => {
      const clock = new TestClock();
      const harness = await memoryFactory.setup();
      const sessions = new SessionManager({
        cookieSecret: SECRET,
        now: clock.now,
        ...(withStore ? { store: await harness.create() } : {}),
      });
      const setCookie = await sessions.createSession({ did: DID });
      const request = requestWithCookie(cookiePair(setCookie));
      const maxAge = async () =>
        (await sessions.getSessionFromRequest(request)).setCookieHeader!
          .match(/Max-Age=(\d+);/)![1];
      clock.advance(10);
      assert.equal(await maxAge(), "604790");
      clock.time += 500;
      assert.equal(await maxAge(), "604789", "half a second later");
      clock.time += 400;
      assert.equal(await maxAge(), "604789", "in the same second");
      clock.time += 100;
      assert.equal(await maxAge(), "604789", "to the millisecond");
      clock.time += 1;
      assert.equal(await maxAge(), "604788", "a millisecond more");
      clock.advance(40);
      assert.equal(await maxAge(), "604748");
      const other = await sessions.createSession({ did: DID });
      const line = (await sessions.getSessionFromRequest(
        requestWithCookie(cookiePair(other)),
      )).setCookieHeader!;
      assert.equal(cookieValue(line), cookieValue(other), "each seal its own");
      await harness.close();
    });
  }
});
