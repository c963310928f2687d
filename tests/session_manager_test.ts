import assert from "node:assert/strict";
import { SealKeyring } from "../src/_seal.ts";
import {
  ConfigurationError,
  CookieError,
  SessionDataError,
} from "../src/errors.ts";
import { SessionManager } from "../src/session_manager.ts";
import type { SessionManagerOptions } from "../src/options.ts";
import {
  capturingLogger,
  cookiePair,
  cookieValue,
  DID,
  OTHER_SECRET,
  requestWithCookie,
  SECRET,
  T0,
  TestClock,
} from "./_fixtures.ts";

function manager(options: Partial<SessionManagerOptions> = {}): SessionManager {
  return new SessionManager({ cookieSecret: SECRET, ...options });
}

Deno.test("new SessionManager() throws a ConfigurationError that says what to fix", async (t) => {
  const cases: [string, unknown, RegExp][] = [
    [
      "no options",
      undefined,
      /options must be an object with a cookieSecret: received undefined/,
    ],
    [
      "a short secret",
      { cookieSecret: "short" },
      /at least 32 characters .*received a string of 5 characters/,
    ],
    ["a missing secret", {}, /received undefined/],
    [
      "a bad cookie name",
      { cookieSecret: SECRET, cookieName: "my sid" },
      /cookieName must be an RFC 6265 token/,
    ],
    [
      "a zero sessionTtl",
      { cookieSecret: SECRET, sessionTtl: 0 },
      /sessionTtl must be an integer of seconds from 1 to 34560000: received 0/,
    ],
    [
      "a fractional sessionTtl",
      { cookieSecret: SECRET, sessionTtl: 1.5 },
      /sessionTtl .*received 1.5/,
    ],
    ["a sessionTtl over 400 days", {
      cookieSecret: SECRET,
      sessionTtl: 400 * 86400 + 1,
    }, /sessionTtl/],
    [
      "a NaN sessionTtl",
      { cookieSecret: SECRET, sessionTtl: NaN },
      /sessionTtl .*received NaN/,
    ],
    [
      "a string sessionTtl",
      { cookieSecret: SECRET, sessionTtl: "3600" },
      /sessionTtl .*received a string of 4 characters/,
    ],
    [
      "a negative clockSkew",
      { cookieSecret: SECRET, clockSkew: -1 },
      /clockSkew/,
    ],
    [
      "refreshAfter not below sessionTtl",
      { cookieSecret: SECRET, sessionTtl: 60, refreshAfter: 60 },
      /refreshAfter must be a number of seconds from 0 up to, not including, sessionTtl \(60\): received 60/,
    ],
    [
      "a negative cacheSize",
      { cookieSecret: SECRET, cacheSize: -1 },
      /cacheSize must be a non-negative integer/,
    ],
    [
      "a zero maxSessionAge",
      { cookieSecret: SECRET, maxSessionAge: 0 },
      /maxSessionAge/,
    ],
    [
      "a logger without warn",
      { cookieSecret: SECRET, logger: { debug() {}, info() {}, error() {} } },
      /logger must have debug, info, warn and error methods: warn is undefined/,
    ],
    ["maxSessionsPerUser without a store", {
      cookieSecret: SECRET,
      maxSessionsPerUser: 5,
    }, /maxSessionsPerUser needs a store/],
    [
      "an incomplete store",
      { cookieSecret: SECRET, store: {} },
      /store must implement the SessionStore interface/,
    ],
    [
      "a non-function clock",
      { cookieSecret: SECRET, now: 5 },
      /now must be a function/,
    ],
  ];
  for (const [name, options, message] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => new SessionManager(options as SessionManagerOptions),
        (error: unknown) => {
          assert.ok(error instanceof ConfigurationError, String(error));
          assert.match(error.message, /^Cannot create SessionManager: /);
          assert.match(error.message, message);
          assert.doesNotMatch(error.message, /\.$/);
          return true;
        },
      );
    });
  }
});

Deno.test("createSession() writes a Set-Cookie header with secure defaults", async () => {
  const setCookie = await manager().createSession({ did: DID });
  assert.match(
    setCookie,
    /^sid=Fe26\.2\*1\*[^;]+~2; Max-Age=604800; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
  );
});

