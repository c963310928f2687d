/**
 * The demo app: AT Protocol OAuth sign-in, cookie sessions with a device
 * list, Bearer tokens handed to a native app through a single-use code, and
 * a page that needs a recent sign-in; on plain `Deno.serve`.
 *
 * `createDemoApp()` returns a handler, so tests can serve it on any port:
 *
 * ```ts ignore
 * import { createDemoApp } from "./app.ts";
 *
 * const app = createDemoApp({ origin: "http://127.0.0.1:8000", network });
 * Deno.serve({ hostname: "127.0.0.1", port: 8000 }, app.handler);
 * ```
 *
 * @module
 */

import {
  authenticatedWithin,
  type OAuthStores,
  type SessionData,
  SessionManager,
  type SessionMetadata,
  StoreError,
} from "../../mod.ts";
import { MemorySessionStore } from "../../src/stores/memory.ts";
import type { OAuthSession } from "npm:@atproto/oauth-client-node@0.5.3";
import { html } from "./html.ts";
import { logLine, readForm, Reply, setSecurityHeaders } from "./http.ts";
import { createDemoOAuth, type DemoOAuth, type LocalNetwork } from "./oauth.ts";
import { STYLESHEET } from "./style.ts";
import {
  type AccountDetails,
  connectPage,
  devicesPage,
  errorPage,
  homePage,
  type Notice,
  type PendingHandoff,
  type RepoInfo,
  sensitivePage,
  signInPage,
  type TestAccount,
  type Viewer,
} from "./views.ts";

/** The app's own session field: the handle the PDS reported at sign-in. */
export interface DemoFields {
  handle?: string;
}

/** Options for {@linkcode createDemoApp}. */
export interface DemoAppOptions {
  /**
   * The origin the browser uses, `http://127.0.0.1:<port>`: the OAuth
   * redirect URI is built from it (loopback clients must use 127.0.0.1).
   */
  origin: string;
  /** The local PLC directory and PDS. */
  network: LocalNetwork;
  /** The seeded account, shown on the sign-in page. */
  testAccount?: TestAccount;
  /**
   * How recent a sign-in the sensitive page needs, in seconds.
   * @default {300}
   */
  reauthSeconds?: number;
  /**
   * Resolve handles outside `.test` on the public network.
   * @default {true}
   */
  publicNetwork?: boolean;
  /**
   * How long a call to the PDS may take, in milliseconds.
   * @default {5000}
   */
  pdsTimeoutMs?: number;
  /**
   * The clock, in milliseconds since the epoch.
   * @default {Date.now}
   */
  now?: () => number;
  /** Receives one line per request. The default discards them. */
  log?: (line: string) => void;
}

/** A `Deno.serve` handler. */
export type DemoHandler = (
  request: Request,
  info?: Deno.ServeHandlerInfo,
) => Promise<Response>;

/** The running app: its handler and, for tests, its parts. */
export interface DemoApp {
  /** Serve this. */
  readonly handler: DemoHandler;
  /** The session manager. */
  readonly sessions: SessionManager<DemoFields>;
  /** The OAuth clients. */
  readonly oauth: DemoOAuth;
  /** The OAuth state and session stores (sealed at rest). */
  readonly stores: OAuthStores;
}

/** The custom URL scheme the imagined native app registers. */
export const APP_SCHEME = "atproto-sessions-demo";

// atproto handle syntax: dot-separated labels of letters, digits and
// hyphens (not at either end of a label), at least two labels, a last
// label that starts with a letter, at most 253 characters.
const HANDLE_PATTERN =
  /^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;

/** The longest typed value echoed back into a page. */
const ECHO_LIMIT = 300;

