// deno-lint-ignore-file no-console
/**
 * Cookie sessions in a plain Node.js (or Bun) server, with no framework:
 * sign in, a protected route, sign out, and the CSRF origin check.
 *
 * Run it with Node itself, from a build of this repository:
 *
 * ```sh
 * deno task build                  # bundles the package into dist/
 * COOKIE_SECRET="$(openssl rand -base64 48)" node examples/node/server.mjs
 * curl -i -X POST http://127.0.0.1:8000/login -H 'Origin: http://127.0.0.1:8000' -d '{"did":"did:plc:ewvi7nxzyoun6zhxrhs64oiz"}'
 * ```
 *
 * `bun examples/node/server.mjs` works the same. In your own project, install
 * the package (`npx jsr add @tijs/atproto-sessions`) and import from
 * "@tijs/atproto-sessions" instead of "../../dist/mod.js".
 */

import { createServer } from "node:http";
import process from "node:process";
import { isValidDid, SessionManager } from "../../dist/mod.js";

const sessions = new SessionManager({
  cookieSecret: process.env.COOKIE_SECRET ?? "",
});

/** The parts of a Node request the session manager reads, as Web types. */
function webRequest(req) {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === "string") headers.set(name, value);
    else if (Array.isArray(value)) headers.set(name, value.join(", "));
  }
  return {
    method: req.method ?? "GET",
    url: `http://${req.headers.host ?? "127.0.0.1"}${req.url ?? "/"}`,
    headers,
  };
}

async function readJson(req) {
  let body = "";
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10_000) return null;
  }
  try {
    return JSON.parse(body);
  } catch {
    return null;
  }
}

function send(res, status, body, setCookie) {
  const headers = { "content-type": "application/json" };
  if (setCookie) headers["set-cookie"] = setCookie;
  res.writeHead(status, headers);
  res.end(body === null ? undefined : JSON.stringify(body));
}

const server = createServer(async (req, res) => {
  const request = webRequest(req);
  const { pathname } = new URL(request.url);
  const route = `${request.method} ${pathname}`;

  // Refuse state-changing requests from other sites (CSRF).
  const origin = sessions.checkOrigin(request);
  if (!origin.ok) {
    return send(res, 403, {
      error: origin.reason,
      expected: origin.expected,
    });
  }

  // Sign in. This stands in for your OAuth callback: once the AT Protocol
  // OAuth client has given you the user's DID, create the session.
  if (route === "POST /login") {
    const body = await readJson(req);
    if (!isValidDid(body?.did)) return send(res, 400, { error: "INVALID_DID" });
    const setCookie = await sessions.createSession({ did: body.did });
    return send(res, 200, { did: body.did }, setCookie);
  }

  // A protected route.
  if (route === "GET /me") {
    const { data, setCookieHeader, error } = await sessions
      .getSessionFromRequest(request);
    // Always forward it: it refreshes a valid cookie, clears a rejected one.
    if (error) return send(res, 401, { error: error.type }, setCookieHeader);
    return send(res, 200, { did: data.did }, setCookieHeader);
  }

  // Sign out. With a store, also call sessions.revokeSession(sessionId).
  if (route === "POST /logout") {
    return send(res, 204, null, sessions.getClearCookieHeader());
  }

  send(res, 404, { error: "NOT_FOUND" });
});

const port = Number(process.env.PORT ?? 8000);
server.on("error", (error) => {
  if (error.code === "EADDRINUSE") {
    console.error(
      `Port ${port} is already in use: pick another with PORT, e.g. PORT=${
        port + 1
      }`,
    );
    process.exit(1);
  }
  throw error;
});
server.listen(port, "127.0.0.1", () => {
  console.log(`Listening on http://127.0.0.1:${server.address().port}/`);
});
