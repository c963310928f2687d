/**
 * The demo's pages: server-rendered HTML, no JavaScript, one stylesheet
 * (`style.ts`). Every dynamic value goes through the escaping `html` tag.
 *
 * @module
 */

import type { SessionData, SessionRecord } from "../../mod.ts";
import { type Html, html } from "./html.ts";

/** Who is signed in, as the header shows it. */
export interface Viewer {
  readonly did: string;
  readonly handle?: string | undefined;
}

/** A message shown above the page's content. */
export interface Notice {
  readonly kind: "error" | "info" | "success";
  readonly text: string | Html;
}

type Section =
  | "home"
  | "devices"
  | "connect"
  | "sensitive"
  | "signin"
  | "error";

interface LayoutOptions {
  readonly title: string;
  readonly section: Section;
  readonly viewer?: Viewer | undefined;
  readonly notices?: readonly (Notice | undefined)[];
  readonly body: Html;
}

function layout(options: LayoutOptions): Html {
  const { viewer, section } = options;
  const link = (href: string, label: string, own: Section): Html =>
    html`<a href="${href}" aria-current="${
      own === section ? "page" : "false"
    }">${label}</a>`;
  const name = viewer?.handle ? `@${viewer.handle}` : shortDid(viewer?.did);
  const nav = viewer === undefined ? html`<nav></nav>` : html`
    <nav>
      ${link("/", "Home", "home")} ${link("/devices", "Devices", "devices")}
      ${link("/connect", "Connect the app", "connect")}
      ${link("/sensitive", "Sensitive", "sensitive")}
    </nav>
    <span class="who">${name}</span>
    <form class="inline" method="post" action="/signout">
      <button class="secondary small" type="submit">Sign out</button>
    </form>
  `;
  const banners = (options.notices ?? []).map((notice) =>
    notice === undefined ? "" : html`
      <div class="notice ${notice.kind}" role="${notice.kind === "error"
        ? "alert"
        : "status"}">${notice.text}</div>
    `
  );
  return html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>${options.title} · atproto-sessions demo</title>
        <link rel="icon" href="data:,">
        <link rel="stylesheet" href="/style.css">
      </head>
      <body>
        <header class="top">
          <div class="inner">
            <a class="brand" href="/"><span class="logo" aria-hidden="true"></span>
              atproto-sessions demo</a>
            ${nav}
          </div>
        </header>
        <main>${banners} ${options.body}</main>
        <footer>
          A demo of <code>@tijs/atproto-sessions</code>: AT Protocol OAuth,
          Iron-sealed cookies and Bearer tokens, with server-side session
          records. Everything is kept in memory: stopping the demo signs
          everyone out, and its local PDS starts empty each run.
        </footer>
      </body>
    </html>
  `;
}

/** The seeded account on the local PDS. */
export interface TestAccount {
  readonly handle: string;
  readonly password: string;
}

/** Options for the sign-in page. */
export interface SignInPageOptions {
  readonly notice?: Notice | undefined;
  /** The handle to pre-fill (what was typed, or the test account's). */
  readonly value: string;
  readonly testAccount?: TestAccount | undefined;
  /** The local PDS, e.g. `http://localhost:2583`. */
  readonly pdsUrl: string;
  /** Whether other handles are resolved on the public network. */
  readonly publicNetwork: boolean;
}

/**
 * The sign-in page: a handle, then the user's PDS asks for the password.
 *
 * @param options The notice, the value to pre-fill and the test account.
 * @returns The page.
 */
