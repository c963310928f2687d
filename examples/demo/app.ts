/**
 * The demo app: cookie sessions, a device list with revocation, and Bearer
 * tokens for mobile clients, on plain `Deno.serve` with URL routing.
 *
 * `createDemoApp()` returns a handler, so tests can serve it on any port:
 *
 * ```ts ignore
 * import { createDemoApp } from "./app.ts";
 *
 * Deno.serve({ hostname: "127.0.0.1", port: 8000 }, createDemoApp());
 * ```
 *
 * @module
 */

import {
  type Logger,
  SessionDataError,
  SessionManager,
  type SessionMetadata,
  type SessionResult,
  type SessionStore,
} from "../../mod.ts";
import { MemorySessionStore } from "../../src/stores/memory.ts";
import type { Html } from "./html.ts";
import {
  devicesPage,
  errorPage,
  homePage,
  type Notice,
  signInPage,
  STYLESHEET,
  tokenPage,
  type Viewer,
} from "./views.ts";

/** The app's own session field: the handle typed at sign-in, if any. */
export interface DemoFields {
  handle?: string;
}

/** Options for {@linkcode createDemoApp}. */
export interface DemoAppOptions {
  /**
   * The sealing secret, at least 32 characters.
   * @default {a random secret: sessions end when the process does}
   */
  cookieSecret?: string;
  /**
   * The clock, in milliseconds since the epoch.
   * @default {Date.now}
   */
  now?: () => number;
  /**
   * Where session records live.
   * @default {new MemorySessionStore()}
   */
  store?: SessionStore;
  /** Where the library's log lines go. The default discards them. */
  logger?: Logger;
}

/** A `Deno.serve` handler. */
export type DemoHandler = (
  request: Request,
  info?: Deno.ServeHandlerInfo,
) => Promise<Response>;

/** The largest form body the demo reads, in bytes. */
export const MAX_FORM_BYTES = 16 * 1024;

/**
 * Generates a random secret for sealing: 32 random bytes, base64url
 * encoded (43 characters).
 *
 * @returns The secret.
 */
export function generateSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
}

// atproto handle syntax: dot-separated labels of letters, digits and
// hyphens (not at either end of a label), at least two labels, a last
// label that starts with a letter, at most 253 characters.
const HANDLE_PATTERN =
  /^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;

/**
 * Maps a handle to the made-up DID the demo signs it in as: `did:plc:` and
 * 24 base32 characters of a SHA-256 of the handle, so the same handle always
 * gets the same DID. It looks like a did:plc but resolves nowhere; a real app
 * gets the DID from OAuth.
 *
 * @param handle A valid handle, lowercased.
 * @returns The demo DID.
 */
export async function demoDidForHandle(handle: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest(
      "SHA-256",
      new TextEncoder().encode(`atproto-sessions demo:${handle}`),
    ),
  );
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 24) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= 0xff;
  }
  return `did:plc:${out}`;
}

type Identity =
  | { readonly did: string; readonly handle?: string }
  | { readonly error: string };

/**
 * Turns what was typed in the sign-in form into the identity to sign in
 * as. DIDs are returned as they are: `createSession` checks their syntax.
 */
async function parseIdentifier(input: string): Promise<Identity> {
  const value = input.trim();
  if (value === "") {
    return {
      error:
        "Enter a handle such as alice.bsky.social or a DID such as did:plc:ewvi7nxzyoun6zhxrhs64oiz",
    };
  }
  if (/^did:/i.test(value)) return { did: value };
  const handle = value.replace(/^@/, "").toLowerCase();
  if (handle.length > 253 || !HANDLE_PATTERN.test(handle)) {
    return {
      error: `${
        JSON.stringify(value.slice(0, 100))
      } is neither a handle (such as alice.bsky.social: letters, digits and hyphens in dot-separated parts) nor a DID (did:<method>:<identifier>)`,
    };
  }
  return { did: await demoDidForHandle(handle), handle };
}

/**
 * Creates the demo's request handler, with its own `SessionManager` and
 * (by default) an in-memory session store.
 *
 * @param options The secret, the clock and the store.
 * @returns A handler for `Deno.serve`.
 * @throws {ConfigurationError} When `cookieSecret` is shorter than 32
 * characters.
 */
