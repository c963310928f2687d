import assert from "node:assert/strict";
import { SessionManager } from "../src/session_manager.ts";
import type { SessionManagerOptions } from "../src/options.ts";
import {
  cookiePair,
  cookieValue,
  DID,
  OTHER_SECRET,
  requestWithCookie,
  SECRET,
  T0,
  TestClock,
} from "./_fixtures.ts";

/** Counts HMAC verifications (each full unseal does one) while `body` runs. */
async function countingVerifications(
  body: () => Promise<void>,
): Promise<number> {
  const subtle = crypto.subtle as SubtleCrypto & {
    verify: SubtleCrypto["verify"];
  };
  const original = subtle.verify;
  let count = 0;
  subtle.verify = function (...args: Parameters<SubtleCrypto["verify"]>) {
    count++;
    return original.apply(this, args);
  };
  try {
    await body();
  } finally {
    delete (subtle as Partial<SubtleCrypto>).verify;
  }
  assert.equal(crypto.subtle.verify, original);
  return count;
}

/** Counts seals made (each does one AES encryption) while `body` runs. */
async function countingSeals(body: () => Promise<void>): Promise<number> {
  const subtle = crypto.subtle as SubtleCrypto & {
    encrypt: SubtleCrypto["encrypt"];
  };
  const original = subtle.encrypt;
  let count = 0;
  subtle.encrypt = function (...args: Parameters<SubtleCrypto["encrypt"]>) {
    count++;
    return original.apply(this, args);
  };
  try {
    await body();
  } finally {
    delete (subtle as Partial<SubtleCrypto>).encrypt;
  }
  return count;
}

function pair(clock: TestClock, options: Partial<SessionManagerOptions> = {}) {
  const settings = { cookieSecret: SECRET, now: clock.now, ...options };
  // The minter seals cookies; the reader has never seen them (a cold cache).
  return {
    minter: new SessionManager(settings),
    reader: new SessionManager(settings),
  };
}

Deno.test("verified-seal cache: a hit skips all cryptography", async () => {
  const clock = new TestClock();
  const { minter, reader } = pair(clock);
  const cookie = cookiePair(await minter.createSession({ did: DID }));
  assert.equal(
    await countingVerifications(() =>
      reader.getSessionFromRequest(requestWithCookie(cookie)).then(() => {})
    ),
    1,
  );
  assert.equal(
    await countingVerifications(async () => {
      for (let i = 0; i < 10; i++) {
        const result = await reader.getSessionFromRequest(
          requestWithCookie(cookie),
        );
        assert.equal(result.data?.did, DID);
      }
    }),
    0,
  );
});

Deno.test("verified-seal cache: a session this manager created is a hit on its first request", async () => {
  const clock = new TestClock();
  const sessions = new SessionManager({ cookieSecret: SECRET, now: clock.now });
  const cookie = cookiePair(await sessions.createSession({ did: DID }));
  assert.equal(
    await countingVerifications(() =>
      sessions.getSessionFromRequest(requestWithCookie(cookie)).then(() => {})
    ),
    0,
  );
});

Deno.test("verified-seal cache: a hit on an expired seal is rejected", async () => {
  const clock = new TestClock();
  const sessions = new SessionManager({
    cookieSecret: SECRET,
    now: clock.now,
    sessionTtl: 60,
    refreshAfter: 30,
  });
  const cookie = cookiePair(await sessions.createSession({ did: DID }));
  clock.advance(60);
  const result = await sessions.getSessionFromRequest(
    requestWithCookie(cookie),
  );
  assert.equal(result.error?.type, "SESSION_EXPIRED");
});

