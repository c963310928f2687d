// deno-lint-ignore-file no-console -- the test explains skips and error shapes
/**
 * Real AT Protocol OAuth, end to end: a local PLC directory and PDS
 * (dev/pds/), `@atproto/oauth-client-node` in Deno, and headless Chromium
 * through the PDS's real sign-in and consent pages. Then the PDS goes down
 * and comes back, and revokes the grant, to pin what `restore()` does.
 *
 * Environment:
 * - CHROMIUM_PATH: the browser to drive (default /usr/bin/chromium).
 * - CI=true: a missing browser or network fails the test instead of
 *   skipping it. Install the network with `deno task pds:install`.
 */

import assert from "node:assert/strict";
import type { Browser } from "npm:playwright-core@1.65.1";
import {
  NodeOAuthClient,
  type NodeSavedSession,
  type NodeSavedState,
  TokenRefreshError,
  TokenRevokedError,
} from "npm:@atproto/oauth-client-node@0.5.3";
import {
  type AtprotoNetwork,
  atprotoNetworkAvailable,
  startAtprotoNetwork,
} from "../../dev/pds/mod.ts";
import { signInThroughPds } from "../../dev/pds/oauth_browser.ts";
import { loopbackClientMetadata, SCOPE } from "../oauth/_pds.ts";
import {
  chromiumAvailable,
  launchChromium,
  ON_CI,
  requireChromium,
} from "./_chromium.ts";

const HAS_CHROMIUM = chromiumAvailable("the AT Protocol OAuth smoke test");

if (atprotoNetworkAvailable("AT Protocol OAuth smoke test")) {
  Deno.test({
    name:
      "NodeOAuthClient signs alice in through the real PDS, and restore() follows the PDS going down, coming back and revoking",
    ignore: !HAS_CHROMIUM && !ON_CI,
    // The OAuth client keeps caches with timers of its own.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      requireChromium();
      let network: AtprotoNetwork | undefined;
      let browser: Browser | undefined;
      const callbacks: URL[] = [];
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen() {} },
        (request) => {
          const url = new URL(request.url);
          if (url.pathname !== "/callback") {
            return new Response("not found", { status: 404 });
          }
          callbacks.push(url);
          return new Response("signed in", { status: 200 });
        },
      );
      try {
        network = await startAtprotoNetwork();
        const alice = network.accounts.alice!;
        const { client, sessions, events } = oauthClient(
          network,
          `http://127.0.0.1:${server.addr.port}/callback`,
        );
        browser = await launchChromium();
        const page = await browser.newPage();
        const redirectUri = client.clientMetadata.redirect_uris[0];

        const signIn = async (): Promise<URLSearchParams> => {
          const url = await client.authorize(alice.handle, { scope: SCOPE });
          const landed = await signInThroughPds(page, url, {
            password: alice.password,
            redirectUri,
          });
          return landed.searchParams;
        };

        await t.step(
          "callback() after the real sign-in and consent pages returns alice's session",
          async () => {
            const params = await signIn();
            assert.ok(params.get("code"), "the redirect carries a code");
            assert.equal(params.get("iss"), network!.pdsUrl);
            assert.equal(callbacks.at(-1)?.pathname, "/callback");
            const { session } = await client.callback(params);
            assert.equal(session.did, alice.did);
            // callback() first revokes any session stored for the DID; with
            // none stored, that fires onSessionDeleted(TokenRefreshError).
            assert.deepEqual(events.splice(0), [
              `deleted ${alice.did} TokenRefreshError`,
              `updated ${alice.did}`,
            ]);
            const stored = sessions.get(alice.did);
            assert.ok(stored?.dpopJwk && stored.tokenSet.refresh_token);
          },
        );

        await t.step(
          "session.fetchHandler() reaches getSession with alice's DID and handle",
          async () => {
            const session = await client.restore(alice.did);
            const response = await session.fetchHandler(
              "/xrpc/com.atproto.server.getSession",
            );
            assert.equal(response.status, 200);
            const body = await response.json();
            assert.equal(body.did, alice.did);
            assert.equal(body.handle, alice.handle);
          },
        );

        await t.step(
          "restore(did, true) rejects while the PDS is down and keeps the stored session",
          async () => {
            await network!.stopPds();
            const error = await client.restore(alice.did, true).then(
              () => assert.fail("restore() resolved with the PDS down"),
              (error: unknown) => error,
            );
            console.log(`restore() with the PDS down threw ${describe(error)}`);
            assert.ok(error instanceof Error);
            assert.ok(
              !(error instanceof TokenRefreshError),
              "a network failure is not a refresh rejection",
            );
            assert.ok(sessions.has(alice.did), "the session is kept");
            assert.deepEqual(events.splice(0), []);
          },
        );

        await t.step(
          "restore(did, true) works again once the PDS is back on the same port",
          async () => {
            await network!.startPds();
            const session = await client.restore(alice.did, true);
            const response = await session.fetchHandler(
              "/xrpc/com.atproto.server.getSession",
            );
            assert.equal(response.status, 200);
            assert.equal((await response.json()).did, alice.did);
            assert.deepEqual(events.splice(0), [`updated ${alice.did}`]);
          },
        );

        await t.step(
          "a second callback() for the same DID deletes the old session (TokenRevokedError) before storing the new one",
          async () => {
            const { session } = await client.callback(await signIn());
            assert.equal(session.did, alice.did);
            assert.deepEqual(events.splice(0), [
              `deleted ${alice.did} TokenRevokedError`,
              `updated ${alice.did}`,
            ]);
          },
        );

        await t.step(
          "after the PDS revokes the grant, restore(did, true) throws TokenRefreshError and deletes the session",
          async () => {
            assert.ok((await network!.revokeOAuth(alice.did)) >= 1);
            const error = await client.restore(alice.did, true).then(
              () => assert.fail("restore() resolved after the revocation"),
              (error: unknown) => error,
            );
            console.log(`restore() after revocation threw ${describe(error)}`);
            assert.ok(error instanceof TokenRefreshError);
            assert.ok(!sessions.has(alice.did), "the session is deleted");
            assert.deepEqual(events.splice(0), [
              `deleted ${alice.did} TokenRefreshError`,
            ]);
          },
        );

        await t.step(
          "restore() of a DID with no stored session throws TokenRefreshError",
          async () => {
            const error = await client.restore(alice.did).then(
              () => assert.fail("restore() resolved with no session"),
              (error: unknown) => error,
            );
            assert.ok(error instanceof TokenRefreshError);
            assert.ok(!(error instanceof TokenRevokedError));
            assert.deepEqual(events.splice(0), [
              `deleted ${alice.did} TokenRefreshError`,
            ]);
          },
        );
      } finally {
        await browser?.close();
        await network?.close();
        await server.shutdown();
      }
    },
  });
}

