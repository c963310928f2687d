/**
 * The demo's pages: server-rendered HTML, no JavaScript, one stylesheet.
 * Every dynamic value goes through the escaping `html` tag.
 *
 * @module
 */

import type { SessionData, SessionRecord } from "../../mod.ts";
import { type Html, html } from "./html.ts";

/** The stylesheet, served at `/style.css`. */
export const STYLESHEET: string = `
:root {
  color-scheme: light;
  --bg: #f5f6f8; --card: #fff; --text: #15181d; --muted: #5d6470;
  --border: #e2e5ea; --accent: #1172e8; --accent-hover: #0b5fc6;
  --danger: #c4320a; --ok: #067647;
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, Ubuntu, sans-serif;
}
a { color: var(--accent); }
.top { background: var(--card); border-bottom: 1px solid var(--border); }
.top .inner, main, footer { max-width: 960px; margin: 0 auto; padding: 0 24px; }
.top .inner { display: flex; align-items: center; gap: 16px; min-height: 60px; }
.brand { display: flex; align-items: center; gap: 10px; font-weight: 650; color: var(--text); text-decoration: none; white-space: nowrap; }
.logo { width: 24px; height: 24px; border-radius: 7px; background: linear-gradient(135deg, #1185fe, #7b5cff); }
nav { display: flex; gap: 2px; white-space: nowrap; }
nav a { color: var(--muted); text-decoration: none; padding: 6px 10px; border-radius: 8px; }
nav a:hover { color: var(--text); background: #f0f2f5; }
nav a[aria-current="page"] { color: var(--text); background: #eaeef3; font-weight: 550; }
.who { color: var(--muted); font-size: .9rem; margin-left: auto; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
main { margin-top: 32px; margin-bottom: 24px; }
.card {
  background: var(--card); border: 1px solid var(--border); border-radius: 14px;
  padding: 24px 28px; margin-bottom: 20px; box-shadow: 0 1px 2px rgba(16, 24, 40, .04);
}
h1 { font-size: 1.55rem; line-height: 1.25; margin: 0 0 6px; letter-spacing: -.01em; }
h2 { font-size: 1.08rem; margin: 0 0 12px; }
p { margin: 0 0 12px; }
.lead { color: var(--muted); margin-bottom: 18px; }
.muted { color: var(--muted); }
small { font-size: .82rem; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code { font-size: .88em; background: #f0f2f5; padding: 1px 6px; border-radius: 5px; overflow-wrap: anywhere; }
pre {
  background: #101828; color: #e4e7ec; padding: 14px 16px; border-radius: 10px; margin: 0 0 14px;
  font-size: .82rem; line-height: 1.5; white-space: pre-wrap; word-break: break-all;
}
dl.facts { display: grid; grid-template-columns: 150px 1fr; gap: 10px 16px; margin: 0 0 4px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
label { display: block; font-weight: 600; margin-bottom: 6px; }
input[type="text"] {
  font: inherit; width: 100%; padding: 10px 12px; border: 1px solid #cfd4dc; border-radius: 9px;
  margin-bottom: 14px; background: #fff;
}
input[type="text"]:focus { outline: 3px solid rgba(17, 114, 232, .2); border-color: var(--accent); }
button {
  font: inherit; font-weight: 600; font-size: .95rem; cursor: pointer; border-radius: 9px;
  padding: 8px 16px; border: 1px solid var(--accent); background: var(--accent); color: #fff;
  white-space: nowrap;
}
button:hover { background: var(--accent-hover); }
button.secondary { background: var(--card); color: var(--text); border-color: #cfd4dc; }
button.secondary:hover { background: #f0f2f5; }
button.danger { background: var(--card); color: var(--danger); border-color: #f4c7b8; }
button.danger:hover { background: #fff4ef; }
button.small { padding: 4px 12px; font-size: .85rem; }
form.inline { display: inline; margin: 0; }
.actions { display: flex; gap: 10px; flex-wrap: wrap; align-items: center; margin-top: 8px; }
.notice { border: 1px solid; border-radius: 10px; padding: 12px 16px; margin-bottom: 20px; }
.notice.error { background: #fef3f2; border-color: #fecdca; color: #912018; }
.notice.info { background: #eff8ff; border-color: #b2ddff; color: #194185; }
.notice.success { background: #ecfdf3; border-color: #abefc6; color: #05603a; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 12px 8px; border-bottom: 1px solid var(--border); vertical-align: top; }
tr:last-child td { border-bottom: 0; }
th { font-size: .74rem; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); font-weight: 650; }
td.device strong { display: block; }
td.device small { display: block; color: var(--muted); max-width: 300px; overflow-wrap: anywhere; }
.badge {
  display: inline-block; font-size: .72rem; font-weight: 650; padding: 1px 8px; margin-left: 6px;
  border-radius: 999px; background: #ecfdf3; color: var(--ok); border: 1px solid #abefc6; vertical-align: 1px;
}
ul.steps { margin: 0; padding-left: 20px; }
ul.steps li { margin-bottom: 6px; }
footer { color: var(--muted); font-size: .85rem; margin-bottom: 40px; }
@media (max-width: 760px) {
  .top .inner { flex-wrap: wrap; padding-top: 10px; padding-bottom: 10px; }
  nav { order: 3; flex-basis: 100%; overflow-x: auto; }
  dl.facts { grid-template-columns: 1fr; gap: 2px; }
  dl.facts dd { margin-bottom: 10px; }
  table, thead, tbody, tr, th, td { display: block; }
  thead { display: none; }
  td { border: 0; padding: 4px 0; }
  td[data-label]::before { content: attr(data-label) ": "; color: var(--muted); font-family: system-ui, sans-serif; }
  tr { border-bottom: 1px solid var(--border); padding: 10px 0; }
}
`;

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