/** Messages for `?notice=` on the sign-in page (fixed texts only). */
const SIGN_IN_NOTICES: Readonly<Record<string, Notice>> = {
  "signed-out": {
    kind: "success",
    text:
      "You signed out of this browser. Your other devices stay signed in, and so does the app's OAuth session at your PDS.",
  },
  "signed-out-last": {
    kind: "success",
    text:
      "You signed out. That was your last device, so the app's OAuth session was revoked at your PDS too.",
  },
  "everywhere": {
    kind: "success",
    text:
      "You signed out everywhere: every browser and token session ended, and the app's OAuth session was revoked at your PDS, which no longer accepts its tokens.",
  },
  SESSION_REVOKED: {
    kind: "info",
    text:
      "This browser was signed out: its session was revoked from the Devices page of another device, or by “sign out everywhere”.",
  },
  SESSION_EXPIRED: {
    kind: "info",
    text: "Your session expired: sign in again.",
  },
  OAUTH_SESSION_ENDED: {
    kind: "error",
    text:
      "Your OAuth session at your PDS has ended (the app's access was revoked at the PDS, or it expired), so you were signed out on every device. Sign in again.",
  },
  "bad-cookie": {
    kind: "info",
    text:
      "Your session cookie could not be read (it was altered, or the demo restarted): sign in again.",
  },
  "denied": {
    kind: "info",
    text:
      "You did not approve the sign-in at your PDS, so you are not signed in.",
  },
  "callback-failed": {
    kind: "error",
    text:
      "The sign-in could not be completed: it expired, was already used, or the PDS did not answer. Try again.",
  },
};

const DEVICE_NOTICES: Readonly<Record<string, Notice>> = {
  "revoked": {
    kind: "success",
    text: "Session revoked: that device is signed out on its next request.",
  },
  "not-found": {
    kind: "error",
    text: "That session does not exist, has ended, or is not yours.",
  },
};

/** Each path and the methods it answers. */
const ROUTES: ReadonlyMap<string, readonly string[]> = new Map([
  ["/", ["GET"]],
  ["/style.css", ["GET"]],
  ["/signin", ["GET", "POST"]],
  ["/oauth/callback", ["GET"]],
  ["/signout", ["POST"]],
  ["/signout-everywhere", ["POST"]],
  ["/devices", ["GET"]],
  ["/devices/revoke", ["POST"]],
  ["/connect", ["GET", "POST"]],
  ["/sensitive", ["GET"]],
  ["/reauth", ["POST"]],
  ["/api/handoff", ["POST"]],
  ["/api/me", ["GET"]],
]);

/** What one request did, for its log line. */
interface Trace {
  error: string | null;
}

/** A page's session: signed in (perhaps with the PDS down), or a reply. */
type Loaded =
  | {
    readonly kind: "in";
    readonly data: SessionData & DemoFields;
    /** Null when the PDS is unreachable (`OAUTH_UNAVAILABLE`). */
    readonly oauthSession: OAuthSession | null;
    readonly setCookie: string | null;
  }
  | { readonly kind: "out"; readonly response: Response };

/** What a call to the PDS came back with. */
type PdsAnswer =
  | { readonly kind: "ok"; readonly body: Record<string, unknown> }
  | { readonly kind: "down" }
  | { readonly kind: "refused"; readonly status: number };

/**
 * Creates the demo: a `SessionManager` over a `MemorySessionStore`, the
 * OAuth clients wired to `sessions.oauthStores()`, and the request handler.
 *
 * @param options The origin, the local network and the knobs tests use.
 * @returns The app.
 */
