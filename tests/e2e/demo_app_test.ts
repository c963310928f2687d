import assert from "node:assert/strict";
import { createDemoApp, demoDidForHandle } from "../../examples/demo/app.ts";

const ORIGIN = "http://localhost:8000";
const SECRET = "a-demo-test-secret-of-32-characters!";

/** A browser-like client: keeps the session cookie, sends Origin on POST. */
class Client {
  cookie: string | null = null;
  readonly #handler: ReturnType<typeof createDemoApp>;
  readonly #userAgent: string;

  constructor(
    handler: ReturnType<typeof createDemoApp>,
    userAgent = "DemoTest/1.0",
  ) {
    this.#handler = handler;
    this.#userAgent = userAgent;
  }

  async request(
    path: string,
    init: { form?: Record<string, string>; headers?: HeadersInit } = {},
  ): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("user-agent", this.#userAgent);
    if (this.cookie !== null) headers.set("cookie", this.cookie);
    let request: Request;
    if (init.form === undefined) {
      request = new Request(ORIGIN + path, { headers });
    } else {
      if (!headers.has("origin")) headers.set("origin", ORIGIN);
      request = new Request(ORIGIN + path, {
        method: "POST",
        headers,
        body: new URLSearchParams(init.form),
      });
    }
    const response = await this.#handler(request);
    const setCookie = response.headers.get("set-cookie");
    if (setCookie !== null) {
      const pair = setCookie.slice(0, setCookie.indexOf(";"));
      this.cookie = /Max-Age=0/.test(setCookie) ? null : pair;
    }
    return response;
  }

  async signIn(identifier: string): Promise<Response> {
    return await this.request("/signin", { form: { identifier } });
  }
}