type Section = "home" | "devices" | "token" | "signin" | "error";

interface LayoutOptions {
  readonly title: string;
  readonly section: Section;
  readonly viewer?: Viewer | undefined;
  readonly notice?: Notice | undefined;
  readonly body: Html;
}

function layout(options: LayoutOptions): Html {
  const { viewer, section, notice } = options;
  const link = (href: string, label: string, own: Section): Html =>
    html`<a href="${href}" aria-current="${
      own === section ? "page" : "false"
    }">${label}</a>`;
  const name = viewer?.handle ? `@${viewer.handle}` : shortDid(viewer?.did);
  const nav = viewer === undefined ? html`<nav></nav>` : html`
    <nav>
      ${link("/", "Home", "home")} ${link("/devices", "Devices", "devices")}
      ${link("/token", "Mobile token", "token")} <a href="/api/me">/api/me</a>
    </nav>
    <span class="who">${name}</span>
    <form class="inline" method="post" action="/signout">
      <button class="secondary small" type="submit">Sign out</button>
    </form>
  `;
  const banner = notice === undefined ? "" : html`
    <div class="notice ${notice.kind}" role="${notice.kind === "error"
      ? "alert"
      : "status"}">${notice.text}</div>
  `;
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
        <main>${banner} ${options.body}</main>
        <footer>
          A demo of <code>@tijs/atproto-sessions</code>: Iron-sealed cookies
          and Bearer tokens with a server-side session store (in memory:
          restarting the demo forgets every session).
        </footer>
      </body>
    </html>
  `;
}

/** Options for the sign-in page. */
export interface SignInPageOptions {
  readonly notice?: Notice | undefined;
  readonly value?: string | undefined;
}

/**
 * The sign-in page: a form that stands in for the AT Protocol OAuth callback.
 *
 * @param options A notice (such as a validation error) and the value typed.
 * @returns The page.
 */
export function signInPage(options: SignInPageOptions = {}): Html {
  const value = options.value ?? "";
  return layout({
    title: "Sign in",
    section: "signin",
    notice: options.notice,
    body: html`
      <section class="card">
        <h1>Sign in</h1>
        <p class="lead">Enter a Bluesky handle or a DID to start a session.</p>
        <form method="post" action="/signin">
          <label for="identifier">Handle or DID</label>
          <input type="text" id="identifier" name="identifier" value="${value}"
            placeholder="alice.bsky.social or did:plc:…" autocomplete="username"
            spellcheck="false" autocapitalize="off" required autofocus>
          <button type="submit">Sign in</button>
        </form>
      </section>
      <section class="card">
        <h2>This form stands in for the OAuth callback</h2>
        <p>
          A real app signs users in with AT Protocol OAuth: the user is sent to
          their PDS to approve, and comes back to the app's callback, which
          learns their DID and calls <code>sessions.createSession({ did })</code>.
          OAuth needs the network, so this demo skips it and trusts what you
          type: there is no password, and nothing is looked up.
        </p>
        <ul class="steps">
          <li>
            A <strong>DID</strong> (<code>did:plc:…</code>, <code>did:web:…</code>)
            is used as it is, once the library has checked its syntax.
          </li>
          <li>
            A <strong>handle</strong> (<code>alice.bsky.social</code>) is not
            resolved: the demo maps it to a made-up DID in the
            <code>did:plc</code> format, derived from the handle, so the same
            handle always gets the same DID.
          </li>
        </ul>
      </section>
    `,
  });
}

/** Options for the home page. */
export interface HomePageOptions {
  readonly data: SessionData & { readonly handle?: string };
  readonly record: SessionRecord | null;
  readonly now: number;
  readonly notice?: Notice | undefined;
}

/**
 * The home page: who you are and what the session looks like.
 *
 * @param options The session and the current time.
 * @returns The page.
 */
export function homePage(options: HomePageOptions): Html {
  const { data, record, now } = options;
  const title = data.handle ? `@${data.handle}` : "a DID";
  const handle = data.handle ??
    html`<span class="muted">none (signed in with a DID)</span>`;
  const expires = record === null ? "" : html`
    <dt>Expires</dt>
    <dd>${when(
      record.expiresAt,
      now,
    )} <small class="muted">unless used again</small></dd>
  `;
  return layout({
    title: "Home",
    section: "home",
    viewer: data,
    notice: options.notice,
    body: html`
      <section class="card">
        <h1>Signed in as ${title}</h1>
        <p class="lead">
          Your browser holds an Iron-sealed session cookie; the server keeps a
          record of the session so it can list and revoke it.
        </p>
        <dl class="facts">
          <dt>DID</dt>
          <dd><code id="did">${data.did}</code></dd>
          <dt>Handle</dt>
          <dd id="handle">${handle}</dd>
          <dt>Signed in</dt>
          <dd id="created">${when(data.createdAt, now)}</dd>
          <dt>Last used</dt>
          <dd id="last-used">${when(
            data.lastAccessed,
            now,
          )} <small class="muted">(updated at most once a minute)</small></dd>
          ${expires}
          <dt>Cookie</dt>
          <dd>
            <code>sid</code>: HttpOnly, Secure, SameSite=Lax, so scripts on
            this page cannot read it
          </dd>
        </dl>
      </section>
      <section class="card">
        <h2>Try it</h2>
        <ul class="steps">
          <li>
            Open this page in a second browser (or a private window), sign in
            as the same ${data.handle ? "handle" : "DID"}, then revoke that
            session from <a href="/devices">Devices</a>: the other browser is
            signed out on its next request.
          </li>
          <li>
            Mint a <a href="/token">mobile token</a> and call
            <code>/api/me</code> with it from <code>curl</code>, then revoke it.
          </li>
          <li>See the session as JSON at <a href="/api/me">/api/me</a>.</li>
        </ul>
        <form class="actions" method="post" action="/signout">
          <button class="secondary" type="submit">Sign out of this browser</button>
        </form>
      </section>
    `,
  });
}

/** Options for the devices page. */
export interface DevicesPageOptions {
  readonly viewer: Viewer;
  readonly records: readonly SessionRecord[];
  readonly currentId: string | undefined;
  readonly now: number;
  readonly notice?: Notice | undefined;
}

/**
 * The devices page: every active session of the DID, each revocable.
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
    return html`
      <tr data-session-id="${record.id}" data-current="${String(current)}">
        <td class="device">
          <strong>${describeAgent(agent)}${badge}</strong>
          <small>${agent ?? "no user agent"}</small>
        </td>
        <td class="mono" data-label="IP address">${record.metadata.ipAddress ??
          "unknown"}</td>
        <td data-label="Signed in">${when(record.createdAt, now)}</td>
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
    notice: options.notice,
    body: html`
      <section class="card">
        <h1>Devices</h1>
        <p class="lead">
          ${count} for <code>${options.viewer.did}</code>. Revoking one signs
          that browser out on its very next request, even if it kept a copy of
          the cookie.
        </p>
        <table>
          <thead>
            <tr>
              <th>Device</th>
              <th>IP address</th>
              <th>Signed in</th>
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
          Revokes every session of this DID, this browser's included. Mobile
          tokens are separate: revoke them by their id.
        </p>
        <form method="post" action="/devices/revoke-all">
          <button class="danger" type="submit">Sign out everywhere</button>
        </form>
      </section>
    `,
  });
}

