/**
 * Compatibility with seals already in the wild: the original package
 * (iron-session 8 `sealData`, URL-encoded in the cookie) and plain Iron
 * seals (`@hapi/iron`), in both directions.
 */
import assert from "node:assert/strict";
import Iron from "npm:@hapi/iron@7.0.1";
import { sealData, unsealData } from "npm:iron-session@8.0.4";
import { SessionManager } from "../src/session_manager.ts";
import { cookieValue, requestWithCookie } from "./_fixtures.ts";

const PASSWORD = "an-interop-test-secret-of-32-plus-chars";
const ROTATED = "an-rotated-test-secret-of-32-plus-chars";
const SEALED_AT = 1_767_225_600_000;
const DATA = {
  did: "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
  createdAt: SEALED_AT,
  lastAccessed: SEALED_AT,
  handle: "alice.bsky.social",
};

// Fixed vectors, minted once with the peers (ttl 0: no expiration field).
const IRON_SESSION_SEAL =
  "Fe26.2*1*e15ecd8024136f4570c379e290ce4d1b023eee48efc1a7c6f78749b1c7904642*bxtqT9TQW1gd5zEH5ve17Q*LpxhwKA05e_BJz2coECAD-fxdN13R3PRnTQntDM7fVc_o-0UJEZj3yaWYZC_KKLILWQ4HTS-wVPU96GYBHeyAsbDFJntg4MRalCikGDzTiI3HiCnKOjRGrbDMBiJO_zUvblK8F35ntl-qs4NkrVDO8PiMglGJEIB6R7QVE6GjBM**9422ec4e9c5b508bceb20db35578759d2f75d09038da0edb8985ea4cdeb6d921*CzFE1ALkk07P1E6vI06IXcHY5-deYGdpwyo72nJxITI~2";
const IRON_SESSION_ROTATED_SEAL =
  "Fe26.2*2*f7127e12b9f1a47abdc0386523a9ff942050b84ea319c5f8ff5e343ae310fed2*d-E8YtRgZ5Hmrol0-Cd6Tw*P4J4s_2m9BLXAnav9xQO52vEBAFjTkBzy2vew8Cm-dZMNWaBrF3vIZ7D6JigQTIaVXPvZQ3KmYecN011ncFY0FEMJgqHC_jmRqFfiGIq8ybpxvdyxLAxQZddgvzHlWtajMiVC5hDI6QIYjTs6TlT48TcqeB235Rku_ePZ2SEapw**fd4bad71ca66f67ad8e0ecbe49a993950f331f067e4d0887021cddac777f1be9*2GUZcDVeNCe8XHtipj-UItZb1SxOLDKei13bfVbkVY4~2";
const HAPI_IRON_SEAL =
  "Fe26.2**a6f8ef98d89a0c7ee3fb036b8abcee9b9d94b2b30ce90857b90c9c9354a3041f*U8ErupxzUeFcpPsDOrkMHg*-mnIQyuHqAcRZIZ5qhw0DJFYE4-qt5aIi8WnorBXWbW-Qj_ncd7vnuybRLTd45XNIaEkoLb6DSZW-xj23Tp_cQwWHjDAPxf3ZPrnyTpkHGqfdWdTtJF9yv6UmNjYm4JE6bIH3FDL1FxLpdDBmnRaOizIvBdaJSB8beHpDDQYx5U**1279cb9734a94b45022e0968c7f90c42feec290fa7e906e52b5869d994984fff*BUvNIE8TNOo6ha6kKf568gBy5KJFeODLoISPxIq6U9U";

function managerAt(
  time: number,
  cookieSecret: string | Record<string, string> = PASSWORD,
) {
  return new SessionManager<{ handle: string }>({
    cookieSecret,
    now: () => time,
  });
}