export function signInPage(options: SignInPageOptions): Html {
  const account = options.testAccount;
  const testCard = account === undefined ? "" : html`
    <section class="card" id="test-account">
      <h2>Test account on the local PDS</h2>
      <p class="muted">
        <code>deno task demo</code> started a PLC directory and a PDS on this
        machine (<code>${options.pdsUrl}</code>) and created this account.
        Its sign-in page asks for the password.
      </p>
      <dl class="creds">
        <dt>Handle</dt>
        <dd id="test-handle">${account.handle}</dd>
        <dt>Password</dt>
        <dd id="test-password">${account.password}</dd>
      </dl>
    </section>
  `;
  const publicCard = options.publicNetwork
    ? html`
      <section class="card">
        <h2>Any other handle</h2>
        <p class="muted">
          Handles that do not end in <code>.test</code>, such as
          <code>you.bsky.social</code>, are resolved on the public network
          (the handle by <code>bsky.social</code>, the DID by
          <code>plc.directory</code>) and you sign in at your own PDS. That
          needs internet, and the demo's tests cannot cover it.
        </p>
      </section>
    `
    : "";
  return layout({
    title: "Sign in",
    section: "signin",
    notices: [options.notice],
    body: html`
      <section class="card">
        <h1>Sign in</h1>
        <p class="lead">
          With AT Protocol OAuth: the app sends you to your PDS, you sign in
          and approve there, and the PDS sends you back.
        </p>
        <form method="post" action="/signin">
          <label for="handle">Handle</label>
          <input type="text" id="handle" name="handle" value="${options.value}"
            placeholder="alice.test" autocomplete="username"
            spellcheck="false" autocapitalize="off" required autofocus>
          <button type="submit">Sign in</button>
        </form>
      </section>
      ${testCard} ${publicCard}
    `,
  });
}

/** What the PDS said (`com.atproto.server.getSession`, `com.atproto.repo.describeRepo`). */
export interface RepoInfo {
  readonly handle: string;
  readonly did: string;
  readonly handleIsCorrect: boolean;
  readonly collections: readonly string[];
  /** The PDS named in the DID document. */
  readonly pds: string | null;
}

/** Options for the home page. */
export interface HomePageOptions {
  readonly data: SessionData & { readonly handle?: string };
  readonly record: SessionRecord | null;
  readonly now: number;
  /** From the PDS through the OAuth session; null when it is unreachable. */
  readonly repo: RepoInfo | null;
  readonly notice?: Notice | undefined;
}

/**
 * The home page: who you are, from the PDS, and the session's times.
 *
 * @param options The session, the PDS's answer and the time.
 * @returns The page.
 */
export function homePage(options: HomePageOptions): Html {
  const { data, record, now, repo } = options;
  const handle = repo?.handle ?? data.handle;
  const title = handle ? `@${handle}` : data.did;
  const fromPds = repo === null
    ? html`
      <section class="card" id="repo">
        <h2>From your PDS</h2>
        <p class="muted">Not available right now: see the message above.</p>
      </section>
    `
    : html`
      <section class="card" id="repo">
        <h2>From your PDS, through the OAuth session</h2>
        <p class="muted">
          <code>com.atproto.server.getSession</code> and
          <code>com.atproto.repo.describeRepo</code>, called with the
          DPoP-bound access token the OAuth session holds (the browser never
          sees it).
        </p>
        <dl class="facts">
          <dt>Handle</dt>
          <dd
            id="repo-handle">${repo.handle} <small class="muted">${repo
                .handleIsCorrect
              ? "(verified both ways)"
              : "(does not resolve back to this DID)"}</small></dd>
          <dt>PDS</dt>
          <dd><code id="repo-pds">${repo.pds ??
            "not in the DID document"}</code></dd>
          <dt>Collections</dt>
          <dd id="repo-collections">${repo.collections.length === 0
            ? html`<span class="muted">none yet (an empty repository)</span>`
            : repo.collections.map((c) =>
              html`
                <code>${c}</code>
              `
            )}</dd>
        </dl>
      </section>
    `;
  return layout({
    title: "Home",
    section: "home",
    viewer: { did: data.did, handle },
    notices: [options.notice],
    body: html`
      <section class="card">
        <h1>Signed in as ${title}</h1>
        <p class="lead">
          Your browser holds an Iron-sealed session cookie; the server keeps a
          record of it (see <a href="/devices">Devices</a>) and the OAuth
          session that reaches your PDS.
        </p>
        <dl class="facts">
          <dt>DID</dt>
          <dd><code id="did">${data.did}</code></dd>
          <dt>Signed in</dt>
          <dd id="authenticated-at">${when(
            data.authenticatedAt,
            now,
          )} <small class="muted">(<code>authenticatedAt</code>: the last real sign-in at the PDS)</small></dd>
          <dt>Session created</dt>
          <dd id="created">${when(data.createdAt, now)}</dd>
          <dt>Last used</dt>
          <dd id="last-used">${when(
            data.lastAccessed,
            now,
          )} <small class="muted">(updated at most once a minute)</small></dd>
          ${record === null ? "" : html`
            <dt>Expires</dt>
            <dd id="expires">${when(
              record.expiresAt,
              now,
            )} <small class="muted">unless used again</small></dd>
          `}
        </dl>
      </section>
      ${fromPds}
    `,
  });
}

