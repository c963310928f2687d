/**
 * Cookie sessions with Hono: sign in, a protected route, sign out.
 *
 * ```sh
 * COOKIE_SECRET="$(openssl rand -base64 48)" deno run --allow-net=127.0.0.1 --allow-env=COOKIE_SECRET,PORT examples/hono.ts
 * ```
 *
 * It listens on `PORT` (default 8000).
 *
 * @module
 */

import { Hono } from "npm:hono@^4.13.0";
import { isValidDid, SessionManager } from "../mod.ts";
import { serveOnPort } from "./_serve.ts";

/**
 * Builds the Hono app.
 *
 * @param sessions The app's one `SessionManager`.
 * @returns The app; serve `app.fetch`.
 */
export function createApp(sessions: SessionManager): Hono {
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

  // A protected route.
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

  return app;
}

if (import.meta.main) {
  const sessions = new SessionManager({
    cookieSecret: Deno.env.get("COOKIE_SECRET") ?? "",
  });
  serveOnPort(createApp(sessions).fetch);
}
