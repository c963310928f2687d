/**
 * Shared pieces of the OAuth tests that run against the local PDS
 * (dev/pds/): a loopback NodeOAuthClient on `oauthStores()`, Chromium, and
 * a sign-in through the PDS's real pages.
 *
 * @module
 */

import type { Browser, BrowserContext } from "npm:playwright-core@1.65.1";
import {
  NodeOAuthClient,
  type NodeOAuthClientOptions,
} from "npm:@atproto/oauth-client-node@0.5.3";
import type { AtprotoNetwork } from "../../dev/pds/mod.ts";
import { signInThroughPds } from "../../dev/pds/oauth_browser.ts";
import type { OAuthStores, RequestLock } from "../../src/oauth/types.ts";

export {
  CHROMIUM_PATH,
  chromiumAvailable,
  HAS_CHROMIUM,
  launchChromium,
  ON_CI,
} from "../e2e/_chromium.ts";

export const SCOPE = "atproto transition:generic";
/** Where the PDS redirects; the browser's request is answered in-browser. */
export const REDIRECT_URI = "http://127.0.0.1:8976/callback";

/**
 * The metadata of a loopback client (`client_id` `http://localhost?...`),
 * which the PDS accepts without a hosted client document.
 */
export function loopbackClientMetadata(
  redirectUri: string,
  scope: string = SCOPE,
): NodeOAuthClientOptions["clientMetadata"] {
  return {
    client_id: `http://localhost?redirect_uri=${
      encodeURIComponent(redirectUri)
    }&scope=${encodeURIComponent(scope)}`,
    redirect_uris: [redirectUri as `http://127.0.0.1:${string}`],
    scope,
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
    application_type: "web",
    dpop_bound_access_tokens: true,
  };
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
    clientMetadata: loopbackClientMetadata(REDIRECT_URI),
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