/** Options for the devices page. */
export interface DevicesPageOptions {
  readonly viewer: Viewer;
  readonly records: readonly SessionRecord[];
  readonly currentId: string | undefined;
  readonly now: number;
  readonly pdsUrl: string;
  readonly notices?: readonly (Notice | undefined)[];
}

/**
 * The devices page: every browser and token session of the DID, each
 * revocable, and "sign out everywhere".
 *
 * @param options The sessions, which one is this browser's, and the time.
 * @returns The page.
 */
export function devicesPage(options: DevicesPageOptions): Html {
  const { records, currentId, now } = options;
  const rows = records.map((record) => {
    const current = record.id === currentId;
    const agent = record.metadata.userAgent;
    const badge = current ? html`<span class="badge">This device</span>` : "";
    const kind = record.kind === "token"
      ? html`<span class="kind token">Token</span>`
      : html`<span class="kind">Browser</span>`;
    const name = record.metadata.label ?? describeAgent(agent);
    return html`
      <tr data-session-id="${record.id}" data-kind="${record.kind}"
        data-current="${String(current)}">
        <td class="device">
          <strong>${kind}${name}${badge}</strong>
          <small>${agent ?? "no user agent"}</small>
        </td>
        <td class="mono" data-label="IP address">${record.metadata.ipAddress ??
          "unknown"}</td>
        <td data-label="Created">${when(record.createdAt, now)}</td>
        <td data-label="Last used">${when(record.lastAccessed, now)}</td>
        <td>
          <form class="inline" method="post" action="/devices/revoke">
            <input type="hidden" name="sessionId" value="${record.id}">
            <button class="danger small" type="submit">${current
              ? "Sign out"
              : "Revoke"}</button>
          </form>
        </td>
      </tr>
    `;
  });
  const count = `${records.length} active ${
    records.length === 1 ? "session" : "sessions"
  }`;
  return layout({
    title: "Devices",
    section: "devices",
    viewer: options.viewer,
    notices: options.notices ?? [],
    body: html`
      <section class="card">
        <h1>Devices</h1>
        <p class="lead">
          ${count} for <code>${options.viewer.did}</code>: browsers (cookies)
          and apps (Bearer tokens). Revoking one signs it out on its very next
          request, even if it kept a copy of its cookie or token.
        </p>
        <table>
          <thead>
            <tr>
              <th>Device</th>
              <th>IP address</th>
              <th>Created</th>
              <th>Last used</th>
              <th></th>
            </tr>
          </thead>
          <tbody>${rows}</tbody>
        </table>
      </section>
      <section class="card">
        <h2>Sign out everywhere</h2>
        <p class="muted">
          Ends every session above, this browser's included, and revokes the
          app's OAuth session at your PDS (<code>${options.pdsUrl}</code>):
          the PDS stops accepting its access and refresh tokens.
        </p>
        <form method="post" action="/signout-everywhere">
          <button class="danger" type="submit">Sign out everywhere</button>
        </form>
      </section>
    `,
  });
}

/** A hand-off code waiting to be redeemed. */
export interface PendingHandoff {
  readonly code: string;
  readonly expiresAt: number;
}

/** Options for the "connect the app" page. */
export interface ConnectPageOptions {
  readonly viewer: Viewer;
  readonly origin: string;
  readonly now: number;
  /** The app's custom URL scheme, e.g. `atproto-sessions-demo`. */
  readonly scheme: string;
  readonly handoff?: PendingHandoff | undefined;
  readonly notices?: readonly (Notice | undefined)[];
}

/**
 * The "connect the app" page: what a native app gets after signing in in
 * the browser: a custom-scheme link carrying a single-use hand-off code,
 * which the app POSTs to get its Bearer token.
 *
 * @param options The viewer, the origin and the pending code.
 * @returns The page.
 */
