/**
 * Cookie sessions with `Deno.serve`: sign in, a protected route, sign out.
 *
 * ```sh
 * COOKIE_SECRET="$(openssl rand -base64 48)" deno run --allow-net=127.0.0.1 --allow-env=COOKIE_SECRET,PORT examples/deno_serve.ts
 * curl -i -X POST http://127.0.0.1:8000/login -H 'Origin: http://127.0.0.1:8000' -d '{"did":"did:plc:ewvi7nxzyoun6zhxrhs64oiz"}'
 * ```
 *
 * It listens on `PORT` (default 8000); set `PORT=8001` when 8000 is taken.
 *
 * @module
 */

import { isValidDid, SessionManager } from "../mod.ts";
import { serveOnPort } from "./_serve.ts";

/**
 * Builds the app's request handler.
 *
 * @param sessions The app's one `SessionManager`.
 * @returns A handler for `Deno.serve`.
 */
export function createHandler(
  sessions: SessionManager,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const { pathname } = new URL(request.url);
    const route = `${request.method} ${pathname}`;

    // Refuse state-changing requests from other sites (CSRF).
    const origin = sessions.checkOrigin(request);
    if (!origin.ok) {
      return Response.json(
        { error: origin.reason, expected: origin.expected },
        { status: 403 },
      );
    }

    // Sign in. This stands in for your OAuth callback: once the AT Protocol
    // OAuth client has given you the user's DID, create the session.
    if (route === "POST /login") {
      const body = await request.json().catch(() => null);
      if (!isValidDid(body?.did)) {
        return Response.json({ error: "INVALID_DID" }, { status: 400 });
      }
      const setCookie = await sessions.createSession({ did: body.did });
      return Response.json({ did: body.did }, {
        headers: { "set-cookie": setCookie },
      });
    }

    // A protected route.
    if (route === "GET /me") {
      const { data, setCookieHeader, error } = await sessions
        .getSessionFromRequest(request);
      const headers = new Headers();
      // Always forward it: it refreshes a valid cookie, clears a rejected one.
      if (setCookieHeader) headers.set("set-cookie", setCookieHeader);
      if (error) {
        return Response.json({ error: error.type }, { status: 401, headers });
      }
      return Response.json({ did: data.did }, { headers });
    }

    // Sign out. With a store, also call sessions.revokeSession(sessionId).
    if (route === "POST /logout") {
      return new Response(null, {
        status: 204,
        headers: { "set-cookie": sessions.getClearCookieHeader() },
      });
    }

    return new Response("Not found", { status: 404 });
  };
}

if (import.meta.main) {
  const sessions = new SessionManager({
    cookieSecret: Deno.env.get("COOKIE_SECRET") ?? "",
  });
  serveOnPort(createHandler(sessions));
}
