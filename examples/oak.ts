/**
 * Cookie sessions with Oak: sign in, a protected route, sign out.
 *
 * ```sh
 * COOKIE_SECRET="$(openssl rand -base64 48)" deno run --allow-net=127.0.0.1 --allow-env=COOKIE_SECRET,PORT,_ISEXE_TEST_PLATFORM_,NODE_V8_COVERAGE,UNDICI_NO_FG,JEST_WORKER_ID examples/oak.ts
 * ```
 *
 * It listens on `PORT` (default 8000). The extra environment variables are
 * ones oak's npm dependencies (isexe, undici) read as they load; without
 * them a scoped `--allow-env` stops the app before it starts.
 *
 * This uses oak's npm build (`@oakserver/oak`, oak 14; newer releases are on
 * JSR as `@oak/oak`, where the code is the same). On Deno it serves through
 * its Node.js server and warns that `send()` does not work under Node.js:
 * this app serves no files.
 *
 * @module
 */

import { Application, Router } from "npm:@oakserver/oak@^14.1.0";
import { isValidDid, SessionManager } from "../mod.ts";
import { exitIfPortInUse, portFromEnv } from "./_serve.ts";

/**
 * Builds the Oak application.
 *
 * @param sessions The app's one `SessionManager`.
 * @returns The application; call `app.listen()`.
 */
export function createApp(sessions: SessionManager): Application {
  const router = new Router();

  // Sign in. This stands in for your OAuth callback: once the AT Protocol
  // OAuth client has given you the user's DID, create the session.
  router.post("/login", async (ctx) => {
    const body = await ctx.request.body.json().catch(() => null);
    if (!isValidDid(body?.did)) {
      ctx.response.status = 400;
      ctx.response.body = { error: "INVALID_DID" };
      return;
    }
    const setCookie = await sessions.createSession({ did: body.did });
    ctx.response.headers.set("Set-Cookie", setCookie);
    ctx.response.body = { did: body.did };
  });

  // A protected route. The manager reads only the Cookie header, so Oak's
  // request (which has Web Headers) can be passed as it is.
  router.get("/me", async (ctx) => {
    const { data, setCookieHeader, error } = await sessions
      .getSessionFromRequest(ctx.request);
    // Always forward it: it refreshes a valid cookie, clears a rejected one.
    if (setCookieHeader) {
      ctx.response.headers.set("Set-Cookie", setCookieHeader);
    }
    if (error) {
      ctx.response.status = 401;
      ctx.response.body = { error: error.type };
      return;
    }
    ctx.response.body = { did: data.did };
  });

  // Sign out. With a store, also call sessions.revokeSession(sessionId).
  router.post("/logout", (ctx) => {
    ctx.response.headers.set("Set-Cookie", sessions.getClearCookieHeader());
    ctx.response.status = 204;
  });

  const app = new Application();
  // Refuse state-changing requests from other sites (CSRF).
  app.use(async (ctx, next) => {
    const origin = sessions.checkOrigin({
      method: ctx.request.method,
      url: ctx.request.url.href,
      headers: ctx.request.headers,
    });
    if (!origin.ok) {
      ctx.response.status = 403;
      ctx.response.body = { error: origin.reason, expected: origin.expected };
      return;
    }
    await next();
  });
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

if (import.meta.main) {
  const sessions = new SessionManager({
    cookieSecret: Deno.env.get("COOKIE_SECRET") ?? "",
  });
  const port = portFromEnv();
  exitIfPortInUse(port);
  const app = createApp(sessions);
  app.addEventListener("listen", ({ hostname, port }) => {
    // deno-lint-ignore no-console
    console.log(`Listening on http://${hostname}:${port}/`);
  });
  await app.listen({ hostname: "127.0.0.1", port });
}