export function connectPage(options: ConnectPageOptions): Html {
  const { handoff, origin } = options;
  const steps = handoff === undefined
    ? html`
      <form method="post" action="/connect">
        <button type="submit" id="create-code">Connect the app</button>
      </form>
    `
    : html`
      <p>
        A native app registers the <code>${options.scheme}:</code> URL scheme;
        the browser opens this link and hands it the code:
      </p>
      <a class="applink" id="app-link" href="${appLink(
        options.scheme,
        handoff.code,
      )}">${appLink(options.scheme, handoff.code)}</a>
      <p class="muted">
        The code works once and expires ${when(handoff.expiresAt, options.now)}.
        Try what the app does with <code>curl</code>: redeem the code for a
        Bearer token (a POST, so the code never sits in a URL the server
        logs), then call the API with it.
      </p>
      <pre id="curl-redeem">${redeemLine(origin, handoff.code)}</pre>
      <pre id="curl-me">${meLine(origin)}</pre>
      <p class="muted">
        The token then shows on <a href="/devices">Devices</a> as a
        <em>Token</em> session, where you can revoke it.
      </p>
      <form method="post" action="/connect">
        <button class="secondary" type="submit">New code</button>
      </form>
    `;
  return layout({
    title: "Connect the app",
    section: "connect",
    viewer: options.viewer,
    notices: options.notices ?? [],
    body: html`
      <section class="card">
        <h1>Connect the app</h1>
        <p class="lead">
          Native apps sign in in the browser too, then get their own
          <code>Authorization: Bearer</code> token, listed with your devices.
          No token ever travels in a URL: the link carries a single-use code.
        </p>
        ${steps}
      </section>
    `,
  });
}

/**
 * The custom-scheme link a native app receives.
 *
 * @param scheme The URL scheme.
 * @param code The hand-off code.
 * @returns The link.
 */
export function appLink(scheme: string, code: string): string {
  return `${scheme}://signed-in?code=${encodeURIComponent(code)}`;
}

/**
 * The `curl` line that redeems a code; it sets `TOKEN` for the next line.
 *
 * @param origin The demo's origin.
 * @param code The hand-off code.
 * @returns A shell line.
 */
export function redeemLine(origin: string, code: string): string {
  return `TOKEN=$(curl -s -H 'Accept: text/plain' -d 'code=${code}' -d 'label=curl' ${origin}/api/handoff)`;
}

/**
 * The `curl` line that calls `/api/me` with the token.
 *
 * @param origin The demo's origin.
 * @returns A shell line.
 */
export function meLine(origin: string): string {
  return `curl -s -H "Authorization: Bearer $TOKEN" ${origin}/api/me`;
}

/** What the sensitive page shows once the sign-in is recent enough. */
export interface AccountDetails {
  readonly email: string | null;
  readonly emailConfirmed: boolean;
}

/** Options for the sensitive page. */
export interface SensitivePageOptions {
  readonly viewer: Viewer;
  readonly now: number;
  readonly authenticatedAt: number;
  readonly reauthSeconds: number;
  /** Null when the sign-in is too old (or the PDS is unreachable). */
  readonly details: AccountDetails | null;
  readonly fresh: boolean;
  readonly notices?: readonly (Notice | undefined)[];
}

/**
 * The sensitive page: the account's e-mail address, shown only when the
 * user signed in within `reauthSeconds`; otherwise a button that sends them
 * through OAuth again.
 *
 * @param options The viewer, the sign-in time and the threshold.
 * @returns The page.
 */