Deno.test("verified-seal cache: a hit still enforces maxSessionAge", async () => {
  const clock = new TestClock();
  const sessions = new SessionManager({
    cookieSecret: SECRET,
    now: clock.now,
    sessionTtl: 3600,
    refreshAfter: 3000,
    maxSessionAge: 100,
  });
  const cookie = cookiePair(await sessions.createSession({ did: DID }));
  clock.advance(99);
  assert.equal(
    (await sessions.getSessionFromRequest(requestWithCookie(cookie))).data?.did,
    DID,
  );
  clock.advance(1);
  assert.equal(
    (await sessions.getSessionFromRequest(requestWithCookie(cookie))).error
      ?.type,
    "SESSION_EXPIRED",
  );
});

Deno.test("verified-seal cache: a tampered seal never enters it", async () => {
  const clock = new TestClock();
  const sessions = new SessionManager({ cookieSecret: SECRET, now: clock.now });
  const foreign = cookiePair(
    await new SessionManager({ cookieSecret: OTHER_SECRET, now: clock.now })
      .createSession({ did: DID }),
  );
  const verifications = await countingVerifications(async () => {
    for (let i = 0; i < 3; i++) {
      const result = await sessions.getSessionFromRequest(
        requestWithCookie(foreign),
      );
      assert.equal(result.error?.type, "TAMPERED");
    }
  });
  assert.equal(verifications, 3);
});

Deno.test("verified-seal cache: evicts at its bound, and 0 disables it", async () => {
  const clock = new TestClock();
  const { minter, reader } = pair(clock, { cacheSize: 2 });
  const cookies = await Promise.all(
    [1, 2, 3].map(async () =>
      cookiePair(await minter.createSession({ did: DID }))
    ),
  );
  const read = (cookie: string) =>
    reader.getSessionFromRequest(requestWithCookie(cookie)).then(() => {});
  assert.equal(
    await countingVerifications(async () => {
      for (const cookie of cookies) await read(cookie);
    }),
    3,
  );
  // The first was evicted by the third; the last two are still cached.
  assert.equal(await countingVerifications(() => read(cookies[2]!)), 0);
  assert.equal(await countingVerifications(() => read(cookies[1]!)), 0);
  assert.equal(await countingVerifications(() => read(cookies[0]!)), 1);

  const uncached = new SessionManager({
    cookieSecret: SECRET,
    now: clock.now,
    cacheSize: 0,
  });
  const own = cookiePair(await uncached.createSession({ did: DID }));
  assert.equal(
    await countingVerifications(async () => {
      await uncached.getSessionFromRequest(requestWithCookie(own));
      await uncached.getSessionFromRequest(requestWithCookie(own));
    }),
    2,
  );
});

Deno.test("verified-seal cache: callers cannot mutate what it holds", async () => {
  const clock = new TestClock();
  const sessions = new SessionManager<{ roles: string[] }>({
    cookieSecret: SECRET,
    now: clock.now,
  });
  const cookie = cookiePair(
    await sessions.createSession({ did: DID, roles: ["reader"] }),
  );
  const first = await sessions.getSessionFromRequest(requestWithCookie(cookie));
  assert.ok(first.data);
  first.data.did = "did:plc:attacker";
  first.data.roles.push("admin");
  const second = await sessions.getSessionFromRequest(
    requestWithCookie(cookie),
  );
  assert.equal(second.data?.did, DID);
  assert.deepEqual(second.data?.roles, ["reader"]);
});

Deno.test("refreshAfter: no re-seal before it, the same seal with its remaining Max-Age", async () => {
  const clock = new TestClock();
  const sessions = new SessionManager({
    cookieSecret: SECRET,
    now: clock.now,
    sessionTtl: 3600,
    refreshAfter: 300,
  });
  const setCookie = await sessions.createSession({ did: DID });
  clock.advance(299.5);
  let result!: Awaited<ReturnType<typeof sessions.getSessionFromRequest>>;
  const seals = await countingSeals(async () => {
    result = await sessions.getSessionFromRequest(
      requestWithCookie(cookiePair(setCookie)),
    );
  });
  assert.equal(seals, 0);
  assert.equal(cookieValue(result.setCookieHeader!), cookieValue(setCookie));
  assert.match(
    result.setCookieHeader!,
    /; Max-Age=3300; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
  );
  assert.equal(result.data?.lastAccessed, T0);
});