export function createDemoApp(options: DemoAppOptions = {}): DemoHandler {
  const now = options.now ?? Date.now;
  const sessions = new SessionManager<DemoFields>({
    cookieSecret: options.cookieSecret ?? generateSecret(),
    store: options.store ?? new MemorySessionStore(),
    // These are the library's defaults, spelled out: scripts cannot read the
    // cookie, it is sent over HTTPS only (browsers count http://localhost as
    // secure), and not on cross-site sub-requests or POSTs.
    cookie: { httpOnly: true, secure: true, sameSite: "Lax" },
    maxSessionsPerUser: 10,
    now,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });

  type Session = SessionResult<DemoFields>;
  type SignedIn = Extract<Session, { error: null }>;

  /** Response headers that carry the cookie decision of one request. */
  class Reply {
    readonly headers: Headers = new Headers();

    /** Forwards the library's Set-Cookie (sliding refresh, or a clear). */
    constructor(session?: Session) {
      if (session?.setCookieHeader) {
        this.headers.set("set-cookie", session.setCookieHeader);
      }
    }

    setCookie(value: string): this {
      this.headers.set("set-cookie", value);
      return this;
    }

    page(body: Html, status = 200): Response {
      this.headers.set("content-type", "text/html; charset=utf-8");
      return new Response(body.value.trimStart(), {
        status,
        headers: this.headers,
      });
    }

    json(body: unknown, status = 200): Response {
      this.headers.set("content-type", "application/json; charset=utf-8");
      return new Response(JSON.stringify(body, null, 2) + "\n", {
        status,
        headers: this.headers,
      });
    }

    redirect(location: string): Response {
      this.headers.set("location", location);
      return new Response(null, { status: 303, headers: this.headers });
    }
  }

  const viewerOf = (data: SignedIn["data"]): Viewer => ({
    did: data.did,
    handle: data.handle,
  });

  /** The sign-in page, shown in place of a page that needs a session. */
  function signedOut(session: Session, status = 200): Response {
    const error = session.error;
    const notice: Notice | undefined =
      error === null || error.type === "NO_COOKIE" ? undefined : {
        kind: error.type === "STORE_UNAVAILABLE" ? "error" : "info",
        text: `You are signed out: ${error.message} (${error.type}).`,
      };
    return new Reply(session).page(
      signInPage({ notice }),
      error?.type === "STORE_UNAVAILABLE" ? 503 : status,
    );
  }

  async function home(session: SignedIn): Promise<Response> {
    const { data } = session;
    const record = data.sessionId === undefined
      ? null
      : await sessions.getSession(data.sessionId);
    return new Reply(session).page(
      homePage({ data, record, now: now() }),
    );
  }

  async function devices(
    session: SignedIn,
    notice?: Notice,
  ): Promise<Response> {
    const { data } = session;
    const records = await sessions.listSessions(data.did);
    return new Reply(session).page(devicesPage({
      viewer: viewerOf(data),
      records,
      currentId: data.sessionId,
      now: now(),
      notice,
    }));
  }

  async function signIn(
    request: Request,
    form: URLSearchParams,
    info: Deno.ServeHandlerInfo | undefined,
  ): Promise<Response> {
    const typed = form.get("identifier") ?? "";
    const identity = await parseIdentifier(typed);
    const invalid = (message: string): Response =>
      new Reply().page(
        signInPage({
          notice: { kind: "error", text: message },
          value: typed.slice(0, 300),
        }),
        400,
      );
    if ("error" in identity) return invalid(identity.error);
    const metadata: SessionMetadata = {};
    const userAgent = request.headers.get("user-agent");
    if (userAgent) metadata.userAgent = userAgent.slice(0, 512);
    const remote = info?.remoteAddr;
    if (remote !== undefined && "hostname" in remote) {
      metadata.ipAddress = remote.hostname;
    }
    let setCookie: string;
    try {
      setCookie = await sessions.createSession(
        identity.handle === undefined
          ? { did: identity.did }
          : { did: identity.did, handle: identity.handle },
        metadata,
      );
    } catch (error) {
      // An invalid DID is the user's mistake: show the library's message.
      if (error instanceof SessionDataError) return invalid(error.message);
      throw error;
    }
    return new Reply().setCookie(setCookie).redirect("/");
  }

  async function revokeDevice(
    session: SignedIn,
    form: URLSearchParams,
  ): Promise<Response> {
    const { data } = session;
    const id = form.get("sessionId") ?? "";
    // Only the owner may revoke a session: never trust an id from a form.
    // Passing the signed-in DID makes revokeSession check ownership.
    if (id === "" || !(await sessions.revokeSession(id, data.did))) {
      return new Reply(session).page(
        errorPage(
          "Session not found",
          "That session does not exist, has ended, or is not yours.",
          viewerOf(data),
        ),
        404,
      );
    }
    if (id === data.sessionId) {
      return new Reply().setCookie(sessions.getClearCookieHeader())
        .redirect("/");
    }
    return await devices(session, {
      kind: "success",
      text: "Session revoked: that device is signed out on its next request.",
    });
  }

  async function mintToken(
    session: SignedIn,
    origin: string,
  ): Promise<Response> {
    const { data } = session;
    const token = await sessions.sealToken(
      data.handle === undefined
        ? { did: data.did }
        : { did: data.did, handle: data.handle },
    );
    const opened = await sessions.unsealToken(token);
    return new Reply(session).page(tokenPage({
      viewer: viewerOf(data),
      origin,
      now: now(),
      minted: { token, expiresAt: opened?.expiresAt ?? now() },
    }));
  }

  async function revokeToken(
    session: SignedIn,
    form: URLSearchParams,
    origin: string,
  ): Promise<Response> {
    const { data } = session;
    const token = form.get("token") ?? "";
    // unsealToken verifies the seal and returns its jti and expiry; null
    // when it is invalid, expired or already revoked.
    const opened = token === "" ? null : await sessions.unsealToken(token);
    const reply = new Reply(session);
    const page = (notice: Notice, status = 200): Response =>
      reply.page(
        tokenPage({ viewer: viewerOf(data), origin, now: now(), notice }),
        status,
      );
    if (opened === null) {
      return page({
        kind: "info",
        text: "That token is invalid, expired or already revoked.",
      }, 400);
    }
    if (
      opened.did !== data.did || opened.jti === undefined ||
      opened.expiresAt === undefined
    ) {
      return page({ kind: "error", text: "That token is not yours." }, 403);
    }
    await sessions.revokeToken(opened.jti, opened.expiresAt);
    return page({
      kind: "success",
      text: "Token revoked: /api/me now answers 401 TOKEN_REVOKED for it.",
    });
  }

  /** GET /api/me: the session as JSON, from a Bearer token or the cookie. */
  async function apiMe(request: Request): Promise<Response> {
    const authorization = request.headers.get("authorization");
    if (authorization !== null) {
      const result = await sessions.validateBearerToken(authorization);
      const reply = new Reply();
      if (result.error !== null) {
        reply.headers.set(
          "www-authenticate",
          'Bearer realm="atproto-sessions demo", error="invalid_token"',
        );
        return reply.json(
          { error: result.error.type, message: result.error.message },
          result.error.type === "STORE_UNAVAILABLE" ? 503 : 401,
        );
      }
      const { data } = result;
      return reply.json({
        did: data.did,
        handle: data.handle ?? null,
        via: "bearer",
        createdAt: new Date(data.createdAt).toISOString(),
        expiresAt: data.expiresAt === undefined
          ? null
          : new Date(data.expiresAt).toISOString(),
      });
    }
    const session = await sessions.getSessionFromRequest(request);
    const reply = new Reply(session);
    if (session.error !== null) {
      return reply.json(
        { error: session.error.type, message: session.error.message },
        session.error.type === "STORE_UNAVAILABLE" ? 503 : 401,
      );
    }
    const { data } = session;
    return reply.json({
      did: data.did,
      handle: data.handle ?? null,
      via: "cookie",
      createdAt: new Date(data.createdAt).toISOString(),
      lastAccessed: new Date(data.lastAccessed).toISOString(),
    });
  }

  async function dispatch(
    request: Request,
    info: Deno.ServeHandlerInfo | undefined,
  ): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    const method = request.method;
    const methods = ROUTES.get(path);
    if (methods === undefined) {
      return new Reply().page(
        errorPage("Not found", `There is no page at ${path}.`),
        404,
      );
    }
    if (!methods.includes(method)) {
      const reply = new Reply();
      reply.headers.set("allow", methods.join(", "));
      return reply.page(
        errorPage(
          "Method not allowed",
          `${path} answers ${methods.join(" and ")} requests only.`,
        ),
        405,
      );
    }

    if (path === "/style.css") {
      return new Response(STYLESHEET, {
        headers: {
          "content-type": "text/css; charset=utf-8",
          "cache-control": "public, max-age=300",
        },
      });
    }
    if (path === "/api/me") return await apiMe(request);

    let form = new URLSearchParams();
    if (method === "POST") {
      // CSRF defence. The session cookie is SameSite=Lax, so browsers do not
      // send it on a cross-site POST at all: a forged form on another site
      // arrives signed out. On top of that, every POST must come from a page
      // of this origin: browsers put an Origin header on every POST and a
      // page cannot forge it. That covers what SameSite does not (same-site
      // but cross-origin pages such as a sibling subdomain, old browsers) and
      // login CSRF on /signin, which needs no cookie. No CSRF tokens are
      // needed for this; non-browser clients use Bearer tokens on GET
      // /api/me and never POST here.
      if (!isSameOrigin(request, url)) {
        return new Reply().page(
          errorPage(
            "Cross-origin request refused",
            "This form must be submitted from a page of this site (the Origin header did not match).",
          ),
          403,
        );
      }
      const parsed = await readForm(request);
      if (parsed === null) {
        return new Reply().page(
          errorPage(
            "Bad request",
            `Expected an application/x-www-form-urlencoded body of at most ${MAX_FORM_BYTES} bytes.`,
          ),
          400,
        );
      }
      form = parsed;
    }

    if (path === "/signin") return await signIn(request, form, info);

    const session = await sessions.getSessionFromRequest(request);
    if (session.error !== null) {
      if (method === "POST") return new Reply(session).redirect("/");
      return signedOut(session, path === "/" ? 200 : 401);
    }

    switch (`${method} ${path}`) {
      case "GET /":
        return await home(session);
      case "POST /signout":
        if (session.data.sessionId !== undefined) {
          await sessions.revokeSession(session.data.sessionId);
        }
        return new Reply().setCookie(sessions.getClearCookieHeader())
          .redirect("/");
      case "GET /devices":
        return await devices(session);
      case "POST /devices/revoke":
        return await revokeDevice(session, form);
      case "POST /devices/revoke-all":
        await sessions.revokeAllSessions(session.data.did);
        return new Reply().setCookie(sessions.getClearCookieHeader())
          .redirect("/");
      case "GET /token":
        return new Reply(session).page(tokenPage({
          viewer: viewerOf(session.data),
          origin: url.origin,
          now: now(),
        }));
      case "POST /token":
        return await mintToken(session, url.origin);
      case "POST /token/revoke":
        return await revokeToken(session, form, url.origin);
    }
    throw new Error(`Route ${method} ${path} has no handler`);
  }

  return async (request, info) => {
    let response: Response;
    try {
      response = await dispatch(request, info);
    } catch (error) {
      options.logger?.error("Demo request failed", {
        error: error instanceof Error ? error.message : String(error),
      });
      response = new Reply().page(
        errorPage(
          "Something went wrong",
          "The server could not handle this request.",
        ),
        500,
      );
    }
    setSecurityHeaders(response.headers);
    return response;
  };
}