export function sensitivePage(options: SensitivePageOptions): Html {
  const { details, fresh } = options;
  const limit = duration(options.reauthSeconds);
  const body = fresh
    ? html`
      <p class="lead">
        You signed in ${when(options.authenticatedAt, options.now)}, within
        the last ${limit}, so this page opens.
      </p>
      ${details === null
        ? html`<p class="muted">Your PDS cannot be reached: see above.</p>`
        : html`
          <dl class="facts">
            <dt>E-mail</dt>
            <dd id="email">${details.email ?? "not shared with this app"}</dd>
            <dt>Confirmed</dt>
            <dd>${details.emailConfirmed ? "yes" : "no"}</dd>
          </dl>
        `}
    `
    : html`
      <p class="lead" id="reauth-needed">
        This page needs a sign-in within the last ${limit}. You signed in
        ${when(options.authenticatedAt, options.now)}: confirm it is you at
        your PDS, then you come straight back here.
      </p>
      <form method="post" action="/reauth">
        <button type="submit">Sign in again</button>
      </form>
    `;
  return layout({
    title: "Sensitive",
    section: "sensitive",
    viewer: options.viewer,
    notices: options.notices ?? [],
    body: html`
      <section class="card">
        <h1>Sensitive page</h1>
        ${body}
        <p class="muted"><small>
          Gated by <code>authenticatedWithin(data, ${options
            .reauthSeconds})</code>: sliding refresh keeps a session alive but
          never moves <code>authenticatedAt</code>; only a real sign-in does.
        </small></p>
      </section>
    `,
  });
}

/**
 * A page for a request that cannot be served: a wrong method, a missing
 * page, a refused cross-origin form.
 *
 * @param title The page title.
 * @param message What went wrong.
 * @param viewer Who is signed in, when known.
 * @returns The page.
 */
export function errorPage(
  title: string,
  message: string | Html,
  viewer?: Viewer,
): Html {
  return layout({
    title,
    section: "error",
    viewer,
    body: html`
      <section class="card">
        <h1>${title}</h1>
        <p id="message">${message}</p>
        <p><a href="/">Back to the demo</a></p>
      </section>
    `,
  });
}

/**
 * Formats a time relative to now, with the UTC time as a tooltip.
 *
 * @param time Milliseconds since the epoch.
 * @param now The current time.
 * @returns Markup with a machine-readable `<time>`.
 */
export function when(time: number, now: number): Html {
  const date = new Date(time);
  const iso = date.toISOString();
  const text = `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
  return html`<time datetime="${iso}" title="${text}">${
    relative(time, now)
  }</time>`;
}

function relative(time: number, now: number): string {
  const seconds = Math.round((time - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 5) return "just now";
  const phrase = duration(abs);
  return seconds < 0 ? `${phrase} ago` : `in ${phrase}`;
}

/**
 * "45 seconds", "3 minutes", "2 hours", "6 days".
 *
 * @param seconds A non-negative number of seconds.
 * @returns The phrase.
 */
export function duration(seconds: number): string {
  const units: readonly [string, number][] = [
    ["day", 86_400],
    ["hour", 3_600],
    ["minute", 60],
    ["second", 1],
  ];
  for (const [unit, size] of units) {
    if (seconds >= size || unit === "second") {
      const count = Math.max(1, Math.round(seconds / size));
      return `${count} ${unit}${count === 1 ? "" : "s"}`;
    }
  }
  return `${seconds} seconds`;
}

/**
 * Names a browser and platform from a User-Agent, roughly: "Chrome on
 * Linux". Good enough for a device list; never used for decisions.
 *
 * @param userAgent The recorded User-Agent.
 * @returns A short label.
 */
export function describeAgent(userAgent: string | undefined): string {
  if (!userAgent) return "Unknown device";
  const browser = /Edg\//.test(userAgent)
    ? "Edge"
    : /Firefox\//.test(userAgent)
    ? "Firefox"
    : /HeadlessChrome\//.test(userAgent)
    ? "Headless Chrome"
    : /(Chrome|CriOS)\//.test(userAgent)
    ? "Chrome"
    : /Safari\//.test(userAgent)
    ? "Safari"
    : /^curl\//.test(userAgent)
    ? "curl"
    : /^Deno\//.test(userAgent)
    ? "Deno"
    : "Browser";
  const platform = /iPhone/.test(userAgent)
    ? "iPhone"
    : /iPad/.test(userAgent)
    ? "iPad"
    : /Android/.test(userAgent)
    ? "Android"
    : /Mac OS X|Macintosh/.test(userAgent)
    ? "macOS"
    : /Windows/.test(userAgent)
    ? "Windows"
    : /Linux|X11/.test(userAgent)
    ? "Linux"
    : "";
  return platform === "" ? browser : `${browser} on ${platform}`;
}

function shortDid(did = ""): string {
  return did.length > 28 ? `${did.slice(0, 24)}…` : did;
}