Deno.test("getSessionFromRequest() reads fixed seals minted by iron-session 8 and @hapi/iron", async (t) => {
  const cases: [string, string, string | Record<string, string>][] = [
    ["iron-session 8 sealData", `sid=${IRON_SESSION_SEAL}`, PASSWORD],
    [
      "iron-session 8, percent-encoded",
      `sid=${IRON_SESSION_SEAL.replaceAll("*", "%2A").replace("~", "%7E")}`,
      PASSWORD,
    ],
    ["iron-session 8 under rotated id 2", `sid=${IRON_SESSION_ROTATED_SEAL}`, {
      "1": PASSWORD,
      "2": ROTATED,
    }],
    ["@hapi/iron (no password id)", `sid=${HAPI_IRON_SEAL}`, PASSWORD],
    ["@hapi/iron through a map's default entry", `sid=${HAPI_IRON_SEAL}`, {
      "2": ROTATED,
      default: PASSWORD,
    }],
  ];
  for (const [name, cookie, secret] of cases) {
    await t.step(name, async () => {
      const { data, error } = await managerAt(SEALED_AT + 1000, secret)
        .getSessionFromRequest(requestWithCookie(cookie));
      assert.equal(error, null);
      assert.equal(data?.did, DATA.did);
      assert.equal(data?.handle, DATA.handle);
      assert.equal(data?.createdAt, SEALED_AT);
    });
  }
  await t.step(
    "a seal without an expiration field still expires sessionTtl after lastAccessed",
    async () => {
      const result = await managerAt(SEALED_AT + 7 * 86_400_000)
        .getSessionFromRequest(
          requestWithCookie(`sid=${IRON_SESSION_SEAL}`),
        );
      assert.equal(result.error?.type, "SESSION_EXPIRED");
    },
  );
  await t.step(
    "the rotated vector without its id configured is UNKNOWN_KEY",
    async () => {
      const result = await managerAt(SEALED_AT + 1000).getSessionFromRequest(
        requestWithCookie(`sid=${IRON_SESSION_ROTATED_SEAL}`),
      );
      assert.equal(result.error?.type, "UNKNOWN_KEY");
    },
  );
});

Deno.test("getSessionFromRequest() reads live iron-session 8 cookies exactly as the original package wrote them", async () => {
  const now = Date.now();
  const seal = await sealData({ ...DATA, createdAt: now, lastAccessed: now }, {
    password: PASSWORD,
    ttl: 3600,
  });
  assert.match(seal, /^Fe26\.2\*1\*.*~2$/);
  const cookie = `sid=${encodeURIComponent(seal)}`;
  const { data, error } = await new SessionManager<{ handle: string }>({
    cookieSecret: PASSWORD,
  })
    .getSessionFromRequest(requestWithCookie(cookie));
  assert.equal(error, null);
  assert.equal(data?.handle, "alice.bsky.social");
});

Deno.test("iron-session 8 unsealData() reads what createSession() and sealToken() mint", async () => {
  const sessions = new SessionManager<{ handle: string }>({
    cookieSecret: PASSWORD,
  });
  const setCookie = await sessions.createSession(DATA);
  const fromCookie = await unsealData(
    decodeURIComponent(cookieValue(setCookie)),
    { password: PASSWORD },
  );
  // The original package sees our fields plus the kind marker (inside the
  // MAC) and authenticatedAt, which defaults to the creation time.
  assert.deepEqual(fromCookie, {
    ...DATA,
    authenticatedAt: (fromCookie as { authenticatedAt: number })
      .authenticatedAt,
    typ: "cookie",
  });
  const token = await sessions.sealToken(DATA);
  const fromToken = await unsealData<Record<string, unknown>>(token, {
    password: PASSWORD,
  });
  assert.equal(fromToken.did, DATA.did);
  assert.equal(typeof fromToken.jti, "string");
  const rotating = new SessionManager({
    cookieSecret: { "1": PASSWORD, "2": ROTATED },
  });
  const rotated = cookieValue(await rotating.createSession({ did: DATA.did }));
  const fromRotated = await unsealData<Record<string, unknown>>(rotated, {
    password: { 1: PASSWORD, 2: ROTATED },
  });
  assert.equal(fromRotated.did, DATA.did);
});

Deno.test("getSessionFromRequest() reads live @hapi/iron seals and enforces their expiry exactly", async () => {
  const seal = await Iron.seal(
    { did: DATA.did, createdAt: Date.now(), lastAccessed: Date.now() },
    PASSWORD,
    { ...Iron.defaults, ttl: 60_000 },
  );
  assert.match(seal, /^Fe26\.2\*\*/);
  const now = Date.now();
  const fresh = await managerAt(now).getSessionFromRequest(
    requestWithCookie(`sid=${seal}`),
  );
  assert.equal(fresh.data?.did, DATA.did);
  // Iron would still accept it within its 60 s skew; we do not.
  const late = await managerAt(now + 61_000).getSessionFromRequest(
    requestWithCookie(`sid=${seal}`),
  );
  assert.equal(late.error?.type, "SESSION_EXPIRED");
});

Deno.test("validateBearerToken() reads tokens the original package sealed with iron-session", async () => {
  const now = Date.now();
  const token = await sealData({ did: DATA.did }, {
    password: PASSWORD,
    ttl: 3600,
  });
  const { data, error } = await new SessionManager({
    cookieSecret: PASSWORD,
    tokenTtl: 3600,
  })
    .validateBearerToken(`Bearer ${token}`);
  assert.equal(error, null);
  assert.equal(data?.did, DATA.did);
  // Missing timestamps are filled with the estimated sealing time.
  assert.ok(Math.abs((data?.createdAt ?? 0) - now) < 5_000);
});
