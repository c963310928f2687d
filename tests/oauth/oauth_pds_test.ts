/**
 * The OAuth bridge against the real thing: a local PLC directory and PDS
 * (dev/pds/), `@atproto/oauth-client-node` 0.5.3 on `oauthStores()`, and
 * headless Chromium through the PDS's real sign-in and consent pages.
 *
 * Environment: CHROMIUM_PATH (default /usr/bin/chromium); with CI=true a
 * missing browser or network fails instead of skipping.
 */

import assert from "node:assert/strict";
import type { Browser } from "npm:playwright-core@1.65.1";
import type { NodeOAuthClient } from "npm:@atproto/oauth-client-node@0.5.3";
import {
  type AtprotoNetwork,
  atprotoNetworkAvailable,
  startAtprotoNetwork,
} from "../../dev/pds/mod.ts";
import { MemorySessionStore } from "../../src/stores/memory.ts";
import type { OAuthValueStore } from "../../src/oauth/types.ts";
import { createTestHost, requestWith, type TestHost } from "./_host.ts";
import {
  chromiumAvailable,
  getSession,
  launchChromium,
  oauthClient,
  ON_CI,
  signIn,
} from "./_pds.ts";
import { storeFactories } from "./_stores.ts";

const SUITE = "OAuth bridge against the local PDS";
const RUN = atprotoNetworkAvailable(SUITE) &&
  (chromiumAvailable(SUITE) || ON_CI);

/** A manager + bridge and a client on its oauthStores(), hook wired. */
function wire(
  network: AtprotoNetwork,
  pieces: TestHost,
): { client: NodeOAuthClient; sessionStore: OAuthValueStore } {
  const stores = pieces.bridge.oauthStores();
  const client = oauthClient(network, stores, {
    onSessionDeleted: (did, cause) =>
      pieces.bridge.onOAuthSessionDeleted(did, cause),
  });
  return { client, sessionStore: stores.sessionStore };
}