export function createDemoApp(options: DemoAppOptions): DemoApp {
  const now = options.now ?? Date.now;
  const origin = new URL(options.origin).origin;
  const reauthSeconds = options.reauthSeconds ?? 300;
  const pdsTimeoutMs = options.pdsTimeoutMs ?? 5_000;
  const publicNetwork = options.publicNetwork ?? true;
  const log = options.log ?? (() => {});
  const { network, testAccount } = options;
  const pdsOrigin = new URL(network.pdsUrl).origin;

  const sessions = new SessionManager<DemoFields>({
    // Sessions live in memory, so a secret of this run only is right.
    cookieSecret: generateSecret(),
    store: new MemorySessionStore(),
    // The library's defaults, spelled out: scripts cannot read the cookie,
    // it is sent over HTTPS only (browsers count http://127.0.0.1 as
    // secure), and not on cross-site sub-requests or POSTs.
    cookie: { httpOnly: true, secure: true, sameSite: "Lax" },
    maxSessionsPerUser: 10,
    trustedOrigins: [origin],
    now,
    logger: {
      debug(): void {},
      info(): void {},
      warn(): void {},
      // Library errors are rare and never carry a secret.
      error(message: string): void {
        log(`[sessions] ${message}`);
      },
    },
  });
  const stores = sessions.oauthStores();
  const oauth = createDemoOAuth({
    stores,
    redirectUri: `${origin}/oauth/callback`,
    network,
    publicNetwork,
    onSessionDeleted: (did, cause) =>
      sessions.onOAuthSessionDeleted(did, cause),
  });

  /** Hand-off codes waiting on the connect page, by app session id. */
  const handoffs = new Map<string, PendingHandoff>();

  const pdsDownNotice: Notice = {
    kind: "error",
    text: html`Your PDS (<code>${pdsOrigin}</code> for the test account)
      cannot be reached right now, so what it holds cannot be shown. You are
      still signed in: reload once it is back.`,
  };

  function metadataOf(
    request: Request,
    info: Deno.ServeHandlerInfo | undefined,
  ): SessionMetadata {
    const metadata: SessionMetadata = {};
    const userAgent = request.headers.get("user-agent");
    if (userAgent) metadata.userAgent = userAgent.slice(0, 512);
    const remote = info?.remoteAddr;
    if (remote !== undefined && "hostname" in remote) {
      metadata.ipAddress = remote.hostname;
    }
    return metadata;
  }

  /** Where a signed-out request goes, with the reason as a notice. */
  function toSignIn(type: string, setCookie: string | null): Response {
    const notice = type === "NO_COOKIE"
      ? ""
      : type in SIGN_IN_NOTICES
      ? type
      : "bad-cookie";
    return new Reply(setCookie).redirect(
      notice === "" ? "/signin" : `/signin?notice=${notice}`,
    );
  }

  /** The session of a page, with its OAuth session when the PDS answers. */
  async function load(request: Request, trace: Trace): Promise<Loaded> {
    const result = await sessions.getOAuthSession(request, oauth);
    if (result.error === null) {
      return {
        kind: "in",
        data: result.data,
        oauthSession: result.oauthSession,
        setCookie: result.setCookieHeader,
      };
    }
    trace.error = result.error.type;
    // OAUTH_UNAVAILABLE: the PDS did not answer; the user stays signed in.
    if (result.data !== null) {
      return {
        kind: "in",
        data: result.data,
        oauthSession: null,
        setCookie: null,
      };
    }
    if (result.error.type === "STORE_UNAVAILABLE") {
      return { kind: "out", response: unavailable() };
    }
    return {
      kind: "out",
      response: toSignIn(result.error.type, result.setCookieHeader),
    };
  }

  function unavailable(): Response {
    return new Reply().page(
      errorPage(
        "Try again shortly",
        "The session store did not answer in time; you are still signed in.",
      ),
      503,
    );
  }

  /** GETs an XRPC method from the PDS through the OAuth session. */
  async function pdsGet(
    session: OAuthSession,
    path: string,
  ): Promise<PdsAnswer> {
    try {
      const response = await session.fetchHandler(path, {
        signal: AbortSignal.timeout(pdsTimeoutMs),
      });
      if (!response.ok) {
        await response.body?.cancel();
        return response.status >= 500
          ? { kind: "down" }
          : { kind: "refused", status: response.status };
      }
      const body: unknown = await response.json();
      return typeof body === "object" && body !== null
        ? { kind: "ok", body: body as Record<string, unknown> }
        : { kind: "down" };
    } catch {
      // Connection refused, a timeout, DNS: the PDS is unreachable.
      return { kind: "down" };
    }
  }

  /**
   * The PDS refused the OAuth session's token: the client has tried a
   * refresh, and when that failed it told the manager, which revoked the
   * app sessions. Send the user to sign in if so.
   */
  async function afterRefusal(
    request: Request,
    trace: Trace,
  ): Promise<Response | null> {
    const again = await sessions.getSessionFromRequest(request);
    if (again.error === null) return null;
    trace.error = "OAUTH_SESSION_ENDED";
    return toSignIn("OAUTH_SESSION_ENDED", sessions.getClearCookieHeader());
  }

  /**
   * Who the user is, from the PDS: `com.atproto.server.getSession` (which
   * needs the access token, so it proves the OAuth session works), then
   * `com.atproto.repo.describeRepo` for the repository.
   *
   * @returns The facts, null when the PDS is unreachable, or the reply
   * that signs the user out when the PDS ended the OAuth session.
   */
  async function fetchAccount(
    request: Request,
    trace: Trace,
    session: OAuthSession,
  ): Promise<RepoInfo | Response | null> {
    const account = await pdsGet(
      session,
      "/xrpc/com.atproto.server.getSession",
    );
    if (account.kind === "refused") {
      const out = await afterRefusal(request, trace);
      if (out !== null) return out;
    }
    if (account.kind !== "ok") {
      trace.error ??= "PDS_UNREACHABLE";
      return null;
    }
    const repo = await pdsGet(
      session,
      `/xrpc/com.atproto.repo.describeRepo?repo=${
        encodeURIComponent(session.did)
      }`,
    );
    return repoInfo(
      account.body,
      repo.kind === "ok" ? repo.body : {},
      session.did,
    );
  }

  function viewerOf(data: SessionData & DemoFields): Viewer {
    return { did: data.did, handle: data.handle };
  }

  async function home(request: Request, trace: Trace): Promise<Response> {
    const loaded = await load(request, trace);
    if (loaded.kind === "out") return loaded.response;
    const { data, oauthSession } = loaded;
    let repo: RepoInfo | null = null;
    if (oauthSession !== null) {
      const account = await fetchAccount(request, trace, oauthSession);
      if (account instanceof Response) return account;
      repo = account;
    }
    const record = data.sessionId === undefined
      ? null
      : await sessions.getSession(data.sessionId);
    const down = repo === null;
    return new Reply(loaded.setCookie).page(
      homePage({
        data,
        record,
        now: now(),
        repo,
        notice: down ? pdsDownNotice : undefined,
      }),
      down ? 503 : 200,
    );
  }

  async function devices(
    request: Request,
    url: URL,
    trace: Trace,
  ): Promise<Response> {
    const loaded = await load(request, trace);
    if (loaded.kind === "out") return loaded.response;
    const { data } = loaded;
    const records = await sessions.listSessions(data.did);
    return new Reply(loaded.setCookie).page(devicesPage({
      viewer: viewerOf(data),
      records,
      currentId: data.sessionId,
      now: now(),
      pdsUrl: pdsOrigin,
      notices: [
        loaded.oauthSession === null ? pdsDownNotice : undefined,
        DEVICE_NOTICES[url.searchParams.get("notice") ?? ""],
      ],
    }));
  }

  function signIn(url: URL, notice?: Notice, status = 200): Response {
    const typed = url.searchParams.get("handle");
    const code = url.searchParams.get("notice") ?? "";
    let shown = notice ?? SIGN_IN_NOTICES[code];
    if (shown === undefined && typed !== null) {
      const value = JSON.stringify(
        typed.length > 80 ? `${typed.slice(0, 80)}…` : typed,
      );
      if (code === "invalid-handle") {
        shown = {
          kind: "error",
          text:
            `${value} is not a handle: a handle is a domain name, such as alice.test or you.bsky.social (letters, digits and hyphens in dot-separated parts).`,
        };
      } else if (code === "resolve-failed") {
        shown = {
          kind: "error",
          text:
            `Could not start signing in as ${value}: the handle did not resolve, or its PDS did not answer. Check the spelling, or try again shortly.`,
        };
      }
    }
    return new Reply().page(
      signInPage({
        notice: shown,
        value: (typed ?? testAccount?.handle ?? "").slice(0, ECHO_LIMIT),
        testAccount,
        pdsUrl: pdsOrigin,
        publicNetwork,
      }),
      status,
    );
  }

  /** POST /signin: resolve the handle and send the browser to its PDS. */
  async function startSignIn(
    form: URLSearchParams,
    trace: Trace,
  ): Promise<Response> {
    const typed = (form.get("handle") ?? "").trim();
    const handle = typed.replace(/^@/, "").toLowerCase();
    const back = (notice: string): Response =>
      new Reply().redirect(
        `/signin?notice=${notice}&handle=${
          encodeURIComponent(typed.slice(0, ECHO_LIMIT))
        }`,
      );
    if (
      handle.length > 253 || !HANDLE_PATTERN.test(handle) ||
      (!publicNetwork && !oauth.isLocalHandle(handle))
    ) {
      trace.error = "INVALID_HANDLE";
      return back("invalid-handle");
    }
    try {
      return new Reply().redirect(
        await oauth.authorize(handle, { state: "signin" }),
      );
    } catch {
      trace.error = "RESOLVE_FAILED";
      return back("resolve-failed");
    }
  }

  /** GET /oauth/callback: the PDS sent the browser back. */
  async function finishSignIn(
    request: Request,
    url: URL,
    info: Deno.ServeHandlerInfo | undefined,
    trace: Trace,
  ): Promise<Response> {
    const params = url.searchParams;
    let result: Awaited<ReturnType<DemoOAuth["callback"]>>;
    try {
      result = await oauth.callback(params);
    } catch {
      const denied = params.get("error") === "access_denied";
      trace.error = denied ? "ACCESS_DENIED" : "OAUTH_CALLBACK_FAILED";
      return new Reply().redirect(
        `/signin?notice=${denied ? "denied" : "callback-failed"}`,
      );
    }
    const { session, state } = result;
    const described = await pdsGet(
      session,
      "/xrpc/com.atproto.server.getSession",
    );
    const handle = described.kind === "ok" &&
        typeof described.body["handle"] === "string"
      ? described.body["handle"]
      : undefined;
    // A new sign-in is a privilege change: a new session id, and this
    // browser's previous session (a re-authentication, or another account)
    // ends.
    const previous = await sessions.getSessionFromRequest(request);
    const setCookie = await sessions.createSession(
      handle === undefined
        ? { did: session.did }
        : { did: session.did, handle },
      metadataOf(request, info),
    );
    const oldId = previous.data?.sessionId;
    if (previous.data !== null && oldId !== undefined) {
      await sessions.revokeSession(oldId, previous.data.did);
      handoffs.delete(oldId);
    }
    return new Reply(setCookie).redirect(
      state === "reauth" ? "/sensitive" : "/",
    );
  }

  async function signOut(
    request: Request,
    trace: Trace,
    everywhere: boolean,
  ): Promise<Response> {
    const current = await sessions.getSessionFromRequest(request);
    let others = 0;
    if (current.data !== null) {
      const id = current.data.sessionId;
      if (id !== undefined) handoffs.delete(id);
      others = (await sessions.listSessions(current.data.did))
        .filter((record) => record.id !== id).length;
    }
    let clear: string;
    try {
      clear = await sessions.signOut(request, oauth, { everywhere });
    } catch (error) {
      if (!(error instanceof StoreError)) throw error;
      trace.error = "STORE_UNAVAILABLE";
      return unavailable();
    }
    const notice = current.data === null
      ? ""
      : everywhere
      ? "?notice=everywhere"
      : others === 0
      ? "?notice=signed-out-last"
      : "?notice=signed-out";
    return new Reply(clear).redirect(`/signin${notice}`);
  }

  async function revokeDevice(
    request: Request,
    form: URLSearchParams,
    trace: Trace,
  ): Promise<Response> {
    const session = await sessions.getSessionFromRequest(request);
    if (session.error !== null) {
      trace.error = session.error.type;
      return toSignIn(session.error.type, session.setCookieHeader);
    }
    const id = form.get("sessionId") ?? "";
    if (id !== "" && id === session.data.sessionId) {
      return await signOut(request, trace, false);
    }
    // Passing the signed-in DID makes revokeSession check ownership: never
    // trust an id from a form.
    if (id === "" || !(await sessions.revokeSession(id, session.data.did))) {
      trace.error = "SESSION_NOT_FOUND";
      return new Reply(session.setCookieHeader).redirect(
        "/devices?notice=not-found",
      );
    }
    handoffs.delete(id);
    return new Reply(session.setCookieHeader).redirect(
      "/devices?notice=revoked",
    );
  }

  async function connect(request: Request, trace: Trace): Promise<Response> {
    const loaded = await load(request, trace);
    if (loaded.kind === "out") return loaded.response;
    const { data } = loaded;
    const id = data.sessionId ?? "";
    let handoff = handoffs.get(id);
    if (handoff !== undefined && handoff.expiresAt <= now()) {
      handoffs.delete(id);
      handoff = undefined;
    }
    return new Reply(loaded.setCookie).page(connectPage({
      viewer: viewerOf(data),
      origin,
      now: now(),
      scheme: APP_SCHEME,
      handoff,
      notices: [loaded.oauthSession === null ? pdsDownNotice : undefined],
    }));
  }

  async function createHandoff(
    request: Request,
    trace: Trace,
  ): Promise<Response> {
    const session = await sessions.getSessionFromRequest(request);
    if (session.error !== null) {
      trace.error = session.error.type;
      return toSignIn(session.error.type, session.setCookieHeader);
    }
    const { data } = session;
    const handoff = await sessions.createHandoffCode(
      data.handle === undefined
        ? { did: data.did, authenticatedAt: data.authenticatedAt }
        : {
          did: data.did,
          handle: data.handle,
          authenticatedAt: data.authenticatedAt,
        },
      { label: "Demo app (hand-off)" },
    );
    if (data.sessionId !== undefined) {
      handoffs.delete(data.sessionId);
      handoffs.set(data.sessionId, handoff);
      // Bounded: the oldest pending code goes first.
      if (handoffs.size > 1_000) {
        handoffs.delete(handoffs.keys().next().value!);
      }
    }
    return new Reply(session.setCookieHeader).redirect("/connect");
  }

  /** POST /api/handoff: the app trades its code for a Bearer token. */
  async function redeem(
    request: Request,
    form: URLSearchParams,
    info: Deno.ServeHandlerInfo | undefined,
    trace: Trace,
  ): Promise<Response> {
    const metadata = metadataOf(request, info);
    const label = (form.get("label") ?? "").trim().slice(0, 60);
    if (label !== "") metadata.label = label;
    const token = await sessions.redeemHandoffCode(
      form.get("code") ?? "",
      metadata,
    );
    const plain = /^text\/plain/i.test(request.headers.get("accept") ?? "");
    if (token === null) {
      trace.error = "INVALID_CODE";
      const message =
        "The code is unknown, already used or expired: create a new one on the Connect page";
      return plain
        ? new Reply().text(`${message}\n`, 400)
        : new Reply().json({ error: "invalid_code", message }, 400);
    }
    return plain
      ? new Reply().text(token)
      : new Reply().json({ token, tokenType: "Bearer" });
  }

  /** GET /api/me: the session as JSON, from a Bearer token or the cookie. */
  async function apiMe(request: Request, trace: Trace): Promise<Response> {
    const authorization = request.headers.get("authorization");
    const describe = (
      data: SessionData & DemoFields,
      via: "bearer" | "cookie",
    ): Record<string, unknown> => ({
      did: data.did,
      handle: data.handle ?? null,
      via,
      createdAt: new Date(data.createdAt).toISOString(),
      authenticatedAt: new Date(data.authenticatedAt).toISOString(),
      ...(data.expiresAt === undefined
        ? {}
        : { expiresAt: new Date(data.expiresAt).toISOString() }),
    });
    if (authorization !== null) {
      const result = await sessions.validateBearerToken(authorization);
      const reply = new Reply();
      if (result.error !== null) {
        trace.error = result.error.type;
        reply.headers.set(
          "www-authenticate",
          'Bearer realm="atproto-sessions demo", error="invalid_token"',
        );
        return reply.json(
          { error: result.error.type, message: result.error.message },
          result.error.type === "STORE_UNAVAILABLE" ? 503 : 401,
        );
      }
      return reply.json(describe(result.data, "bearer"));
    }
    const session = await sessions.getSessionFromRequest(request);
    const reply = new Reply(session.setCookieHeader);
    if (session.error !== null) {
      trace.error = session.error.type;
      return reply.json(
        { error: session.error.type, message: session.error.message },
        session.error.type === "STORE_UNAVAILABLE" ? 503 : 401,
      );
    }
    return reply.json(describe(session.data, "cookie"));
  }

  async function sensitive(
    request: Request,
    url: URL,
    trace: Trace,
  ): Promise<Response> {
    const loaded = await load(request, trace);
    if (loaded.kind === "out") return loaded.response;
    const { data, oauthSession } = loaded;
    const fresh = authenticatedWithin(data, reauthSeconds, now());
    let details: AccountDetails | null = null;
    if (fresh && oauthSession !== null) {
      const answer = await pdsGet(
        oauthSession,
        "/xrpc/com.atproto.server.getSession",
      );
      if (answer.kind === "refused") {
        const out = await afterRefusal(request, trace);
        if (out !== null) return out;
      }
      if (answer.kind === "ok") {
        const email = answer.body["email"];
        details = {
          email: typeof email === "string" ? email : null,
          emailConfirmed: answer.body["emailConfirmed"] === true,
        };
      } else trace.error ??= "PDS_UNREACHABLE";
    }
    if (!fresh) trace.error ??= "REAUTHENTICATION_REQUIRED";
    const down = fresh && details === null;
    const pdsDown = down || oauthSession === null ||
      url.searchParams.get("notice") === "pds-down";
    return new Reply(loaded.setCookie).page(
      sensitivePage({
        viewer: viewerOf(data),
        now: now(),
        authenticatedAt: data.authenticatedAt,
        reauthSeconds,
        details,
        fresh,
        notices: [pdsDown ? pdsDownNotice : undefined],
      }),
      down ? 503 : 200,
    );
  }

  /** POST /reauth: OAuth again, with the PDS asked to check the password. */
  async function reauthenticate(
    request: Request,
    trace: Trace,
  ): Promise<Response> {
    const session = await sessions.getSessionFromRequest(request);
    if (session.error !== null) {
      trace.error = session.error.type;
      return toSignIn(session.error.type, session.setCookieHeader);
    }
    try {
      return new Reply(session.setCookieHeader).redirect(
        await oauth.authorize(session.data.did, {
          state: "reauth",
          prompt: "login",
        }),
      );
    } catch {
      trace.error = "RESOLVE_FAILED";
      return new Reply(session.setCookieHeader).redirect(
        "/sensitive?notice=pds-down",
      );
    }
  }

  async function dispatch(
    request: Request,
    info: Deno.ServeHandlerInfo | undefined,
    trace: Trace,
  ): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    const method = request.method;
    // The cookie and the OAuth redirect belong to the 127.0.0.1 origin: a
    // visit to http://localhost:<port> would sign in and come back signed
    // out. Send GETs to the right origin.
    if (url.origin !== origin && method === "GET") {
      trace.error = "WRONG_ORIGIN";
      return new Reply().redirect(`${origin}${path}`);
    }
    const methods = ROUTES.get(path);
    if (methods === undefined) {
      trace.error = "NOT_FOUND";
      return new Reply().page(
        errorPage("Not found", `There is no page at ${path.slice(0, 200)}.`),
        404,
      );
    }
    if (!methods.includes(method)) {
      trace.error = "METHOD_NOT_ALLOWED";
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

    let form = new URLSearchParams();
    if (method === "POST") {
      // CSRF: the cookie is SameSite=Lax, so browsers leave it off
      // cross-site POSTs; on top of that every form POST must come from a
      // page of this origin (covers same-site pages on other ports, and
      // login CSRF on /signin, which needs no cookie). /api/handoff is for
      // apps: it reads no cookie, and a code is all it trusts.
      if (path !== "/api/handoff") {
        const check = sessions.checkOrigin(request);
        if (!check.ok) {
          trace.error = check.reason;
          const from = check.received === null
            ? "a page that sent no Origin header"
            : check.received.slice(0, 200);
          return new Reply().page(
            errorPage(
              "Cross-origin form refused",
              html`This form must be sent from a page of
                <code>${check.expected.join(" or ")}</code>; it came from
                <code>${from}</code> (${check.reason}). Nothing was changed.`,
            ),
            403,
          );
        }
      }
      const parsed = await readForm(request);
      if (parsed === null) {
        trace.error = "BAD_FORM";
        return new Reply().page(
          errorPage(
            "Bad request",
            "Expected an application/x-www-form-urlencoded body of at most 16 KiB.",
          ),
          400,
        );
      }
      form = parsed;
    }

    switch (`${method} ${path}`) {
      case "GET /":
        return await home(request, trace);
      case "GET /signin": {
        const session = await sessions.getSessionFromRequest(request);
        if (session.error === null) {
          return new Reply(session.setCookieHeader).redirect("/");
        }
        return signIn(url);
      }
      case "POST /signin":
        return await startSignIn(form, trace);
      case "GET /oauth/callback":
        return await finishSignIn(request, url, info, trace);
      case "POST /signout":
        return await signOut(request, trace, false);
      case "POST /signout-everywhere":
        return await signOut(request, trace, true);
      case "GET /devices":
        return await devices(request, url, trace);
      case "POST /devices/revoke":
        return await revokeDevice(request, form, trace);
      case "GET /connect":
        return await connect(request, trace);
      case "POST /connect":
        return await createHandoff(request, trace);
      case "GET /sensitive":
        return await sensitive(request, url, trace);
      case "POST /reauth":
        return await reauthenticate(request, trace);
      case "POST /api/handoff":
        return await redeem(request, form, info, trace);
      case "GET /api/me":
        return await apiMe(request, trace);
    }
    throw new Error(`Route ${method} ${path} has no handler`);
  }

  const handler: DemoHandler = async (request, info) => {
    const trace: Trace = { error: null };
    let response: Response;
    try {
      response = await dispatch(request, info, trace);
    } catch (error) {
      trace.error = error instanceof Error
        ? `INTERNAL_ERROR ${error.name}`
        : "INTERNAL_ERROR";
      response = new Reply().page(
        errorPage(
          "Something went wrong",
          "The server could not handle this request.",
        ),
        500,
      );
    }
    setSecurityHeaders(response.headers, [pdsOrigin]);
    log(
      logLine(
        request.method,
        new URL(request.url).pathname,
        response.status,
        trace.error,
      ),
    );
    return response;
  };

  return { handler, sessions, oauth, stores };
}

/** Reads `getSession`'s and `describeRepo`'s answers, trusting no shape. */
function repoInfo(
  account: Record<string, unknown>,
  repo: Record<string, unknown>,
  did: string,
): RepoInfo {
  const didDoc = (repo["didDoc"] ?? account["didDoc"]) as
    | { service?: unknown }
    | undefined;
  const services = Array.isArray(didDoc?.service) ? didDoc.service : [];
  const pds = services.find((service: unknown) =>
    typeof service === "object" && service !== null &&
    String((service as { id?: unknown }).id).endsWith("#atproto_pds")
  ) as { serviceEndpoint?: unknown } | undefined;
  const collections = Array.isArray(repo["collections"])
    ? repo["collections"].filter((c): c is string => typeof c === "string")
    : [];
  return {
    handle: typeof account["handle"] === "string" ? account["handle"] : "",
    did: typeof account["did"] === "string" ? account["did"] : did,
    handleIsCorrect: repo["handleIsCorrect"] === true,
    collections: collections.slice(0, 50),
    pds: typeof pds?.serviceEndpoint === "string" ? pds.serviceEndpoint : null,
  };
}

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