Deno.test("createSession() honours cookie options and getClearCookieHeader() mirrors Path and Domain", async () => {
  const sessions = manager({
    cookieName: "__Secure-session",
    sessionTtl: 3600,
    cookie: {
      path: "/app",
      domain: "example.com",
      sameSite: "None",
      partitioned: true,
    },
  });
  const setCookie = await sessions.createSession({ did: DID });
  assert.match(
    setCookie,
    /^__Secure-session=Fe26[^;]+; Max-Age=3600; Path=\/app; Domain=example\.com; HttpOnly; Secure; SameSite=None; Partitioned$/,
  );
  assert.equal(
    sessions.getClearCookieHeader(),
    "__Secure-session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/app; Domain=example.com; HttpOnly; Secure; SameSite=None; Partitioned",
  );
});

Deno.test("getSessionFromRequest() returns the session createSession() made, app fields included", async () => {
  const clock = new TestClock();
  const sessions = new SessionManager<{ handle: string; pds: string }>({
    cookieSecret: SECRET,
    now: clock.now,
  });
  const setCookie = await sessions.createSession({
    did: DID,
    handle: "alice.bsky.social",
    pds: "https://pds.example",
  });
  const { data, error, setCookieHeader } = await sessions.getSessionFromRequest(
    requestWithCookie(`theme=dark; ${cookiePair(setCookie)}; lang=en`),
  );
  assert.equal(error, null);
  assert.deepEqual(data, {
    did: DID,
    handle: "alice.bsky.social",
    pds: "https://pds.example",
    createdAt: T0,
    lastAccessed: T0,
    authenticatedAt: T0,
  });
  assert.equal(setCookieHeader, setCookie);
});

Deno.test("getSessionFromRequest() distinguishes every failure", async (t) => {
  const clock = new TestClock();
  const sessions = manager({ now: clock.now, sessionTtl: 3600 });
  const valid = cookieValue(await sessions.createSession({ did: DID }));
  const clear = sessions.getClearCookieHeader();
  const foreign = cookieValue(
    await manager({ cookieSecret: OTHER_SECRET, now: clock.now }).createSession(
      { did: DID },
    ),
  );
  const unknownKey = cookieValue(
    await manager({ cookieSecret: { "5": SECRET }, now: clock.now })
      .createSession({ did: DID }),
  );
  const cases: [string, Request, string, string | null][] = [
    ["no Cookie header", new Request("http://localhost/"), "NO_COOKIE", null],
    [
      "other cookies only",
      requestWithCookie("theme=dark; xsid=abc; sidx=abc"),
      "NO_COOKIE",
      null,
    ],
    ["garbage", requestWithCookie("sid=garbage"), "INVALID_COOKIE", clear],
    ["an empty value", requestWithCookie("sid="), "INVALID_COOKIE", clear],
    [
      "a bad percent-encoding",
      requestWithCookie("sid=Fe26.2%ZZ"),
      "INVALID_COOKIE",
      clear,
    ],
    [
      "a 64 KiB value",
      requestWithCookie(`sid=${"A".repeat(65536)}`),
      "INVALID_COOKIE",
      clear,
    ],
    ["another secret", requestWithCookie(`sid=${foreign}`), "TAMPERED", clear],
    [
      "an unconfigured secret id",
      requestWithCookie(`sid=${unknownKey}`),
      "UNKNOWN_KEY",
      clear,
    ],
  ];
  for (const [name, request, type, setCookieHeader] of cases) {
    await t.step(name, async () => {
      const result = await sessions.getSessionFromRequest(request);
      assert.equal(result.data, null);
      assert.equal(result.error?.type, type);
      assert.equal(result.setCookieHeader, setCookieHeader);
    });
  }
  await t.step("the valid cookie still works", async () => {
    const result = await sessions.getSessionFromRequest(
      requestWithCookie(`sid=${valid}`),
    );
    assert.equal(result.data?.did, DID);
  });
});