/** Options for the mobile token page. */
export interface TokenPageOptions {
  readonly viewer: Viewer;
  readonly origin: string;
  readonly now: number;
  /** A token just minted, shown once with its expiry. */
  readonly minted?: { readonly token: string; readonly expiresAt: number };
  readonly notice?: Notice | undefined;
}

/**
 * The mobile token page: mint a Bearer token, try it with curl, revoke it.
 *
 * @param options The viewer, the server's origin and a freshly minted token.
 * @returns The page.
 */
export function tokenPage(options: TokenPageOptions): Html {
  const { minted, origin } = options;
  const body = minted === undefined
    ? html`
      <section class="card">
        <h1>Mobile token</h1>
        <p class="lead">
          Apps that cannot keep cookies (a mobile app, a CLI) send an
          <code>Authorization: Bearer</code> token instead. It is an Iron seal
          like the cookie, with its own id so it can be revoked.
        </p>
        <form method="post" action="/token">
          <button type="submit">Mint a token</button>
        </form>
      </section>
      <section class="card">
        <h2>Without a token</h2>
        <p><code>/api/me</code> answers <code>401</code> with the reason:</p>
        <pre>${`curl ${origin}/api/me`}</pre>
      </section>
    `
    : html`
      <section class="card">
        <h1>Your token</h1>
        <p class="lead">
          Shown once: copy it now. It expires ${when(
            minted.expiresAt,
            options.now,
          )}.
        </p>
        <pre id="token">${minted.token}</pre>
        <h2>Try it</h2>
        <pre id="curl">${curlLine(origin, minted.token)}</pre>
        <form method="post" action="/token/revoke">
          <input type="hidden" name="token" value="${minted.token}">
          <button class="danger" type="submit">Revoke this token</button>
        </form>
      </section>
      <section class="card">
        <h2>How revocation works</h2>
        <p class="muted">
          The server reads the token's <code>jti</code> and expiry
          (<code>unsealToken</code>) and stores the <code>jti</code> as revoked
          until the token would have expired anyway (<code>revokeToken</code>).
          The same curl line then answers <code>401 TOKEN_REVOKED</code>.
        </p>
        <form method="post" action="/token">
          <button class="secondary" type="submit">Mint another token</button>
        </form>
      </section>
    `;
  return layout({
    title: "Mobile token",
    section: "token",
    viewer: options.viewer,
    notice: options.notice,
    body,
  });
}