Deno.test("demo app: sign-in validation", async (t) => {
  const handler = createDemoApp({ cookieSecret: SECRET });

  await t.step(
    "an invalid DID answers 400 with the library's message",
    async () => {
      const client = new Client(handler);
      const response = await client.signIn("did:PLC:abc");
      assert.equal(response.status, 400);
      assert.equal(response.headers.get("set-cookie"), null);
      const body = await response.text();
      assert.match(body, /Invalid did: expected a DID such as/);
      assert.match(body, /did:PLC:abc/);
    },
  );

  await t.step(
    "a value that is neither handle nor DID answers 400",
    async () => {
      const response = await new Client(handler).signIn("not a handle");
      assert.equal(response.status, 400);
      assert.match(await response.text(), /is neither a handle/);
    },
  );

  await t.step("an empty value answers 400", async () => {
    const response = await new Client(handler).signIn("   ");
    assert.equal(response.status, 400);
    assert.match(await response.text(), /Enter a handle/);
  });

  await t.step("a hostile handle is HTML-escaped everywhere", async () => {
    const hostile = `<script>alert("x")</script>'.bsky.social`;
    const response = await new Client(handler).signIn(hostile);
    assert.equal(response.status, 400);
    const body = await response.text();
    assert.ok(!body.includes("<script>"), "no raw <script> in the page");
    assert.match(body, /&lt;script&gt;alert\(/);
    assert.match(body, /value="&lt;script&gt;alert\(&quot;x&quot;\)/);
  });

  await t.step("a hostile DID is HTML-escaped in the error", async () => {
    const response = await new Client(handler).signIn(
      `did:plc:"><img src=x onerror=alert(1)>`,
    );
    assert.equal(response.status, 400);
    const body = await response.text();
    assert.ok(!body.includes("<img"), "no raw <img> in the page");
    assert.match(body, /&lt;img src=x onerror=alert\(1\)&gt;/);
  });

  await t.step("a handle maps to a stable did:plc-style DID", async () => {
    const did = await demoDidForHandle("alice.bsky.social");
    assert.match(did, /^did:plc:[a-z2-7]{24}$/);
    assert.equal(await demoDidForHandle("alice.bsky.social"), did);
    assert.notEqual(await demoDidForHandle("bob.bsky.social"), did);
    const client = new Client(handler);
    const response = await client.signIn("@Alice.Bsky.Social");
    assert.equal(response.status, 303);
    await response.body?.cancel();
    const me = await client.request("/api/me");
    const json = await me.json();
    assert.equal(json.did, did);
    assert.equal(json.handle, "alice.bsky.social");
  });
});

Deno.test("demo app: /api/me", async (t) => {
  const handler = createDemoApp({ cookieSecret: SECRET });

  await t.step(
    "without credentials answers 401 NO_COOKIE as JSON",
    async () => {
      const response = await new Client(handler).request("/api/me");
      assert.equal(response.status, 401);
      assert.match(response.headers.get("content-type")!, /^application\/json/);
      assert.deepEqual(await response.json(), {
        error: "NO_COOKIE",
        message: "No session cookie",
      });
    },
  );

  await t.step(
    "a malformed Bearer header answers 401 INVALID_TOKEN",
    async () => {
      const response = await new Client(handler).request("/api/me", {
        headers: { authorization: "Bearer not*a*seal" },
      });
      assert.equal(response.status, 401);
      assert.equal((await response.json()).error, "INVALID_TOKEN");
      assert.match(response.headers.get("www-authenticate")!, /^Bearer /);
    },
  );

  await t.step("a forged cookie answers 401 and is cleared", async () => {
    const client = new Client(handler);
    client.cookie = "sid=Fe26.2**garbage";
    const response = await client.request("/api/me");
    assert.equal(response.status, 401);
    assert.equal((await response.json()).error, "INVALID_COOKIE");
    assert.match(response.headers.get("set-cookie")!, /^sid=; Max-Age=0/);
  });
});

Deno.test("demo app: cross-origin POSTs are refused", async (t) => {
  const handler = createDemoApp({ cookieSecret: SECRET });
  const client = new Client(handler);
  const signedIn = await client.signIn("did:web:example.com");
  assert.equal(signedIn.status, 303);
  const cookie = client.cookie;
  assert.ok(cookie !== null);

  const cases: readonly [string, Record<string, string>][] = [
    ["another origin", { origin: "https://evil.example" }],
    ["another port", { origin: "http://localhost:9999" }],
    ["an opaque origin", { origin: "null" }],
    ["no Origin header", {}],
  ];
  for (const [name, headers] of cases) {
    await t.step(`a POST with ${name} answers 403`, async () => {
      const request = new Request(`${ORIGIN}/signout`, {
        method: "POST",
        headers: {
          ...headers,
          cookie,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: "",
      });
      const response = await handler(request);
      assert.equal(response.status, 403);
      assert.equal(response.headers.get("set-cookie"), null);
      assert.match(await response.text(), /Cross-origin request refused/);
    });
  }

  await t.step("a cross-origin sign-in (login CSRF) answers 403", async () => {
    const response = await handler(
      new Request(`${ORIGIN}/signin`, {
        method: "POST",
        headers: { origin: "https://evil.example" },
        body: new URLSearchParams({ identifier: "did:web:evil.example" }),
      }),
    );
    assert.equal(response.status, 403);
    assert.equal(response.headers.get("set-cookie"), null);
    await response.body?.cancel();
  });

  await t.step("the session survived every refused POST", async () => {
    const response = await client.request("/api/me");
    assert.equal(response.status, 200);
    assert.equal((await response.json()).did, "did:web:example.com");
  });

  await t.step(
    "a same-origin POST that is not a form answers 400",
    async () => {
      const response = await handler(
        new Request(`${ORIGIN}/signin`, {
          method: "POST",
          headers: { origin: ORIGIN, "content-type": "application/json" },
          body: "{}",
        }),
      );
      assert.equal(response.status, 400);
      await response.body?.cancel();
    },
  );

  await t.step("an oversized form answers 400", async () => {
    const response = await client.request("/signin", {
      form: { identifier: "x".repeat(20_000) },
    });
    assert.equal(response.status, 400);
    assert.match(await response.text(), /at most 16384 bytes/);
  });
});

Deno.test("demo app: sessions, devices and tokens", async (t) => {
  let clock = Date.UTC(2025, 0, 1, 12, 0, 0);
  const handler = createDemoApp({ cookieSecret: SECRET, now: () => clock });
  const laptop = new Client(handler, "Mozilla/5.0 (X11; Linux) Firefox/130.0");
  const phone = new Client(handler, "<b>evil agent</b>");
  const stranger = new Client(handler);
  await (await laptop.signIn("did:plc:ewvi7nxzyoun6zhxrhs64oiz")).body
    ?.cancel();
  await (await phone.signIn("did:plc:ewvi7nxzyoun6zhxrhs64oiz")).body?.cancel();
  await (await stranger.signIn("did:web:stranger.example")).body?.cancel();

  await t.step("the home page shows the DID and no handle", async () => {
    const response = await laptop.request("/");
    assert.equal(response.status, 200);
    const body = await response.text();
    assert.match(body, /did:plc:ewvi7nxzyoun6zhxrhs64oiz/);
    assert.match(body, /none \(signed in with a DID\)/);
    assert.equal(response.headers.get("cache-control"), "no-store");
  });

  await t.step("pages forward the sliding refresh cookie", async () => {
    const before = laptop.cookie;
    clock += 120_000;
    const response = await laptop.request("/");
    await response.body?.cancel();
    assert.match(response.headers.get("set-cookie")!, /^sid=Fe26\.2\*/);
    assert.notEqual(laptop.cookie, before);
  });

  await t.step("the devices page lists both devices, escaped", async () => {
    const body = await (await laptop.request("/devices")).text();
    assert.match(body, /2 active sessions/);
    assert.match(body, /Firefox on Linux/);
    assert.match(body, /This device/);
    assert.match(body, /&lt;b&gt;evil agent&lt;\/b&gt;/);
    assert.ok(!body.includes("<b>evil"));
  });

  const strangerId = await sessionIdOf(stranger);
  await t.step("another DID's session cannot be revoked", async () => {
    const response = await laptop.request("/devices/revoke", {
      form: { sessionId: strangerId },
    });
    assert.equal(response.status, 404);
    await response.body?.cancel();
    const me = await stranger.request("/api/me");
    assert.equal(me.status, 200);
    await me.body?.cancel();
  });

  await t.step(
    "revoking the phone signs it out on its next request",
    async () => {
      const phoneId = await sessionIdOf(phone);
      const response = await laptop.request("/devices/revoke", {
        form: { sessionId: phoneId },
      });
      assert.equal(response.status, 200);
      assert.match(await response.text(), /1 active session\b/);
      const page = await phone.request("/devices");
      assert.equal(page.status, 401);
      assert.match(
        await page.text(),
        /Session was revoked \(SESSION_REVOKED\)/,
      );
      assert.equal(phone.cookie, null, "the rejected cookie was cleared");
    },
  );

  await t.step("a Bearer token works until it is revoked", async () => {
    const minted = await (await laptop.request("/token", { form: {} })).text();
    const token = /<pre id="token">([^<]+)<\/pre>/.exec(minted)?.[1];
    assert.ok(token !== undefined, "the page shows the token");
    assert.match(minted, /curl -H &#39;Authorization: Bearer Fe26\.2\*/);
    assert.match(minted, /http:\/\/localhost:8000\/api\/me/);
    const bearer = { authorization: `Bearer ${token}` };
    const ok = await new Client(handler).request("/api/me", {
      headers: bearer,
    });
    assert.equal(ok.status, 200);
    const json = await ok.json();
    assert.equal(json.did, "did:plc:ewvi7nxzyoun6zhxrhs64oiz");
    assert.equal(json.via, "bearer");

    const notYours = await stranger.request("/token/revoke", {
      form: { token },
    });
    assert.equal(notYours.status, 403);
    await notYours.body?.cancel();

    const revoked = await laptop.request("/token/revoke", { form: { token } });
    assert.equal(revoked.status, 200);
    assert.match(await revoked.text(), /Token revoked/);
    const rejected = await new Client(handler).request("/api/me", {
      headers: bearer,
    });
    assert.equal(rejected.status, 401);
    assert.deepEqual(await rejected.json(), {
      error: "TOKEN_REVOKED",
      message: "Bearer token was revoked",
    });
    const again = await laptop.request("/token/revoke", { form: { token } });
    assert.equal(again.status, 400);
    await again.body?.cancel();
  });

  await t.step(
    "sign out everywhere ends every session of the DID",
    async () => {
      const second = new Client(handler);
      await (await second.signIn("did:plc:ewvi7nxzyoun6zhxrhs64oiz")).body
        ?.cancel();
      const response = await laptop.request("/devices/revoke-all", {
        form: {},
      });
      assert.equal(response.status, 303);
      assert.equal(laptop.cookie, null);
      const me = await second.request("/api/me");
      assert.equal(me.status, 401);
      assert.equal((await me.json()).error, "SESSION_REVOKED");
    },
  );

  await t.step(
    "sign out clears the cookie and revokes the session",
    async () => {
      const client = new Client(handler);
      await (await client.signIn("carol.example.com")).body?.cancel();
      const copy = client.cookie;
      const response = await client.request("/signout", { form: {} });
      assert.equal(response.status, 303);
      assert.equal(response.headers.get("location"), "/");
      assert.match(response.headers.get("set-cookie")!, /^sid=; Max-Age=0/);
      client.cookie = copy;
      const replay = await client.request("/api/me");
      assert.equal(replay.status, 401);
      assert.equal((await replay.json()).error, "SESSION_REVOKED");
    },
  );

  await t.step("unknown paths and wrong methods", async () => {
    const missing = await laptop.request("/nope");
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const wrong = await laptop.request("/signout");
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get("allow"), "POST");
    await wrong.body?.cancel();
  });
});

/** The server-side id of a client's session, via its devices page. */
async function sessionIdOf(client: Client): Promise<string> {
  const body = await (await client.request("/devices")).text();
  const id = /data-session-id="([^"]+)" data-current="true"/.exec(body)?.[1];
  assert.ok(id !== undefined, "the devices page marks this device");
  return id;
}
