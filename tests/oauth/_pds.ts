// deno-lint-ignore-file no-console -- explains skips
/**
 * Shared pieces of the OAuth tests that run against the local PDS
 * (dev/pds/): a loopback NodeOAuthClient on `oauthStores()`, Chromium, and
 * a sign-in through the PDS's real pages.
 *
 * @module
 */

import type { Browser, BrowserContext } from "npm:playwright-core@1.65.1";
import { NodeOAuthClient } from "npm:@atproto/oauth-client-node@0.5.3";
import type { AtprotoNetwork } from "../../dev/pds/mod.ts";
import { signInThroughPds } from "../../dev/pds/oauth_browser.ts";
import { loadPlaywright } from "../e2e/_playwright.ts";
import type { OAuthStores, RequestLock } from "../../src/oauth/types.ts";

export const CHROMIUM_PATH = Deno.env.get("CHROMIUM_PATH") ??
  "/usr/bin/chromium";
export const ON_CI = Deno.env.get("CI") === "true";
export const HAS_CHROMIUM = isFile(CHROMIUM_PATH);
export const SCOPE = "atproto transition:generic";
/** Where the PDS redirects; the browser's request is answered in-browser. */
export const REDIRECT_URI = "http://127.0.0.1:8976/callback";

const LAUNCH_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
  "--host-resolver-rules=MAP localhost 127.0.0.1",
];

/**
 * Whether the Chromium tests can run; prints why not. Under CI=true a
 * missing browser is reported by the test itself, as a failure.
 */
export function chromiumAvailable(suite: string): boolean {
  if (HAS_CHROMIUM) return true;
  if (!ON_CI) {
    console.warn(
      `Skipping ${suite}: no Chromium at ${CHROMIUM_PATH}. Install it (apt-get install chromium) or set CHROMIUM_PATH.`,
    );
  }
  return false;
}

/** Launches headless Chromium, or throws saying what is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!HAS_CHROMIUM) {
    throw new Error(
      `CI=true but there is no Chromium at ${CHROMIUM_PATH}: install Debian's chromium package, or set CHROMIUM_PATH`,
    );
  }
  const { chromium } = await loadPlaywright();
  return await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: LAUNCH_ARGS,
    timeout: 60_000,
  });
}

/** Options of {@linkcode oauthClient}. */
export interface OAuthClientOptions {
  /** The hook to pass as `onSessionDeleted`. */
  onSessionDeleted?: (did: string, cause: unknown) => void | Promise<void>;
  /** Replaces the stores' lock (the race test's no-op lock). */
  requestLock?: RequestLock;
}

/** A loopback NodeOAuthClient over `oauthStores()`, for the local network. */
export function oauthClient(
  network: { pdsUrl: string; plcUrl: string },
  stores: OAuthStores,
  options: OAuthClientOptions = {},
): NodeOAuthClient {
  return new NodeOAuthClient({
    clientMetadata: {
      client_id: `http://localhost?redirect_uri=${
        encodeURIComponent(REDIRECT_URI)
      }&scope=${encodeURIComponent(SCOPE)}`,
      redirect_uris: [REDIRECT_URI],
      scope: SCOPE,
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      application_type: "web",
      dpop_bound_access_tokens: true,
    },
    allowHttp: true,
    handleResolver: network.pdsUrl,
    plcDirectoryUrl: network.plcUrl,
    stateStore: stores.stateStore,
    sessionStore: stores.sessionStore,
    requestLock: options.requestLock ?? stores.requestLock,
    ...(options.onSessionDeleted === undefined
      ? {}
      : { onSessionDeleted: options.onSessionDeleted }),
  });
}

/**
 * Signs an account in through the PDS's real pages in a fresh browser
 * context (a device of its own) and returns the callback's parameters.
 */
export async function signIn(
  browser: Browser,
  client: NodeOAuthClient,
  account: { handle: string; password: string },
): Promise<URLSearchParams> {
  const context: BrowserContext = await browser.newContext();
  try {
    const page = await context.newPage();
    const url = await client.authorize(account.handle, { scope: SCOPE });
    const landed = await signInThroughPds(page, url, {
      password: account.password,
      redirectUri: REDIRECT_URI,
      intercept: true,
    });
    return landed.searchParams;
  } finally {
    await context.close();
  }
}

/** GETs com.atproto.server.getSession through an OAuth session. */
export async function getSession(
  session: { fetchHandler(path: string): Promise<Response> },
): Promise<{ status: number; did?: string; handle?: string }> {
  const response = await session.fetchHandler(
    "/xrpc/com.atproto.server.getSession",
  );
  const body = await response.json().catch(() => ({}));
  return { status: response.status, did: body.did, handle: body.handle };
}

export type { AtprotoNetwork };

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
