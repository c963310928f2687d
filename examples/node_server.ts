/**
 * Cookie sessions in a Node.js server: a Hono app served by
 * `@hono/node-server` (Node's `http` module underneath). Sign in, a protected
 * route, sign out.
 *
 * In a Node project, install the packages (`npx jsr add
 * @tijs/atproto-sessions`, `npm install hono @hono/node-server`) and import
 * them by those names. Here in the repository it runs with Deno (and, bundled,
 * under Node and Bun in tests/runtimes):
 *
 * ```sh
 * COOKIE_SECRET="$(openssl rand -base64 48)" deno run --allow-net=127.0.0.1 --allow-env=COOKIE_SECRET examples/node_server.ts
 * ```
 *
 * @module
 */

import { createAdaptorServer } from "npm:@hono/node-server@^2.1.0";
import { Hono } from "npm:hono@^4.13.0";
import type { Server } from "node:http";
import process from "node:process";
import { isValidDid, SessionManager } from "../mod.ts";

/**
 * Builds the server, not yet listening.
 *
 * @param sessions The app's one `SessionManager`.
 * @returns A Node `http.Server`; call `server.listen(port, hostname)`.
 */
export function createServer(sessions: SessionManager): Server {
  const app = new Hono();

  // Refuse state-changing requests from other sites (CSRF).
  app.use(async (c, next) => {
    const origin = sessions.checkOrigin(c.req.raw);
    if (!origin.ok) {
      return c.json({ error: origin.reason, expected: origin.expected }, 403);
    }
    await next();
  });

  // Sign in. This stands in for your OAuth callback: once the AT Protocol
  // OAuth client has given you the user's DID, create the session.
  app.post("/login", async (c) => {
    const body = await c.req.json().catch(() => null);
    if (!isValidDid(body?.did)) return c.json({ error: "INVALID_DID" }, 400);
    c.header("Set-Cookie", await sessions.createSession({ did: body.did }));
    return c.json({ did: body.did });
  });

  // A protected route. `c.req.raw` is a Web Request even on Node.
  app.get("/me", async (c) => {
    const { data, setCookieHeader, error } = await sessions
      .getSessionFromRequest(c.req.raw);
    // Always forward it: it refreshes a valid cookie, clears a rejected one.
    if (setCookieHeader) c.header("Set-Cookie", setCookieHeader);
    if (error) return c.json({ error: error.type }, 401);
    return c.json({ did: data.did });
  });

  // Sign out. With a store, also call sessions.revokeSession(sessionId).
  app.post("/logout", (c) => {
    c.header("Set-Cookie", sessions.getClearCookieHeader());
    return c.body(null, 204);
  });

  return createAdaptorServer({ fetch: app.fetch }) as Server;
}

if (import.meta.main) {
  const sessions = new SessionManager({
    cookieSecret: process.env.COOKIE_SECRET ?? "",
  });
  createServer(sessions).listen(8000, "127.0.0.1", () => {
    // deno-lint-ignore no-console
    console.log("Listening on http://127.0.0.1:8000/");
  });
}