function curlLine(origin: string, token: string): string {
  return `curl -H 'Authorization: Bearer ${token}' ${origin}/api/me`;
}

/**
 * A page for a request that cannot be served: a wrong method, a missing
 * page, a failed cross-origin check.
 *
 * @param title The page title.
 * @param message What went wrong.
 * @param viewer Who is signed in, when known.
 * @returns The page.
 */
export function errorPage(
  title: string,
  message: string,
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
 * Formats a time as UTC and relative to now: "2025-01-02 13:04 UTC (5
 * minutes ago)".
 *
 * @param time Milliseconds since the epoch.
 * @param now The current time.
 * @returns Markup with a machine-readable `<time>`.
 */
export function when(time: number, now: number): Html {
  const date = new Date(time);
  const iso = date.toISOString();
  const text = `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
  return html`<time datetime="${iso}" title="${text}">${
    relative(time, now)
  }</time>`;
}

function relative(time: number, now: number): string {
  const seconds = Math.round((time - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return "just now";
  const units: readonly [string, number][] = [
    ["day", 86_400],
    ["hour", 3_600],
    ["minute", 60],
  ];
  for (const [unit, size] of units) {
    if (abs >= size || unit === "minute") {
      const count = Math.max(1, Math.round(abs / size));
      const phrase = `${count} ${unit}${count === 1 ? "" : "s"}`;
      return seconds < 0 ? `${phrase} ago` : `in ${phrase}`;
    }
  }
  return "just now";
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