Deno.test("getSessionFromRequest() rejects tampering with each of the 8 seal parts", async (t) => {
  const sessions = manager({ cacheSize: 0 });
  const seal = cookieValue(await sessions.createSession({ did: DID }));
  const parts = seal.slice(0, -2).split("*");
  assert.equal(parts.length, 8);
  const flip = (value: string, alphabet: string): string => {
    const index = Math.floor(value.length / 2);
    const current = value.charAt(index);
    const next = alphabet.charAt(
      (alphabet.indexOf(current) + 1) % alphabet.length,
    );
    return value.slice(0, index) + next + value.slice(index + 1);
  };
  const hex = "0123456789abcdef";
  const b64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const tampered: [number, string, string][] = [
    [0, "Fe26.3", "INVALID_COOKIE"],
    [1, "2", "UNKNOWN_KEY"],
    [2, flip(parts[2]!, hex), "TAMPERED"],
    [3, flip(parts[3]!, b64), "TAMPERED"],
    [4, flip(parts[4]!, b64), "TAMPERED"],
    [5, String(Number(parts[5]) + 86_400_000), "TAMPERED"],
    [6, flip(parts[6]!, hex), "TAMPERED"],
    [7, flip(parts[7]!, b64), "TAMPERED"],
  ];
  for (const [index, replacement, type] of tampered) {
    await t.step(`part ${index}`, async () => {
      const forged =
        parts.map((part, i) => (i === index ? replacement : part)).join("*") +
        "~2";
      assert.notEqual(forged, seal);
      const result = await sessions.getSessionFromRequest(
        requestWithCookie(`sid=${forged}`),
      );
      assert.equal(result.data, null);
      assert.equal(result.error?.type, type);
    });
  }
});

Deno.test("getSessionFromRequest() accepts no single-character change anywhere in a seal", async () => {
  const sessions = manager({ cacheSize: 0 });
  const seal = cookieValue(await sessions.createSession({ did: DID }));
  // Every character a seal can hold, plus separators: a last base64url
  // character that differs only in unused bits must be caught too.
  const replacements = [
    ..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    ..."*~.%+/= ",
  ];
  let tried = 0;
  for (let index = 0; index < seal.length; index++) {
    for (const replacement of replacements) {
      if (seal[index] === replacement) continue;
      const forged = seal.slice(0, index) + replacement + seal.slice(index + 1);
      const result = await sessions.getSessionFromRequest(
        requestWithCookie(`sid=${forged}`),
      );
      assert.equal(
        result.data,
        null,
        `accepted a change at ${index} to ${replacement}`,
      );
      tried++;
    }
  }
  assert.ok(tried > seal.length * 70);
});

Deno.test("getSessionFromRequest() expires sessions exactly, without Iron's 60 s grace", async (t) => {
  const clock = new TestClock();
  const sessions = manager({
    now: clock.now,
    sessionTtl: 1,
    refreshAfter: 0.5,
    cacheSize: 0,
  });
  const cookie = cookiePair(await sessions.createSession({ did: DID }));
  await t.step("valid just before the TTL", async () => {
    clock.time = T0 + 999;
    assert.equal(
      (await sessions.getSessionFromRequest(requestWithCookie(cookie))).data
        ?.did,
      DID,
    );
  });
  await t.step(
    "expired 2 s later (Iron alone would accept it for 60 s more)",
    async () => {
      clock.time = T0 + 2000;
      const result = await sessions.getSessionFromRequest(
        requestWithCookie(cookie),
      );
      assert.equal(result.error?.type, "SESSION_EXPIRED");
      assert.equal(result.setCookieHeader, sessions.getClearCookieHeader());
    },
  );
});

Deno.test("getSessionFromRequest() reports a forged seal with a past expiry as TAMPERED, not expired", async () => {
  const clock = new TestClock();
  const forger = manager({
    cookieSecret: OTHER_SECRET,
    now: () => T0 - 10 * 86_400_000,
  });
  const forged = cookiePair(await forger.createSession({ did: DID }));
  const result = await manager({ now: clock.now }).getSessionFromRequest(
    requestWithCookie(forged),
  );
  assert.equal(result.error?.type, "TAMPERED");
});

Deno.test("clockSkew extends acceptance by exactly that many seconds", async () => {
  const clock = new TestClock();
  const sessions = manager({
    now: clock.now,
    sessionTtl: 10,
    clockSkew: 30,
    refreshAfter: 0,
  });
  const cookie = cookiePair(await sessions.createSession({ did: DID }));
  clock.time = T0 + 10_000 + 29_999;
  assert.equal(
    (await sessions.getSessionFromRequest(requestWithCookie(cookie))).data?.did,
    DID,
  );
  clock.time = T0 + 10_000 + 30_000;
  assert.equal(
    (await sessions.getSessionFromRequest(requestWithCookie(cookie))).error
      ?.type,
    "SESSION_EXPIRED",
  );
});

