/**
 * The demo's handler, called directly: what needs no PDS (the sign-in
 * page, input validation, the Origin check, Post/Redirect/Get, hand-off
 * codes and tokens, the request log), and what happens when the PDS cannot
 * be reached or holds no OAuth session. The OAuth flow itself runs against
 * the real PDS in `demo_e2e_test.ts`.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { createDemoApp, type DemoApp } from "../../examples/demo/app.ts";

const ORIGIN = "http://127.0.0.1:8000";
const DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const OTHER_DID = "did:plc:yk4dd2qkboz2yv6tpubpc6co";

/** A port nothing listens on: the PDS and PLC directory are "down". */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

function demo(): { app: DemoApp; logs: string[] } {
  const logs: string[] = [];
  const pds = `http://localhost:${closedPort()}`;
  const app = createDemoApp({
    origin: ORIGIN,
    network: { pdsUrl: pds, plcUrl: `http://localhost:${closedPort()}` },
    testAccount: { handle: "alice.test", password: "alice-password" },
    publicNetwork: false,
    pdsTimeoutMs: 1_000,
    log: (line) => void logs.push(line),
  });
  return { app, logs };
}

/** A browser-like client: keeps the cookie, sends Origin on POST. */
class Client {
  cookie: string | null = null;
  readonly #app: DemoApp;

  constructor(app: DemoApp) {
    this.#app = app;
  }

  async request(
    path: string,
    init: {
      form?: Record<string, string>;
      headers?: Record<string, string>;
      origin?: string | null;
    } = {},
  ): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("user-agent", "DemoTest/1.0");
    if (this.cookie !== null) headers.set("cookie", this.cookie);
    let request: Request;
    if (init.form === undefined) {
      request = new Request(ORIGIN + path, { headers });
    } else {
      const origin = init.origin === undefined ? ORIGIN : init.origin;
      if (origin !== null) headers.set("origin", origin);
      request = new Request(ORIGIN + path, {
        method: "POST",
        headers,
        body: new URLSearchParams(init.form),
      });
    }
    const response = await this.#app.handler(request);
    const setCookie = response.headers.get("set-cookie");
    if (setCookie !== null) {
      const pair = setCookie.slice(0, setCookie.indexOf(";"));
      this.cookie = /Max-Age=0/.test(setCookie) ? null : pair;
    }
    return response;
  }

  /** Signs in without OAuth, as the callback would (for POST-only flows). */
  async signInAs(did: string): Promise<void> {
    const setCookie = await this.#app.sessions.createSession({ did });
    this.cookie = setCookie.slice(0, setCookie.indexOf(";"));
  }
}

Deno.test({
  name: "demo app: sign-in page, handle validation and an unreachable PDS",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const { app, logs } = demo();

    await t.step(
      "GET / signed out redirects to the sign-in page, which shows the test account",
      async () => {
        const client = new Client(app);
        const home = await client.request("/");
        assert.equal(home.status, 303);
        assert.equal(home.headers.get("location"), "/signin");
        const page = await client.request("/signin");
        assert.equal(page.status, 200);
        const body = await page.text();
        assert.match(body, /id="test-handle">alice\.test</);
        assert.match(body, /id="test-password">alice-password</);
        assert.match(body, /value="alice\.test"/);
      },
    );

    await t.step(
      "POST /signin with a hostile, oversized handle redirects back with it escaped and capped",
      async () => {
        const client = new Client(app);
        const hostile = `<img src=x onerror=alert(1)>${"y".repeat(5_000)}`;
        const response = await client.request("/signin", {
          form: { handle: hostile },
        });
        assert.equal(response.status, 303);
        const location = response.headers.get("location")!;
        assert.match(location, /^\/signin\?notice=invalid-handle&handle=/);
        const page = await (await client.request(location)).text();
        assert.ok(!page.includes("<img src=x"), "no markup from input");
        assert.match(page, /&lt;img src=x onerror=alert\(1\)&gt;y+/);
        assert.ok(page.length < 12_000, `page is ${page.length} bytes`);
      },
    );

    await t.step(
      "POST /signin for a handle whose PDS is down redirects with resolve-failed",
      async () => {
        const response = await new Client(app).request("/signin", {
          form: { handle: "alice.test" },
        });
        assert.equal(response.status, 303);
        assert.equal(
          response.headers.get("location"),
          "/signin?notice=resolve-failed&handle=alice.test",
        );
        assert.equal(logs.at(-1), "POST /signin 303 RESOLVE_FAILED");
      },
    );

    await t.step(
      "a handle outside .test is refused when the public network is off",
      async () => {
        const response = await new Client(app).request("/signin", {
          form: { handle: "someone.bsky.social" },
        });
        assert.match(
          response.headers.get("location")!,
          /notice=invalid-handle/,
        );
      },
    );

    await t.step(
      "a callback with a code it never issued signs no one in, and its query is not logged",
      async () => {
        const client = new Client(app);
        const response = await client.request(
          "/oauth/callback?code=SECRET-CODE&state=nope&iss=http%3A%2F%2Flocalhost",
        );
        assert.equal(response.status, 303);
        assert.equal(
          response.headers.get("location"),
          "/signin?notice=callback-failed",
        );
        assert.equal(client.cookie, null);
        assert.equal(
          logs.at(-1),
          "GET /oauth/callback 303 OAUTH_CALLBACK_FAILED",
        );
      },
    );
  },
});

