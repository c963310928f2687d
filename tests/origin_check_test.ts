import assert from "node:assert/strict";
import { ConfigurationError } from "../src/errors.ts";
import {
  checkOrigin,
  compileTrustedOrigins,
  type OriginCheckRequest,
} from "../src/origin_check.ts";

const APP = "https://app.example.com";

function post(
  headers: Record<string, string>,
  url = `${APP}/settings`,
  method = "POST",
): Request {
  return new Request(url, { method, headers });
}

Deno.test("checkOrigin() lets safe methods through whatever their headers say", () => {
  for (const method of ["GET", "HEAD", "OPTIONS"]) {
    const request = post({ origin: "https://evil.example" }, APP, method);
    assert.deepEqual(checkOrigin(request, []), { ok: true }, method);
  }
});

Deno.test("checkOrigin() judges unsafe methods by Origin, then Sec-Fetch-Site", async (t) => {
  const trusted = compileTrustedOrigins(["https://admin.example.com"]);
  const cases: [string, OriginCheckRequest, boolean, string?][] = [
    ["same origin", post({ origin: APP }), true],
    ["a trusted origin", post({ origin: "https://admin.example.com" }), true],
    [
      "another origin",
      post({ origin: "https://evil.example" }),
      false,
      "ORIGIN_MISMATCH",
    ],
    [
      "a sibling subdomain",
      post({ origin: "https://evil.app.example.com" }),
      false,
      "ORIGIN_MISMATCH",
    ],
    [
      "same host over http",
      post({ origin: "http://app.example.com" }),
      false,
      "ORIGIN_MISMATCH",
    ],
    [
      "same host, another port",
      post({ origin: "https://app.example.com:8443" }),
      false,
      "ORIGIN_MISMATCH",
    ],
    ["Origin: null", post({ origin: "null" }), false, "ORIGIN_NULL"],
    [
      "an Origin with a path",
      post({ origin: `${APP}/` }),
      false,
      "ORIGIN_INVALID",
    ],
    [
      "an Origin in upper case",
      post({ origin: "https://APP.example.com" }),
      false,
      "ORIGIN_INVALID",
    ],
    [
      "an Origin with a default port spelled out",
      post({ origin: "https://app.example.com:443" }),
      false,
      "ORIGIN_INVALID",
    ],
    ["a non-http Origin", post({ origin: "file://" }), false, "ORIGIN_INVALID"],
    [
      "no Origin, Sec-Fetch-Site same-origin",
      post({ "sec-fetch-site": "same-origin" }),
      true,
    ],
    [
      "no Origin, Sec-Fetch-Site same-site",
      post({ "sec-fetch-site": "same-site" }),
      false,
      "ORIGIN_MISSING",
    ],
    [
      "no Origin, Sec-Fetch-Site cross-site",
      post({ "sec-fetch-site": "cross-site" }),
      false,
      "ORIGIN_MISSING",
    ],
    ["no Origin and no Sec-Fetch-Site", post({}), false, "ORIGIN_MISSING"],
    [
      "a cross-site Origin despite Sec-Fetch-Site same-origin",
      post({ origin: "https://evil.example", "sec-fetch-site": "same-origin" }),
      false,
      "ORIGIN_MISMATCH",
    ],
    [
      "a lowercase method name",
      {
        method: "post",
        url: APP,
        headers: new Headers({ origin: "https://x.y" }),
      },
      false,
      "ORIGIN_MISMATCH",
    ],
    [
      "DELETE from another origin",
      post({ origin: "https://evil.example" }, APP, "DELETE"),
      false,
      "ORIGIN_MISMATCH",
    ],
  ];
  for (const [name, request, ok, reason] of cases) {
    await t.step(name, () => {
      const result = checkOrigin(request, trusted);
      assert.equal(result.ok, ok);
      if (!result.ok) assert.equal(result.reason, reason);
    });
  }
});

Deno.test("checkOrigin() says which origins were expected and what arrived", () => {
  const result = checkOrigin(
    post({ origin: "https://evil.example" }),
    compileTrustedOrigins(["https://admin.example.com"]),
  );
  assert.deepEqual(result, {
    ok: false,
    reason: "ORIGIN_MISMATCH",
    expected: [APP, "https://admin.example.com"],
    received: "https://evil.example",
  });
});

Deno.test("checkOrigin() behind a proxy accepts the public origin listed in trustedOrigins", () => {
  // The proxy terminates TLS: the server sees its own internal URL.
  const internal = "http://10.0.0.5:8000/settings";
  const fromBrowser = post({ origin: APP }, internal);
  const refused = checkOrigin(fromBrowser, []);
  assert.equal(!refused.ok && refused.reason, "ORIGIN_MISMATCH");
  assert.deepEqual(
    checkOrigin(fromBrowser, compileTrustedOrigins([APP])),
    { ok: true },
  );
  // The internal origin itself stays accepted, and others are still refused.
  const other = checkOrigin(
    post({ origin: "https://evil.example" }, internal),
    compileTrustedOrigins([APP]),
  );
  assert.equal(!other.ok && other.reason, "ORIGIN_MISMATCH");
});