Deno.test("maxSessionAge ends a session that sliding refresh keeps alive", async () => {
  const clock = new TestClock();
  const sessions = manager({
    now: clock.now,
    sessionTtl: 100,
    refreshAfter: 10,
    maxSessionAge: 150,
  });
  let cookie = cookiePair(await sessions.createSession({ did: DID }));
  for (const at of [50, 100, 140]) {
    clock.time = T0 + at * 1000;
    const result = await sessions.getSessionFromRequest(
      requestWithCookie(cookie),
    );
    assert.equal(result.data?.did, DID, `at ${at}s`);
    assert.equal(result.data?.createdAt, T0);
    const maxAge = Number(
      /Max-Age=(\d+)/.exec(result.setCookieHeader ?? "")?.[1],
    );
    assert.ok(
      maxAge <= 150 - at,
      `Max-Age ${maxAge} at ${at}s outlives maxSessionAge`,
    );
    cookie = cookiePair(result.setCookieHeader!);
  }
  clock.time = T0 + 150_000;
  assert.equal(
    (await sessions.getSessionFromRequest(requestWithCookie(cookie))).error
      ?.type,
    "SESSION_EXPIRED",
  );
});

Deno.test("createSession() rejects a createdAt already past maxSessionAge", async () => {
  const sessions = manager({ now: () => T0, maxSessionAge: 60 });
  await assert.rejects(
    sessions.createSession({ did: DID, createdAt: T0 - 61_000 }),
    (error: unknown) =>
      error instanceof SessionDataError &&
      error.code === "INVALID_SESSION_DATA",
  );
});

Deno.test("createSession() throws a CookieError naming the size and the 4096-byte limit", async () => {
  const sessions = new SessionManager<{ bio: string }>({
    cookieSecret: SECRET,
  });
  await assert.rejects(
    sessions.createSession({ did: DID, bio: "x".repeat(3000) }),
    (error: unknown) => {
      assert.ok(error instanceof CookieError);
      assert.match(
        error.message,
        /would be \d{4} bytes, over the 4096-byte limit/,
      );
      return true;
    },
  );
  const fits = await sessions.createSession({
    did: DID,
    bio: "x".repeat(1500),
  });
  assert.ok(fits.length <= 4096);
});

Deno.test("createSession() and sealToken() reject invalid DIDs and unsealable data", async (t) => {
  const sessions = manager();
  for (
    const did of [
      "alice.bsky.social",
      "did:PLC:abc",
      "",
      "did:plc:abc#frag",
      `did:plc:${"a".repeat(2048)}`,
    ]
  ) {
    await t.step(`did ${JSON.stringify(did.slice(0, 30))}`, async () => {
      for (
        const call of [
          () => sessions.createSession({ did }),
          () => sessions.sealToken({ did }),
        ]
      ) {
        await assert.rejects(call(), (error: unknown) => {
          assert.ok(error instanceof SessionDataError);
          assert.equal(error.code, "INVALID_DID");
          assert.match(
            error.message,
            /^Invalid did: expected a DID such as "did:plc:/,
          );
          return true;
        });
      }
    });
  }
  await t.step("a non-JSON value", async () => {
    await assert.rejects(
      sessions.createSession({ did: DID, when: new Date() } as { did: string }),
      (error: unknown) =>
        error instanceof SessionDataError &&
        error.code === "INVALID_SESSION_DATA",
    );
  });
  await t.step("a bad timestamp", async () => {
    await assert.rejects(
      sessions.createSession({ did: DID, createdAt: Number.NaN }),
      (error: unknown) =>
        error instanceof SessionDataError &&
        /createdAt must be milliseconds/.test(error.message),
    );
  });
});