Deno.test("refreshAfter: a re-seal once it has passed, with lastAccessed and Max-Age renewed", async () => {
  const clock = new TestClock();
  const sessions = new SessionManager({
    cookieSecret: SECRET,
    now: clock.now,
    sessionTtl: 3600,
    refreshAfter: 300,
  });
  const setCookie = await sessions.createSession({ did: DID });
  clock.advance(300);
  let result!: Awaited<ReturnType<typeof sessions.getSessionFromRequest>>;
  const seals = await countingSeals(async () => {
    result = await sessions.getSessionFromRequest(
      requestWithCookie(cookiePair(setCookie)),
    );
  });
  assert.equal(seals, 1);
  assert.notEqual(cookieValue(result.setCookieHeader!), cookieValue(setCookie));
  assert.match(result.setCookieHeader!, /; Max-Age=3600;/);
  assert.equal(result.data?.lastAccessed, T0 + 300_000);
  assert.equal(result.data?.createdAt, T0);
  // The fresh seal is readable, and a hit: this manager made it.
  const fresh = cookiePair(result.setCookieHeader!);
  const verifications = await countingVerifications(async () => {
    const again = await sessions.getSessionFromRequest(
      requestWithCookie(fresh),
    );
    assert.equal(again.data?.lastAccessed, T0 + 300_000);
  });
  assert.equal(verifications, 0);
  // Sliding: the old seal expires at T0+3600 s, the fresh one an hour later.
  clock.advance(3400);
  assert.equal(
    (await sessions.getSessionFromRequest(
      requestWithCookie(cookiePair(setCookie)),
    )).error?.type,
    "SESSION_EXPIRED",
  );
  assert.equal(
    (await sessions.getSessionFromRequest(requestWithCookie(fresh))).data?.did,
    DID,
  );
});

Deno.test("refreshAfter: 0 re-seals on every request, as the original package did", async () => {
  const clock = new TestClock();
  const sessions = new SessionManager({
    cookieSecret: SECRET,
    now: clock.now,
    refreshAfter: 0,
  });
  const cookie = cookiePair(await sessions.createSession({ did: DID }));
  const seals = await countingSeals(async () => {
    for (let i = 0; i < 3; i++) {
      await sessions.getSessionFromRequest(requestWithCookie(cookie));
    }
  });
  assert.equal(seals, 3);
});

Deno.test("refreshAfter: the default is 60 s", async () => {
  const clock = new TestClock();
  const sessions = new SessionManager({ cookieSecret: SECRET, now: clock.now });
  const cookie = cookiePair(await sessions.createSession({ did: DID }));
  clock.advance(59);
  assert.equal(
    await countingSeals(() =>
      sessions.getSessionFromRequest(requestWithCookie(cookie)).then(() => {})
    ),
    0,
  );
  clock.advance(1);
  assert.equal(
    await countingSeals(() =>
      sessions.getSessionFromRequest(requestWithCookie(cookie)).then(() => {})
    ),
    1,
  );
});

Deno.test("validateBearerToken(): a repeated token is a cache hit, still expiring on time", async () => {
  const clock = new TestClock();
  const { minter, reader } = pair(clock, { tokenTtl: 60 });
  const token = await minter.sealToken({ did: DID });
  assert.equal(
    await countingVerifications(async () => {
      for (let i = 0; i < 5; i++) {
        assert.equal(
          (await reader.validateBearerToken(`Bearer ${token}`)).data?.did,
          DID,
        );
      }
    }),
    1,
  );
  // The reader verified the seal itself, so its expiry is the seal's field,
  // which Iron may have set 1 ms late.
  clock.time = T0 + 60_001;
  assert.equal(
    (await reader.validateBearerToken(`Bearer ${token}`)).error?.type,
    "TOKEN_EXPIRED",
  );
});
