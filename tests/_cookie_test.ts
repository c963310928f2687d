import assert from "node:assert/strict";
import fc from "npm:fast-check@3.23.2";
import {
  decodeCookieValue,
  findCookieValues,
  isCookieName,
  renderCookieAttributes,
  resolveCookieOptions,
} from "../src/_cookie.ts";
import { ConfigurationError } from "../src/errors.ts";

Deno.test("findCookieValues() reads cookies per RFC 6265", async (t) => {
  const cases: [string, string | null, string[]][] = [
    ["a lone cookie", "sid=abc", ["abc"]],
    ["first of several", "sid=abc; theme=dark", ["abc"]],
    ["last of several", "theme=dark; lang=en; sid=abc", ["abc"]],
    ["in the middle", "a=1; sid=abc; b=2", ["abc"]],
    ["without spaces", "a=1;sid=abc;b=2", ["abc"]],
    ["with extra spaces and tabs", "a=1 ;\t sid = abc \t; b=2", ["abc"]],
    ["a quoted value", 'sid="abc"', ["abc"]],
    ["a lone quote is kept", 'sid="abc', ['"abc']],
    ["an empty value", "sid=", [""]],
    ["a value containing =", "sid=a=b=c", ["a=b=c"]],
    ["exact name only (xsid is not sid)", "xsid=evil; sidx=evil; SID=evil", []],
    ["a prefix match is not a match", "sid2=evil", []],
    ["duplicates in header order", "sid=first; other=1; sid=second", [
      "first",
      "second",
    ]],
    ["pairs without = are skipped", "sid; junk; sid=abc", ["abc"]],
    ["missing header", null, []],
    ["empty header", "", []],
    ["only separators", ";;; ;", []],
    ["unicode elsewhere", "名前=値; sid=abc", ["abc"]],
  ];
  for (const [name, header, expected] of cases) {
    await t.step(name, () => {
      assert.deepEqual(findCookieValues(header, "sid", 10), expected);
    });
  }
});

Deno.test("findCookieValues() stops at the limit", () => {
  const header = Array.from({ length: 500 }, (_, i) => `sid=v${i}`).join("; ");
  assert.deepEqual(findCookieValues(header, "sid", 3), ["v0", "v1", "v2"]);
});

Deno.test("findCookieValues() treats hostile names as plain strings", () => {
  const header = "__proto__=x; constructor=y; toString=z; sid=ok";
  assert.deepEqual(findCookieValues(header, "__proto__", 5), ["x"]);
  assert.deepEqual(findCookieValues(header, "constructor", 5), ["y"]);
  assert.deepEqual(findCookieValues(header, "sid", 5), ["ok"]);
  assert.equal(({} as Record<string, unknown>).x, undefined);
});

Deno.test("findCookieValues() scans a 64 KiB header of pairs without = once", () => {
  const header = "a;".repeat(32 * 1024) + "sid=found";
  assert.deepEqual(findCookieValues(header, "sid", 3), ["found"]);
});

Deno.test("decodeCookieValue() percent-decodes and rejects bad escapes without throwing", () => {
  assert.equal(decodeCookieValue("Fe26.2*1*abc~2"), "Fe26.2*1*abc~2");
  assert.equal(decodeCookieValue("Fe26.2%2A1%2Aabc"), "Fe26.2*1*abc");
  assert.equal(decodeCookieValue("%E0%A4%A"), null);
  assert.equal(decodeCookieValue("%"), null);
  assert.equal(decodeCookieValue("%ZZ"), null);
});

Deno.test("isCookieName() accepts RFC 7230 tokens only", () => {
  for (
    const name of [
      "sid",
      "__Host-sid",
      "__Secure-sid",
      "a.b",
      "x!#$%&'*+-.^_`|~",
    ]
  ) {
    assert.equal(isCookieName(name), true, name);
  }
  for (
    const name of [
      "",
      "a b",
      "a;b",
      "a=b",
      "a,b",
      'a"b',
      "a\tb",
      "a\nb",
      "é",
      "a(b)",
      "a/b",
    ]
  ) {
    assert.equal(isCookieName(name), false, JSON.stringify(name));
  }
});

Deno.test("resolveCookieOptions() applies secure defaults", () => {
  const resolved = resolveCookieOptions("sid");
  assert.deepEqual(resolved, {
    path: "/",
    domain: undefined,
    sameSite: "Lax",
    secure: true,
    httpOnly: true,
    partitioned: false,
  });
  assert.equal(
    renderCookieAttributes(resolved),
    "; Path=/; HttpOnly; Secure; SameSite=Lax",
  );
});

Deno.test("resolveCookieOptions() renders every attribute", () => {
  const resolved = resolveCookieOptions("sid", {
    path: "/app",
    domain: "example.com",
    sameSite: "strict",
    partitioned: true,
  });
  assert.equal(
    renderCookieAttributes(resolved),
    "; Path=/app; Domain=example.com; HttpOnly; Secure; SameSite=Strict; Partitioned",
  );
  assert.equal(
    renderCookieAttributes(
      resolveCookieOptions("sid", { httpOnly: false, secure: false }),
    ),
    "; Path=/; SameSite=Lax",
  );
});