Deno.test("getSessionFromRequest() with duplicate cookies uses the first that verifies, verifying at most 3 uncached seals", async (t) => {
  const sessions = manager();
  const valid = cookieValue(await sessions.createSession({ did: DID }));
  const stale = cookieValue(
    await manager({ cookieSecret: OTHER_SECRET }).createSession({ did: DID }),
  );
  await t.step("a stale cookie first, the valid one second", async () => {
    const result = await sessions.getSessionFromRequest(
      requestWithCookie(`sid=${stale}; sid=${valid}`),
    );
    assert.equal(result.data?.did, DID);
  });
  await t.step("the valid one first", async () => {
    const result = await sessions.getSessionFromRequest(
      requestWithCookie(`sid=${valid}; sid=junk`),
    );
    assert.equal(result.data?.did, DID);
  });
  await t.step(
    "none valid: the first seal-shaped cookie's error, and the cookie cleared",
    async () => {
      const result = await sessions.getSessionFromRequest(
        requestWithCookie(`sid=junk; sid=${stale}`),
      );
      assert.equal(result.error?.type, "TAMPERED");
      assert.equal(result.setCookieHeader, sessions.getClearCookieHeader());
    },
  );
  await t.step(
    "only junk: INVALID_COOKIE, and the cookie cleared",
    async () => {
      const result = await sessions.getSessionFromRequest(
        requestWithCookie(`sid=junk; sid=more%junk`),
      );
      assert.equal(result.error?.type, "INVALID_COOKIE");
      assert.equal(result.setCookieHeader, sessions.getClearCookieHeader());
    },
  );
});

Deno.test("getSessionFromRequest() survives hostile requests without throwing", async () => {
  const sessions = manager();
  const hostile = [
    `${"x=1; ".repeat(500)}sid=junk`,
    `sid=${"%".repeat(1000)}`,
    'sid="""',
    "sid=\u00e9\u00ff\u0080",
    `__proto__=1; constructor=2; sid=${"*".repeat(7)}`,
    ";".repeat(65536),
  ];
  for (const cookie of hostile) {
    const result = await sessions.getSessionFromRequest(
      requestWithCookie(cookie),
    );
    assert.equal(result.data, null);
  }
  const broken = {
    headers: {
      get: () => {
        throw new Error("boom");
      },
    },
  } as unknown as Request;
  assert.equal(
    (await sessions.getSessionFromRequest(broken)).error?.type,
    "NO_COOKIE",
  );
});

Deno.test("Bearer tokens: seal, validate, unseal and refresh", async (t) => {
  const clock = new TestClock();
  let id = 0;
  const sessions = new SessionManager<{ handle: string }>({
    cookieSecret: SECRET,
    now: clock.now,
    tokenTtl: 3600,
    generateId: () => `id-${++id}`,
  });
  const token = await sessions.sealToken({
    did: DID,
    handle: "alice.bsky.social",
  });
  await t.step(
    "validateBearerToken() accepts the token with any scheme case",
    async () => {
      for (const scheme of ["Bearer", "bearer", "BEARER"]) {
        const { data, error } = await sessions.validateBearerToken(
          `${scheme} ${token}`,
        );
        assert.equal(error, null);
        assert.deepEqual(data, {
          did: DID,
          handle: "alice.bsky.social",
          createdAt: T0,
          lastAccessed: T0,
          authenticatedAt: T0,
          jti: "id-1",
          expiresAt: T0 + 3_600_000,
        });
      }
    },
  );
  await t.step("unsealToken() opens the bare token", async () => {
    assert.equal((await sessions.unsealToken(token))?.jti, "id-1");
    assert.equal(await sessions.unsealToken(`Bearer ${token}`), null);
    assert.equal(await sessions.unsealToken(""), null);
    assert.equal(await sessions.unsealToken(42 as unknown as string), null);
  });
  await t.step(
    "validateBearerToken() reports NO_TOKEN, INVALID_TOKEN and TAMPERED",
    async () => {
      assert.equal(
        (await sessions.validateBearerToken(null)).error?.type,
        "NO_TOKEN",
      );
      assert.equal(
        (await sessions.validateBearerToken("")).error?.type,
        "NO_TOKEN",
      );
      assert.equal(
        (await sessions.validateBearerToken(`Basic ${token}`)).error?.type,
        "INVALID_TOKEN",
      );
      assert.equal(
        (await sessions.validateBearerToken("Bearer not-a-seal")).error?.type,
        "INVALID_TOKEN",
      );
      const foreign = await manager({ cookieSecret: OTHER_SECRET }).sealToken({
        did: DID,
      });
      assert.equal(
        (await sessions.validateBearerToken(`Bearer ${foreign}`)).error?.type,
        "TAMPERED",
      );
    },
  );
  await t.step(
    "refreshBearerToken() mints a new token keeping createdAt and app fields",
    async () => {
      clock.advance(600);
      const fresh = await sessions.refreshBearerToken(`Bearer ${token}`);
      assert.ok(fresh !== null && fresh !== token);
      const data = await sessions.unsealToken(fresh);
      assert.equal(data?.createdAt, T0);
      assert.equal(data?.lastAccessed, T0 + 600_000);
      assert.equal(data?.handle, "alice.bsky.social");
      assert.equal(data?.jti, "id-2");
      assert.equal(data?.expiresAt, T0 + 600_000 + 3_600_000);
    },
  );
  await t.step(
    "an expired token is TOKEN_EXPIRED and cannot be refreshed",
    async () => {
      clock.time = T0 + 3_600_000;
      assert.equal(
        (await sessions.validateBearerToken(`Bearer ${token}`)).error?.type,
        "TOKEN_EXPIRED",
      );
      assert.equal(await sessions.refreshBearerToken(`Bearer ${token}`), null);
      assert.equal(await sessions.refreshBearerToken("Bearer junk"), null);
    },
  );
});