Deno.test("checkOrigin() with a relative URL accepts only trusted origins", () => {
  const request = {
    method: "POST",
    url: "/settings",
    headers: new Headers({ origin: APP }),
  };
  const refused = checkOrigin(request, []);
  assert.equal(!refused.ok && refused.reason, "ORIGIN_MISMATCH");
  assert.deepEqual(!refused.ok && refused.expected, []);
  assert.deepEqual(checkOrigin(request, [APP]), { ok: true });
});

Deno.test("checkOrigin() fails closed when reading the request throws", () => {
  const hostile = {
    method: "POST",
    url: APP,
    headers: {
      get(): string {
        throw new Error("boom");
      },
    },
  };
  const result = checkOrigin(hostile, []);
  assert.equal(!result.ok && result.reason, "ORIGIN_MISSING");
  const throwingMethod = {
    get method(): string {
      throw new Error("boom");
    },
    url: APP,
    headers: new Headers({ origin: APP }),
  };
  assert.equal(checkOrigin(throwingMethod, []).ok, false);
});

Deno.test("compileTrustedOrigins() accepts exact origins and explains the rest", async (t) => {
  assert.deepEqual(compileTrustedOrigins(undefined), []);
  assert.deepEqual(
    compileTrustedOrigins(["https://a.example", "http://localhost:8000"]),
    ["https://a.example", "http://localhost:8000"],
  );
  const bad: [unknown, RegExp][] = [
    ["https://a.example/", /no path or trailing slash/],
    ["https://a.example/path", /received a string of 22 characters/],
    ["https://A.example", /lowercase host/],
    ["a.example", /exact origin/],
    ["*", /exact origin/],
    [42, /trustedOrigins\[0\]/],
  ];
  for (const [origin, message] of bad) {
    await t.step(String(origin), () => {
      assert.throws(
        () => compileTrustedOrigins([origin as string]),
        (error: unknown) =>
          error instanceof ConfigurationError && message.test(error.message) &&
          (typeof origin !== "string" || !error.message.includes(origin)),
      );
    });
  }
  assert.throws(
    () => compileTrustedOrigins("https://a.example" as unknown as string[]),
    ConfigurationError,
  );
});

/** mulberry32: a small seeded generator, so a failure reproduces. */
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

Deno.test("checkOrigin() never throws and accepts only what the rules allow (seeded fuzz)", () => {
  const seed = Number(Deno.env.get("FUZZ_SEED") ?? Date.now() % 2 ** 31);
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T =>
    items[Math.floor(next() * items.length)]!;
  const pieces = [
    APP,
    "https://admin.example.com",
    "null",
    "http://",
    "https://",
    "app.example.com",
    ":443",
    ":8443",
    "/",
    "%00",
    "\t",
    " ",
    "évil",
    "same-origin",
    "cross-site",
    "*",
    "\\",
    "[::1]",
    "x".repeat(400),
  ];
  const methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"];
  const trusted = compileTrustedOrigins(["https://admin.example.com"]);
  let checked = 0;
  for (let i = 0; i < 5_000; i++) {
    const headerValue = () => {
      let value = "";
      const parts = 1 + Math.floor(next() * 3);
      for (let p = 0; p < parts; p++) {
        value += next() < 0.2
          ? String.fromCharCode(0x20 + Math.floor(next() * 0x5f))
          : pick(pieces);
      }
      return value;
    };
    const headers = new Headers();
    try {
      if (next() < 0.8) headers.set("origin", headerValue());
      if (next() < 0.5) headers.set("sec-fetch-site", headerValue());
    } catch {
      continue; // Not a valid header value: a client cannot send it.
    }
    const method = pick(methods);
    const request = { method, url: `${APP}/x`, headers };
    let result;
    try {
      result = checkOrigin(request, trusted);
    } catch (error) {
      throw new Error(`checkOrigin threw with FUZZ_SEED=${seed}`, {
        cause: error,
      });
    }
    checked++;
    const origin = headers.get("origin");
    const allowed = ["GET", "HEAD", "OPTIONS"].includes(method) ||
      (origin === null
        ? headers.get("sec-fetch-site") === "same-origin"
        : origin === APP || origin === "https://admin.example.com");
    assert.equal(
      result.ok,
      allowed,
      `FUZZ_SEED=${seed}: ${method} origin=${JSON.stringify(origin)}`,
    );
  }
  assert.ok(checked > 4_000, `only ${checked} requests were checked`);
  // deno-lint-ignore no-console
  console.log(`checkOrigin fuzz: ${checked} requests, FUZZ_SEED=${seed}`);
});
