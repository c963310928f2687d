import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { SessionManager } from "../mod.ts";
import { createHandler } from "../examples/deno_serve.ts";
import { createApp as createHonoApp } from "../examples/hono.ts";
import { createServer as createNodeServer } from "../examples/node_server.ts";
import { createApp as createOakApp } from "../examples/oak.ts";

const DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const SECRET = "an-examples-test-secret-of-at-least-32-characters";

interface RunningServer {
  readonly baseUrl: string;
  close(): Promise<void>;
}

type Start = (sessions: SessionManager) => Promise<RunningServer>;

function startDenoServe(
  handler: (request: Request) => Response | Promise<Response>,
): RunningServer {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    handler,
  );
  return {
    baseUrl: `http://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}

const startDenoServeExample: Start = (sessions) =>
  Promise.resolve(startDenoServe(createHandler(sessions)));

const startHonoExample: Start = (sessions) =>
  Promise.resolve(startDenoServe(createHonoApp(sessions).fetch));

const startNodeExample: Start = async (sessions) => {
  const server = createNodeServer(sessions);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => error ? reject(error) : resolve());
        server.closeAllConnections();
      }),
  };
};

// Oak's npm build serves through node:http on Deno, and its "listen" event
// reports the requested port rather than the bound one, before binding. So
// take a free port first, then wait until the server accepts connections.
const startOakExample: Start = async (sessions) => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = probe.addr;
  probe.close();
  const app = createOakApp(sessions);
  const controller = new AbortController();
  const closed = new Promise<void>((resolve) =>
    app.addEventListener("close", () => resolve(), { once: true })
  );
  app.listen({ hostname: "127.0.0.1", port, signal: controller.signal });
  await waitUntilAccepting(port);
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    close: async () => {
      controller.abort();
      await closed;
    },
  };
};

async function waitUntilAccepting(port: number): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

function setCookieOf(response: Response): string {
  const headers = response.headers.getSetCookie();
  assert.equal(headers.length, 1, `one Set-Cookie, got ${headers.length}`);
  return headers[0]!;
}

function post(url: string, body: string): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      origin: new URL(url).origin,
    },
    body,
  });
}

async function checkExample(t: Deno.TestContext, start: Start): Promise<void> {
  const sessions = new SessionManager({ cookieSecret: SECRET });
  const server = await start(sessions);
  const { baseUrl } = server;
  try {
    let cookie = "";

    await t.step("POST /login sets an HttpOnly session cookie", async () => {
      const response = await post(
        `${baseUrl}/login`,
        JSON.stringify({ did: DID }),
      );
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { did: DID });
      const setCookie = setCookieOf(response);
      assert.match(setCookie, /^sid=Fe26\.2\*/);
      assert.match(setCookie, /; HttpOnly(;|$)/);
      assert.match(setCookie, /; Secure(;|$)/);
      assert.match(setCookie, /; SameSite=Lax(;|$)/);
      cookie = setCookie.slice(0, setCookie.indexOf(";"));
    });

    await t.step("GET /me with the cookie returns the DID", async () => {
      const response = await fetch(`${baseUrl}/me`, { headers: { cookie } });
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { did: DID });
      assert.match(setCookieOf(response), /^sid=Fe26\.2\*.*; Max-Age=\d+;/);
    });

    await t.step("GET /me without a cookie answers 401 NO_COOKIE", async () => {
      const response = await fetch(`${baseUrl}/me`);
      assert.equal(response.status, 401);
      assert.deepEqual(await response.json(), { error: "NO_COOKIE" });
      assert.equal(response.headers.getSetCookie().length, 0);
    });

    await t.step(
      "GET /me with a tampered cookie answers 401 TAMPERED and clears it",
      async () => {
        // Alter the salt the MAC key is derived from (part 6 of 8).
        const parts = cookie.split("*");
        parts[6] = (parts[6]!.startsWith("a") ? "b" : "a") + parts[6]!.slice(1);
        const tampered = parts.join("*");
        const response = await fetch(`${baseUrl}/me`, {
          headers: { cookie: tampered },
        });
        assert.equal(response.status, 401);
        assert.deepEqual(await response.json(), { error: "TAMPERED" });
        assert.match(setCookieOf(response), /^sid=; Max-Age=0;/);
      },
    );

    await t.step(
      "POST /logout from another origin is refused with the expected origin",
      async () => {
        for (
          const [headers, reason] of [
            [{ origin: "https://evil.example" }, "ORIGIN_MISMATCH"],
            [{ origin: "null" }, "ORIGIN_NULL"],
            [{}, "ORIGIN_MISSING"],
          ] as const
        ) {
          const response = await fetch(`${baseUrl}/logout`, {
            method: "POST",
            headers: { cookie, ...headers },
          });
          assert.equal(response.status, 403);
          assert.deepEqual(await response.json(), {
            error: reason,
            expected: [baseUrl],
          });
          assert.equal(response.headers.getSetCookie().length, 0);
        }
      },
    );

    await t.step("POST /logout clears the cookie", async () => {
      const response = await fetch(`${baseUrl}/logout`, {
        method: "POST",
        headers: { cookie, origin: baseUrl },
      });
      assert.equal(response.status, 204);
      await response.body?.cancel();
      assert.equal(setCookieOf(response), sessions.getClearCookieHeader());
      assert.match(
        setCookieOf(response),
        /^sid=; Max-Age=0; Expires=Thu, 01 Jan 1970/,
      );
    });

    await t.step("POST /login with an invalid DID answers 400", async () => {
      for (
        const body of [
          JSON.stringify({ did: "alice.bsky.social" }),
          JSON.stringify({ did: "did:PLC:abc" }),
          JSON.stringify({}),
          "not json",
        ]
      ) {
        const response = await post(`${baseUrl}/login`, body);
        assert.equal(response.status, 400, body);
        assert.deepEqual(await response.json(), { error: "INVALID_DID" });
        assert.equal(response.headers.getSetCookie().length, 0);
      }
    });
  } finally {
    await server.close();
  }
}

Deno.test("examples/deno_serve.ts signs in, guards /me and signs out", (t) =>
  checkExample(t, startDenoServeExample));

Deno.test("examples/hono.ts signs in, guards /me and signs out", (t) =>
  checkExample(t, startHonoExample));

Deno.test("examples/oak.ts signs in, guards /me and signs out", (t) =>
  checkExample(t, startOakExample));

Deno.test("examples/node_server.ts signs in, guards /me and signs out", (t) =>
  checkExample(t, startNodeExample));