if (RUN) {
  Deno.test({
    name: "OAuth bridge over the memory store, against the real PDS",
    // The OAuth client keeps caches with timers of its own.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      let network: AtprotoNetwork | undefined;
      let browser: Browser | undefined;
      try {
        network = await startAtprotoNetwork();
        browser = await launchChromium();
        const net = network;
        const chromium = browser;
        const alice = net.accounts.alice!;
        const pieces = createTestHost({ store: new MemorySessionStore() });
        const { manager, bridge, logger } = pieces;
        const { client, sessionStore } = wire(net, pieces);
        let laptop = "";
        let phone = "";

        await t.step(
          "a real sign-in ends in getOAuthSession() whose session calls getSession (DID + handle)",
          async () => {
            const { session } = await client.callback(
              await signIn(chromium, client, alice),
            );
            laptop = await manager.createSession({ did: session.did });
            const result = await bridge.getOAuthSession(
              requestWith(laptop),
              client,
            );
            assert.equal(result.error, null);
            assert.ok(result.oauthSession !== null);
            assert.deepEqual(await getSession(result.oauthSession), {
              status: 200,
              did: alice.did,
              handle: alice.handle,
            });
          },
        );

        await t.step(
          "a second device's sign-in replaces the OAuth session without signing the first device out",
          async () => {
            const params = await signIn(chromium, client, alice);
            const from = logger.lines.length;
            const { session } = await client.callback(params);
            phone = await manager.createSession({ did: session.did });
            await bridge.settled();
            const lines = logger.lines.slice(from);
            // callback() revoked the old grant and fired the hook for it...
            assert.ok(
              lines.some((line) => line.context?.error === "TokenRevokedError"),
            );
            // ...which the bridge recognised as this sign-in's replacement.
            assert.ok(
              lines.some((line) =>
                /replaced by a new sign-in/.test(line.message)
              ),
            );
            assert.equal((await manager.listSessions(alice.did)).length, 2);
            for (const cookie of [laptop, phone]) {
              const result = await bridge.getOAuthSession(
                requestWith(cookie),
                client,
              );
              assert.equal(result.error, null);
              assert.equal(
                (await getSession(result.oauthSession!)).status,
                200,
              );
            }
          },
        );

        await t.step(
          "signOut() on one of two devices leaves the other signed in at the PDS",
          async () => {
            const header = await bridge.signOut(requestWith(phone), client);
            assert.equal(header, manager.getClearCookieHeader());
            const gone = await bridge.getOAuthSession(
              requestWith(phone),
              client,
            );
            assert.equal(gone.error?.type, "SESSION_REVOKED");
            const kept = await bridge.getOAuthSession(
              requestWith(laptop),
              client,
            );
            assert.equal(kept.error, null);
            assert.equal((await getSession(kept.oauthSession!)).status, 200);
          },
        );

        await t.step(
          "a hand-off code becomes a token session that restores the OAuth session; replays fail",
          async () => {
            const { code } = await bridge.createHandoffCode({ did: alice.did });
            const token = await bridge.redeemHandoffCode(code, {
              label: "Alice's iPhone",
            });
            assert.ok(token !== null);
            const records = await manager.listSessions(alice.did);
            assert.ok(
              records.some((record) =>
                record.kind === "token" &&
                record.metadata.label === "Alice's iPhone"
              ),
            );
            const result = await bridge.getOAuthSessionFromBearer(
              `Bearer ${token}`,
              client,
            );
            assert.equal(result.error, null);
            assert.equal(
              (await getSession(result.oauthSession!)).did,
              alice.did,
            );
            assert.equal(await bridge.redeemHandoffCode(code), null);
            const second = await bridge.createHandoffCode({ did: alice.did });
            const tokens = await Promise.all(
              Array.from(
                { length: 5 },
                () => bridge.redeemHandoffCode(second.code),
              ),
            );
            assert.equal(tokens.filter((value) => value !== null).length, 1);
            await manager.revokeSession(
              records.find((record) => record.kind === "token")!.id,
            );
            const extra = (await manager.listSessions(alice.did)).filter((r) =>
              r.kind === "token"
            );
            for (const record of extra) await manager.revokeSession(record.id);
          },
        );

        await t.step(
          "with the PDS stopped getOAuthSession() answers OAUTH_UNAVAILABLE and keeps the cookie; once back it succeeds",
          async () => {
            // A freshly started server process: no cached PDS metadata.
            const fresh = wire(net, pieces).client;
            await net.stopPds();
            let down;
            try {
              down = await bridge.getOAuthSession(requestWith(laptop), fresh);
            } finally {
              await net.startPds();
            }
            assert.equal(down.error?.type, "OAUTH_UNAVAILABLE");
            assert.equal(down.data?.did, alice.did);
            assert.equal(down.setCookieHeader, null);
            assert.equal((await manager.listSessions(alice.did)).length, 1);
            const back = await bridge.getOAuthSession(
              requestWith(laptop),
              fresh,
            );
            assert.equal(back.error, null);
            assert.equal((await getSession(back.oauthSession!)).status, 200);
          },
        );

        await t.step(
          "signOut() of the last device revokes at the PDS: the old access token is refused",
          async () => {
            const before = await sessionStore.get(alice.did);
            assert.ok(before !== undefined);
            // Someone holding a copy of the stored tokens and DPoP key.
            const copy = new Map<string, unknown>([[alice.did, before]]);
            const copyStore: OAuthValueStore = {
              get: <V>(key: string) => Promise.resolve(copy.get(key) as V),
              set: (key: string, value: unknown) => {
                copy.set(key, value);
                return Promise.resolve();
              },
              del: (key: string) => {
                copy.delete(key);
                return Promise.resolve();
              },
              delete: (key: string) => {
                copy.delete(key);
                return Promise.resolve();
              },
              clear: () => Promise.resolve(copy.clear()),
            };
            const thief = oauthClient(net, {
              stateStore: copyStore,
              sessionStore: copyStore,
              requestLock: (_name, fn) => Promise.resolve(fn()),
            });
            const stolen = await thief.restore(alice.did, false);
            assert.equal((await getSession(stolen)).status, 200);
            await bridge.signOut(requestWith(laptop), client);
            assert.equal((await manager.listSessions(alice.did)).length, 0);
            assert.equal(await sessionStore.get(alice.did), undefined);
            copy.set(alice.did, before);
            const replay = await thief.restore(alice.did, false);
            assert.equal((await getSession(replay)).status, 401);
          },
        );

        await t.step(
          "after the PDS revokes the grant, getOAuthSession() answers OAUTH_SESSION_ENDED and every app session ends",
          async () => {
            const { session } = await client.callback(
              await signIn(chromium, client, alice),
            );
            const desktop = await manager.createSession({ did: session.did });
            const tablet = await manager.createSession({ did: session.did });
            assert.ok((await net.revokeOAuth(alice.did)) >= 1);
            // The access token is not stale yet: age it, so restore() refreshes
            // as it would once the token's lifetime ran out.
            const stored = await sessionStore.get(alice.did) as {
              tokenSet: Record<string, unknown>;
            };
            stored.tokenSet.expires_at = new Date(Date.now() - 60_000)
              .toISOString();
            await sessionStore.set(alice.did, stored);
            const result = await bridge.getOAuthSession(
              requestWith(desktop),
              client,
            );
            assert.equal(result.error?.type, "OAUTH_SESSION_ENDED");
            assert.equal(
              result.setCookieHeader,
              manager.getClearCookieHeader(),
            );
            assert.equal((await manager.listSessions(alice.did)).length, 0);
            const other = await manager.getSessionFromRequest(
              requestWith(tablet),
            );
            assert.equal(other.error?.type, "SESSION_REVOKED");
          },
        );

        await t.step(
          "a revocation found by a request through the session ends the app sessions through the hook",
          async () => {
            const { session } = await client.callback(
              await signIn(chromium, client, alice),
            );
            const cookie = await manager.createSession({ did: session.did });
            const restored = await bridge.getOAuthSession(
              requestWith(cookie),
              client,
            );
            assert.equal(restored.error, null);
            assert.ok((await net.revokeOAuth(alice.did)) >= 1);
            // The PDS answers 401; the client's forced refresh is refused and
            // it deletes the session, firing onSessionDeleted.
            assert.equal(
              (await getSession(restored.oauthSession!)).status,
              401,
            );
            await bridge.settled();
            assert.equal((await manager.listSessions(alice.did)).length, 0);
          },
        );

        await t.step("nothing OAuth-secret reached a log line", () => {
          const text = logger.text();
          assert.ok(!/"(access|refresh)_token"/.test(text));
          assert.ok(!/eyJ[A-Za-z0-9_-]{20,}/.test(text), "no JWT in logs");
          assert.ok(!text.includes("Fe26.2"), "no seal in logs");
        });
      } finally {
        await browser?.close();
        await network?.close();
      }
    },
  });

  Deno.test({
    name:
      "A real sign-in on each backend's oauthStores() ends in a working getOAuthSession()",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      let network: AtprotoNetwork | undefined;
      let browser: Browser | undefined;
      try {
        network = await startAtprotoNetwork({ accounts: [{ name: "carol" }] });
        browser = await launchChromium();
        const net = network;
        const chromium = browser;
        const carol = net.accounts.carol!;
        for (const factory of storeFactories()) {
          await t.step(factory.name, async () => {
            const { store, close } = await factory.open();
            try {
              const pieces = createTestHost({ store });
              const { client } = wire(net, pieces);
              const { session } = await client.callback(
                await signIn(chromium, client, carol),
              );
              const cookie = await pieces.manager.createSession({
                did: session.did,
              });
              const result = await pieces.bridge.getOAuthSession(
                requestWith(cookie),
                client,
              );
              assert.equal(result.error, null);
              assert.deepEqual(await getSession(result.oauthSession!), {
                status: 200,
                did: carol.did,
                handle: carol.handle,
              });
              const raw = await store.getValue(
                "oauth_session",
                carol.did,
                Date.now(),
              );
              assert.ok(raw?.startsWith("Fe26.2*"), "sealed at rest");
              await pieces.bridge.signOut(requestWith(cookie), client);
            } finally {
              await close();
            }
          });
        }
      } finally {
        await browser?.close();
        await network?.close();
      }
    },
  });
}