Deno.test("a Bearer token is not accepted as a session cookie", async () => {
  const sessions = manager();
  const token = await sessions.sealToken({ did: DID });
  const result = await sessions.getSessionFromRequest(
    requestWithCookie(`sid=${token}`),
  );
  assert.equal(result.error?.type, "INVALID_COOKIE");
});

Deno.test("an authentic seal that does not hold session data is INVALID_COOKIE", async () => {
  const keyring = new SealKeyring(SECRET);
  const sessions = manager({ cacheSize: 0 });
  for (
    const payload of [
      { user: "x" },
      { did: "not-a-did" },
      [DID],
      "did:plc:abc",
      { did: DID, createdAt: "yesterday" },
    ]
  ) {
    const seal = await keyring.seal(payload, 60_000, Date.now());
    const result = await sessions.getSessionFromRequest(
      requestWithCookie(`sid=${seal}`),
    );
    assert.equal(result.error?.type, "INVALID_COOKIE", JSON.stringify(payload));
  }
});

Deno.test("secret rotation: the highest id seals, every id unseals, an unknown id is UNKNOWN_KEY", async () => {
  const before = manager({ cookieSecret: { "1": SECRET } });
  const after = manager({ cookieSecret: { "1": SECRET, "2": OTHER_SECRET } });
  const retired = manager({ cookieSecret: { "2": OTHER_SECRET } });
  const old = cookiePair(await before.createSession({ did: DID }));
  const current = cookiePair(await after.createSession({ did: DID }));
  assert.match(current, /^sid=Fe26\.2\*2\*/);
  assert.equal(
    (await after.getSessionFromRequest(requestWithCookie(old))).data?.did,
    DID,
  );
  assert.equal(
    (await retired.getSessionFromRequest(requestWithCookie(current))).data?.did,
    DID,
  );
  assert.equal(
    (await retired.getSessionFromRequest(requestWithCookie(old))).error?.type,
    "UNKNOWN_KEY",
  );
});

Deno.test("logging: the default is silent; a logger sees types, never secrets, seals or tokens", async () => {
  const { logger, lines } = capturingLogger();
  const sessions = manager({ logger, cacheSize: 0 });
  const setCookie = await sessions.createSession({ did: DID });
  const seal = cookieValue(setCookie);
  const token = await sessions.sealToken({ did: DID });
  const foreign = cookieValue(
    await manager({ cookieSecret: OTHER_SECRET }).createSession({ did: DID }),
  );
  await sessions.getSessionFromRequest(new Request("http://localhost/"));
  await sessions.getSessionFromRequest(requestWithCookie(`sid=${foreign}`));
  await sessions.getSessionFromRequest(requestWithCookie(`sid=${seal}`));
  await sessions.getSessionFromRequest(
    requestWithCookie(`sid=${seal.slice(0, -5)}`),
  );
  await sessions.validateBearerToken(`Bearer ${token}x`);
  await sessions.validateBearerToken(`Bearer ${foreign}`);
  await sessions.refreshBearerToken(`Bearer ${token}`);
  assert.ok(
    lines.some((l) =>
      l.level === "debug" && l.context?.type === undefined &&
      /No session cookie/.test(l.message)
    ),
  );
  assert.ok(
    lines.some((l) => l.level === "warn" && l.context?.type === "TAMPERED"),
  );
  const everything = JSON.stringify(lines);
  for (const secret of [SECRET, OTHER_SECRET, seal, token, foreign]) {
    for (const part of secret.split("*").filter((p) => p.length >= 16)) {
      assert.ok(
        !everything.includes(part),
        "a log line contains secret material",
      );
    }
    assert.ok(!everything.includes(secret));
  }
  // The default logger does nothing and does not throw.
  await manager().getSessionFromRequest(requestWithCookie(`sid=${foreign}`));
});