Deno.test("resolveCookieOptions() enforces browser rules at construction", async (t) => {
  const rejected: [
    string,
    string,
    Parameters<typeof resolveCookieOptions>[1],
    RegExp,
  ][] = [
    [
      "a name that is not a token",
      "s id",
      {},
      /cookieName must be an RFC 6265 token/,
    ],
    ["a name with ;", "sid;", {}, /received a string of 4 characters/],
    [
      "__Secure- without Secure",
      "__Secure-sid",
      { secure: false },
      /"__Secure-" prefix requires cookie.secure/,
    ],
    [
      "__Host- without Secure",
      "__Host-sid",
      { secure: false },
      /"__Host-" prefix requires cookie.secure/,
    ],
    [
      "__Host- with a Domain",
      "__Host-sid",
      { domain: "example.com" },
      /"__Host-" prefix requires cookie.path "\/" and no cookie.domain/,
    ],
    [
      "__Host- with a Path",
      "__Host-sid",
      { path: "/app" },
      /"__Host-" prefix requires/,
    ],
    [
      "SameSite=None without Secure",
      "sid",
      { sameSite: "None", secure: false },
      /SameSite=None requires cookie.secure/,
    ],
    [
      "Partitioned without Secure",
      "sid",
      { partitioned: true, secure: false },
      /Partitioned requires cookie.secure/,
    ],
    ["a path with ;", "sid", { path: "/a;b" }, /cookie.path must start with/],
    [
      "a path with CR LF",
      "sid",
      { path: "/a\r\nSet-Cookie: x=y" },
      /cookie.path must start with/,
    ],
    ["a relative path", "sid", { path: "app" }, /cookie.path must start with/],
    [
      "a domain with ;",
      "sid",
      { domain: "a.com; Secure" },
      /cookie.domain must be a host name/,
    ],
    [
      "an unknown SameSite",
      "sid",
      { sameSite: "Loose" as "Lax" },
      /cookie.sameSite must be/,
    ],
    [
      "a non-boolean secure",
      "sid",
      { secure: "yes" as unknown as boolean },
      /cookie.secure must be a boolean/,
    ],
  ];
  for (const [name, cookieName, options, message] of rejected) {
    await t.step(name, () => {
      assert.throws(
        () => resolveCookieOptions(cookieName, options),
        (error: unknown) => {
          assert.ok(error instanceof ConfigurationError);
          assert.match(error.message, message);
          assert.doesNotMatch(error.message, /\.$/);
          return true;
        },
      );
    });
  }
  await t.step("a valid __Host- cookie", () => {
    assert.equal(resolveCookieOptions("__Host-sid").path, "/");
  });
});

// Property tests: what the serialiser writes, the parser reads back exactly.
const tokenChar = fc.constantFrom(
  ..."!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
);
const cookieName = fc.string({ unit: tokenChar, minLength: 1, maxLength: 20 });
// cookie-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
const cookieOctet = fc.integer({ min: 0x21, max: 0x7e })
  .filter((c) => c !== 0x22 && c !== 0x2c && c !== 0x3b && c !== 0x5c)
  .map((c) => String.fromCharCode(c));
const cookieValue = fc.string({ unit: cookieOctet, maxLength: 60 });

Deno.test("findCookieValues() reads back any serialised cookie among others (property)", () => {
  fc.assert(
    fc.property(
      cookieName,
      cookieValue,
      fc.array(fc.tuple(cookieName, cookieValue), { maxLength: 8 }),
      fc.nat(8),
      (name, value, others, position) => {
        const strangers = others.filter(([other]) => other !== name);
        const pairs = strangers.map(([n, v]) => `${n}=${v}`);
        pairs.splice(Math.min(position, pairs.length), 0, `${name}=${value}`);
        const header = pairs.join("; ");
        assert.deepEqual(findCookieValues(header, name, 5), [value]);
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("findCookieValues() never throws and only returns exact-name values (property)", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), cookieName, (header, name) => {
      const values = findCookieValues(header, name, 3);
      assert.ok(values.length <= 3);
      for (const value of values) assert.ok(header.includes(value));
    }),
    { numRuns: 3000 },
  );
});

Deno.test("resolveCookieOptions() accepts any token name and its attributes never break the header (property)", () => {
  fc.assert(
    fc.property(
      cookieName.filter((n) =>
        !n.startsWith("__Host-") && !n.startsWith("__Secure-")
      ),
      fc.string({ unit: fc.constantFrom(..."/abcXYZ09-._~"), maxLength: 20 })
        .map((p) => `/${p}`),
      fc.constantFrom("Strict", "Lax", "None") as fc.Arbitrary<
        "Strict" | "Lax" | "None"
      >,
      (name, path, sameSite) => {
        const attributes = renderCookieAttributes(
          resolveCookieOptions(name, { path, sameSite }),
        );
        assert.doesNotMatch(attributes, /[\r\n]/);
        assert.equal(attributes.split(";").length, 5);
      },
    ),
    { numRuns: 1000 },
  );
});