/** A loopback OAuth client with Map stores and an in-process lock. */
function oauthClient(network: AtprotoNetwork, redirectUri: string): {
  client: NodeOAuthClient;
  sessions: Map<string, NodeSavedSession>;
  events: string[];
} {
  const states = new Map<string, NodeSavedState>();
  const sessions = new Map<string, NodeSavedSession>();
  const events: string[] = [];
  const locks = new Map<string, Promise<unknown>>();
  const client = new NodeOAuthClient({
    clientMetadata: loopbackClientMetadata(redirectUri),
    allowHttp: true,
    handleResolver: network.pdsUrl,
    plcDirectoryUrl: network.plcUrl,
    stateStore: {
      get: (key) => states.get(key),
      set: (key, value) => void states.set(key, value),
      del: (key) => void states.delete(key),
    },
    sessionStore: {
      get: (key) => sessions.get(key),
      set: (key, value) => void sessions.set(key, value),
      del: (key) => void sessions.delete(key),
    },
    requestLock: async (name, fn) => {
      const previous = locks.get(name) ?? Promise.resolve();
      const current = previous.catch(() => {}).then(fn);
      locks.set(name, current);
      try {
        return await current;
      } finally {
        if (locks.get(name) === current) locks.delete(name);
      }
    },
    onSessionUpdated: (sub) => void events.push(`updated ${sub}`),
    onSessionDeleted: (sub, cause) =>
      void events.push(
        `deleted ${sub} ${(cause as Error | undefined)?.constructor.name}`,
      ),
  });
  return { client, sessions, events };
}

/** constructor.name, .name, status, error and the cause chain, on one line. */
function describe(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    if (current instanceof Error) {
      const extra = current as Error & { status?: unknown; error?: unknown };
      parts.push(
        `${current.constructor.name}(name=${current.name}${
          extra.status !== undefined ? ` status=${extra.status}` : ""
        }${
          extra.error !== undefined ? ` error=${extra.error}` : ""
        }: ${current.message})`,
      );
      current = current.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.join(" <- ");
}