Deno.test("getSessionFromRequest() accepts anything with Web Headers, such as Oak's request", async () => {
  const sessions = manager();
  const cookie = cookiePair(await sessions.createSession({ did: DID }));
  const result = await sessions.getSessionFromRequest({
    headers: new Headers({ cookie }),
  });
  assert.equal(result.data?.did, DID);
});

Deno.test("createSession() and sealToken() reject non-object data and drop reserved fields", async () => {
  const sessions = new SessionManager<{ note: string }>({
    cookieSecret: SECRET,
    now: () => T0,
  });
  for (const input of [null, undefined, "did:plc:abc", [DID], 42]) {
    await assert.rejects(
      sessions.createSession(input as unknown as { did: string; note: string }),
      (error: unknown) =>
        error instanceof SessionDataError &&
        error.code === "INVALID_SESSION_DATA",
    );
  }
  const token = await sessions.sealToken({
    did: DID,
    note: "kept",
    jti: "forged",
    sessionId: "forged",
    expiresAt: 1,
  } as unknown as { did: string; note: string });
  const data = await sessions.unsealToken(token);
  assert.equal(data?.note, "kept");
  assert.notEqual(data?.jti, "forged");
  assert.equal(data?.sessionId, undefined);
  assert.equal(data?.expiresAt, T0 + 604_800_000);
});

Deno.test("getSessionFromRequest() in a session's last second of maxSessionAge answers without throwing", async () => {
  const clock = new TestClock();
  const sessions = manager({
    now: clock.now,
    sessionTtl: 100,
    refreshAfter: 10,
    maxSessionAge: 150,
  });
  clock.time = T0 + 90_000;
  const first = await sessions.getSessionFromRequest(
    requestWithCookie(
      cookiePair(await sessions.createSession({ did: DID, createdAt: T0 })),
    ),
  );
  const cookie = cookiePair(first.setCookieHeader!); // now expires at maxSessionAge
  clock.time = T0 + 149_500; // a refresh is due, but under a second is left
  const result = await sessions.getSessionFromRequest(
    requestWithCookie(cookie),
  );
  assert.equal(result.data?.did, DID);
  assert.match(result.setCookieHeader ?? "", /; Max-Age=0;/);
});

Deno.test("request-path methods fail closed, logging an error, when something unexpected throws", async () => {
  const { logger, lines } = capturingLogger();
  let broken = false;
  const clock = () => {
    if (broken) throw new Error("clock failure");
    return T0;
  };
  const sessions = manager({ now: clock, logger });
  const cookie = cookiePair(await sessions.createSession({ did: DID }));
  const token = await sessions.sealToken({ did: DID });
  broken = true;
  const result = await sessions.getSessionFromRequest(
    requestWithCookie(cookie),
  );
  assert.equal(result.error?.type, "INVALID_COOKIE");
  assert.equal(
    (await sessions.validateBearerToken(`Bearer ${token}`)).error?.type,
    "INVALID_TOKEN",
  );
  assert.equal(await sessions.unsealToken(token), null);
  assert.equal(await sessions.refreshBearerToken(`Bearer ${token}`), null);
  assert.ok(
    lines.some((line) =>
      line.level === "error" && line.context?.error === "Error"
    ),
  );
  assert.ok(!JSON.stringify(lines).includes("clock failure"));
});

Deno.test("refreshBearerToken() returns null once maxSessionAge is spent, and caps the new token's expiry", async () => {
  const clock = new TestClock();
  const sessions = manager({
    now: clock.now,
    tokenTtl: 3600,
    maxSessionAge: 100,
  });
  const token = await sessions.sealToken({ did: DID });
  clock.advance(50);
  const fresh = await sessions.refreshBearerToken(`Bearer ${token}`);
  assert.equal((await sessions.unsealToken(fresh!))?.expiresAt, T0 + 100_000);
  clock.time = T0 + 99_500;
  assert.equal(
    (await sessions.validateBearerToken(`Bearer ${fresh}`)).data?.did,
    DID,
  );
  assert.equal(await sessions.refreshBearerToken(`Bearer ${fresh}`), null);
});