/** Each path and the methods it answers. */
const ROUTES: ReadonlyMap<string, readonly string[]> = new Map([
  ["/", ["GET"]],
  ["/style.css", ["GET"]],
  ["/api/me", ["GET"]],
  ["/signin", ["POST"]],
  ["/signout", ["POST"]],
  ["/devices", ["GET"]],
  ["/devices/revoke", ["POST"]],
  ["/devices/revoke-all", ["POST"]],
  ["/token", ["GET", "POST"]],
  ["/token/revoke", ["POST"]],
]);

/**
 * Tells whether a state-changing request comes from a page of this origin:
 * its `Origin` header (browsers send one on every POST) must equal the
 * server's own. A request without one is refused.
 */
function isSameOrigin(request: Request, url: URL): boolean {
  const origin = request.headers.get("origin");
  return origin !== null && origin === url.origin;
}

/** Reads a urlencoded form body, refusing anything over MAX_FORM_BYTES. */
async function readForm(request: Request): Promise<URLSearchParams | null> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) return null;
  if (request.body === null) return new URLSearchParams();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_FORM_BYTES) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new URLSearchParams(new TextDecoder().decode(bytes));
}

function setSecurityHeaders(headers: Headers): void {
  // No scripts at all; styles from /style.css only; forms post here only.
  headers.set(
    "content-security-policy",
    "default-src 'none'; style-src 'self'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  );
  headers.set("x-content-type-options", "nosniff");
  // Not "no-referrer": under it browsers send `Origin: null` on form posts,
  // which the Origin check above would refuse.
  headers.set("referrer-policy", "same-origin");
  if (!headers.has("cache-control")) headers.set("cache-control", "no-store");
}