Deno.test({
  name: "demo app: cross-origin POSTs are refused and name the origin expected",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const { app, logs } = demo();
    const client = new Client(app);
    await client.signInAs(DID);

    for (
      const [name, origin, reason] of [
        ["another site", "https://evil.example", "ORIGIN_MISMATCH"],
        ["Origin: null", "null", "ORIGIN_NULL"],
        ["no Origin", null, "ORIGIN_MISSING"],
      ] as const
    ) {
      await t.step(
        `POST /signout-everywhere with ${name} answers 403 ${reason}`,
        async () => {
          const response = await client.request("/signout-everywhere", {
            form: {},
            origin,
          });
          assert.equal(response.status, 403);
          const body = await response.text();
          assert.match(
            body,
            /must be sent from a page of\s+<code>http:\/\/127\.0\.0\.1:8000<\/code>/,
          );
          assert.match(body, new RegExp(reason));
          assert.equal(logs.at(-1), `POST /signout-everywhere 403 ${reason}`);
        },
      );
    }

    await t.step(
      "a hostile Origin is escaped on the refusal page",
      async () => {
        const response = await client.request("/signin", {
          form: { handle: "alice.test" },
          origin: "https://<b>evil</b>.example",
        });
        assert.equal(response.status, 403);
        const body = await response.text();
        assert.ok(!body.includes("<b>evil</b>"));
        assert.match(body, /&lt;b&gt;evil&lt;\/b&gt;/);
      },
    );

    await t.step("the session survived every refused POST", async () => {
      assert.equal((await app.sessions.listSessions(DID)).length, 1);
      assert.notEqual(client.cookie, null);
    });
  },
});

Deno.test({
  name:
    "demo app: hand-off codes, tokens, revocation and sign-out answer with redirects",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const { app, logs } = demo();
    const browser = new Client(app);
    await browser.signInAs(DID);
    let token = "";

    await t.step(
      "POST /connect answers 303 /connect (no page rendered from a POST)",
      async () => {
        const response = await browser.request("/connect", { form: {} });
        assert.equal(response.status, 303);
        assert.equal(response.headers.get("location"), "/connect");
      },
    );

    await t.step(
      "POST /api/handoff trades a code for a token once, as JSON or plain text, without an Origin",
      async () => {
        const { code } = await app.sessions.createHandoffCode({ did: DID });
        const redeem = (accept: string): Promise<Response> =>
          app.handler(
            new Request(`${ORIGIN}/api/handoff`, {
              method: "POST",
              headers: { accept, "user-agent": "curl/8.5.0" },
              body: new URLSearchParams({ code, label: "my phone" }),
            }),
          );
        const first = await redeem("text/plain");
        assert.equal(first.status, 200);
        token = await first.text();
        assert.match(token, /^Fe26\.2\*/);
        const second = await redeem("application/json");
        assert.equal(second.status, 400);
        assert.equal((await second.json()).error, "invalid_code");
        const records = await app.sessions.listSessions(DID);
        const tokenRecord = records.find((r) => r.kind === "token");
        assert.equal(tokenRecord?.metadata.label, "my phone");
        assert.equal(tokenRecord?.metadata.userAgent, "curl/8.5.0");
        for (const line of logs) {
          assert.ok(!line.includes(code) && !line.includes(token));
        }
      },
    );

    await t.step("GET /api/me answers for the Bearer token", async () => {
      const response = await app.handler(
        new Request(`${ORIGIN}/api/me`, {
          headers: { authorization: `Bearer ${token}` },
        }),
      );
      assert.equal(response.status, 200);
      const body = await response.json();
      assert.equal(body.did, DID);
      assert.equal(body.via, "bearer");
    });

    await t.step(
      "another DID's session cannot be revoked: 303 to not-found, and it lives on",
      async () => {
        const setCookie = await app.sessions.createSession({ did: OTHER_DID });
        assert.ok(setCookie);
        const [theirs] = await app.sessions.listSessions(OTHER_DID);
        const response = await browser.request("/devices/revoke", {
          form: { sessionId: theirs!.id },
        });
        assert.equal(response.status, 303);
        assert.equal(
          response.headers.get("location"),
          "/devices?notice=not-found",
        );
        assert.equal((await app.sessions.listSessions(OTHER_DID)).length, 1);
      },
    );

    await t.step(
      "revoking the token from Devices answers 303, and /api/me then says TOKEN_REVOKED",
      async () => {
        const record = (await app.sessions.listSessions(DID)).find((r) =>
          r.kind === "token"
        )!;
        const response = await browser.request("/devices/revoke", {
          form: { sessionId: record.id },
        });
        assert.equal(response.status, 303);
        assert.equal(
          response.headers.get("location"),
          "/devices?notice=revoked",
        );
        const me = await app.handler(
          new Request(`${ORIGIN}/api/me`, {
            headers: { authorization: `Bearer ${token}` },
          }),
        );
        assert.equal(me.status, 401);
        assert.equal((await me.json()).error, "TOKEN_REVOKED");
      },
    );

    await t.step(
      "a cookie whose OAuth session is gone is signed out with OAUTH_SESSION_ENDED",
      async () => {
        const client = new Client(app);
        await client.signInAs(DID);
        const response = await client.request("/devices");
        assert.equal(response.status, 303);
        assert.equal(
          response.headers.get("location"),
          "/signin?notice=OAUTH_SESSION_ENDED",
        );
        assert.equal(client.cookie, null);
        const page =
          await (await client.request("/signin?notice=OAUTH_SESSION_ENDED"))
            .text();
        assert.match(page, /Your OAuth session at your PDS has ended/);
      },
    );

    await t.step(
      "POST /signout answers 303 and clears the cookie",
      async () => {
        const client = new Client(app);
        await client.signInAs(OTHER_DID);
        const response = await client.request("/signout", { form: {} });
        assert.equal(response.status, 303);
        assert.match(response.headers.get("location")!, /^\/signin\?notice=/);
        assert.equal(client.cookie, null);
      },
    );

    await t.step("no log line holds a cookie, seal or code", () => {
      assert.ok(logs.length >= 8);
      for (const line of logs) {
        assert.doesNotMatch(line, /Fe26|sid=|code=|\?/);
        assert.match(line, /^(GET|POST) \/\S* \d{3}( [A-Z_]+)?$/);
      }
    });
  },
});

Deno.test({
  name: "demo app: unknown paths, wrong methods, oversized forms, other hosts",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const { app } = demo();
    const client = new Client(app);

    await t.step(
      "an unknown path answers 404 with the path escaped",
      async () => {
        const response = await client.request("/%3Cscript%3E");
        assert.equal(response.status, 404);
        assert.ok(!(await response.text()).includes("<script>"));
      },
    );

    await t.step("a wrong method answers 405 with Allow", async () => {
      const response = await client.request("/devices", { form: {} });
      assert.equal(response.status, 405);
      assert.equal(response.headers.get("allow"), "GET");
      await response.body?.cancel();
    });

    await t.step("an oversized form answers 400", async () => {
      const response = await client.request("/signin", {
        form: { handle: "x".repeat(20_000) },
      });
      assert.equal(response.status, 400);
      await response.body?.cancel();
    });

    await t.step(
      "a GET on another host (localhost) is sent to the 127.0.0.1 origin",
      async () => {
        const response = await app.handler(
          new Request("http://localhost:8000/devices"),
        );
        assert.equal(response.status, 303);
        assert.equal(
          response.headers.get("location"),
          "http://127.0.0.1:8000/devices",
        );
      },
    );

    await t.step(
      "pages carry a CSP whose form-action allows this origin and the PDS",
      async () => {
        const response = await client.request("/signin");
        const csp = response.headers.get("content-security-policy")!;
        assert.match(csp, /form-action 'self' http:\/\/localhost:\d+ https:/);
        assert.match(csp, /default-src 'none'/);
        assert.equal(response.headers.get("cache-control"), "no-store");
        await response.body?.cancel();
      },
    );
  },
});

Deno.test(
  "demo main.ts: a busy PORT answers one line saying how to pick another, before starting the network",
  async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const port = listener.addr.port;
      const main = fileURLToPath(
        new URL("../../examples/demo/main.ts", import.meta.url),
      );
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-net",
          "--allow-env",
          "--allow-run",
          "--allow-read",
          "--allow-write",
          main,
        ],
        env: { PORT: String(port), NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(output.code, 1);
      const stderr = new TextDecoder().decode(output.stderr).trim();
      assert.equal(
        stderr,
        `Port ${port} is already in use: pick another with PORT, e.g. PORT=${
          port + 1
        }`,
      );
      assert.equal(new TextDecoder().decode(output.stdout), "");
    } finally {
      listener.close();
    }
  },
);
