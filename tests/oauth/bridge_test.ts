/**
 * The OAuth bridge over a real SessionManager and MemorySessionStore, with
 * an in-test OAuth client that throws the real clients' error objects.
 * The same behaviours against the real PDS are in oauth_pds_test.ts.
 */

import assert from "node:assert/strict";
import {
  OAuthResolverError,
  OAuthResponseError,
  TokenRefreshError,
  TokenRevokedError,
} from "npm:@atproto/oauth-client-node@0.5.3";
import { MemorySessionStore } from "../../src/stores/memory.ts";
import { ConfigurationError, StoreError } from "../../src/errors.ts";
import type { OAuthClientLike } from "../../src/oauth/types.ts";
import { createTestHost, requestWith } from "./_host.ts";

const ALICE = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const BOB = "did:plc:bobbobbobbobbobbobbobbob";

interface Session {
  readonly did: string;
}

/** An OAuth client whose restore() does what the test says. */
class TestClient implements OAuthClientLike<Session> {
  readonly revoked: string[] = [];
  restoreWith: (did: string) => Promise<Session> = (did) =>
    Promise.resolve({ did });
  onRevoke: (did: string) => Promise<void> = () => Promise.resolve();
  restore(did: string): Promise<Session> {
    return this.restoreWith(did);
  }
  async revoke(did: string): Promise<void> {
    this.revoked.push(did);
    await this.onRevoke(did);
  }
}

function invalidGrant(did: string): TokenRefreshError {
  return new TokenRefreshError(did, "Invalid refresh token", {
    cause: new OAuthResponseError(
      new Response("{}", { status: 400 }),
      { error: "invalid_grant" },
    ),
  });
}

function setup() {
  const store = new MemorySessionStore();
  const pieces = createTestHost({ store, oauthTimeoutMs: 200 });
  return { store, ...pieces, client: new TestClient() };
}

Deno.test("getOAuthSession() returns the app session, the OAuth session and the cookie header", async () => {
  const { manager, bridge, client } = setup();
  const cookie = await manager.createSession({ did: ALICE });
  const result = await bridge.getOAuthSession(requestWith(cookie), client);
  assert.equal(result.error, null);
  assert.equal(result.data?.did, ALICE);
  assert.equal(result.oauthSession?.did, ALICE);
  assert.ok(result.setCookieHeader?.startsWith("sid="));
});

Deno.test("getOAuthSession() passes the cookie's own errors through without calling the client", async () => {
  const { bridge, client } = setup();
  let called = false;
  client.restoreWith = () => {
    called = true;
    return Promise.resolve({ did: ALICE });
  };
  const none = await bridge.getOAuthSession(new Request("http://l/"), client);
  assert.equal(none.error?.type, "NO_COOKIE");
  const bad = await bridge.getOAuthSession(
    new Request("http://l/", { headers: { cookie: "sid=garbage" } }),
    client,
  );
  assert.equal(bad.error?.type, "INVALID_COOKIE");
  assert.ok(bad.setCookieHeader?.includes("Max-Age=0"));
  assert.equal(called, false);
});

Deno.test("getOAuthSession() answers OAUTH_SESSION_ENDED on invalid_grant: every app session of the DID ends and the cookie is cleared", async () => {
  const { manager, bridge, client, logger } = setup();
  const laptop = await manager.createSession({ did: ALICE });
  const phone = await manager.createSession({ did: ALICE });
  const bobs = await manager.createSession({ did: BOB });
  client.restoreWith = (did) => Promise.reject(invalidGrant(did));
  const result = await bridge.getOAuthSession(requestWith(laptop), client);
  assert.equal(result.error?.type, "OAUTH_SESSION_ENDED");
  assert.equal(result.data, null);
  assert.equal(result.oauthSession, null);
  assert.equal(result.setCookieHeader, manager.getClearCookieHeader());
  assert.equal((await manager.listSessions(ALICE)).length, 0);
  const other = await manager.getSessionFromRequest(requestWith(phone));
  assert.equal(other.error?.type, "SESSION_REVOKED");
  const bob = await manager.getSessionFromRequest(requestWith(bobs));
  assert.equal(bob.error, null, "another user's session is untouched");
  assert.ok(
    logger.lines.some((line) =>
      line.context?.type === "OAUTH_SESSION_ENDED" &&
      line.context?.code === "invalid_grant"
    ),
  );
});

Deno.test("getOAuthSession() answers OAUTH_UNAVAILABLE when the PDS is unreachable: cookie kept, not refreshed, data still there", async () => {
  const { manager, bridge, client } = setup();
  const cookie = await manager.createSession({ did: ALICE });
  client.restoreWith = () =>
    Promise.reject(
      new OAuthResolverError("Failed to resolve OAuth server metadata", {
        cause: new TypeError("fetch failed"),
      }),
    );
  const result = await bridge.getOAuthSession(requestWith(cookie), client);
  assert.equal(result.error?.type, "OAUTH_UNAVAILABLE");
  assert.equal(result.data?.did, ALICE);
  assert.equal(result.oauthSession, null);
  assert.equal(result.setCookieHeader, null);
  assert.equal((await manager.listSessions(ALICE)).length, 1);
  client.restoreWith = (did) => Promise.resolve({ did });
  const later = await bridge.getOAuthSession(requestWith(cookie), client);
  assert.equal(later.error, null, "the same cookie works once the PDS is back");
});

Deno.test("getOAuthSession() answers OAUTH_UNAVAILABLE when restore() outlives oauthTimeout", async () => {
  const { manager, bridge, client } = setup();
  const cookie = await manager.createSession({ did: ALICE });
  let finish!: () => void;
  client.restoreWith = (did) =>
    new Promise((resolve) => finish = () => resolve({ did }));
  const result = await bridge.getOAuthSession(requestWith(cookie), client);
  assert.equal(result.error?.type, "OAUTH_UNAVAILABLE");
  assert.equal((await manager.listSessions(ALICE)).length, 1);
  finish();
});

Deno.test("getOAuthSession() refuses a session the client restored for another DID", async () => {
  const { manager, bridge, client, logger } = setup();
  const cookie = await manager.createSession({ did: ALICE });
  client.restoreWith = () => Promise.resolve({ did: BOB });
  const result = await bridge.getOAuthSession(requestWith(cookie), client);
  assert.equal(result.error?.type, "OAUTH_UNAVAILABLE");
  assert.equal(result.oauthSession, null);
  assert.ok(logger.lines.some((line) => line.level === "error"));
});

Deno.test("getOAuthSessionFromBearer() restores the token's OAuth session and classifies failures", async () => {
  const { manager, bridge, client } = setup();
  const token = await manager.sealToken({ did: ALICE });
  const ok = await bridge.getOAuthSessionFromBearer(`Bearer ${token}`, client);
  assert.equal(ok.error, null);
  assert.equal(ok.oauthSession?.did, ALICE);
  const missing = await bridge.getOAuthSessionFromBearer(null, client);
  assert.equal(missing.error?.type, "NO_TOKEN");
  client.restoreWith = () =>
    Promise.reject(
      new OAuthResponseError(new Response("{}", { status: 503 }), {
        error: "server_error",
      }),
    );
  const down = await bridge.getOAuthSessionFromBearer(
    `Bearer ${token}`,
    client,
  );
  assert.equal(down.error?.type, "OAUTH_UNAVAILABLE");
  assert.equal(down.data?.did, ALICE);
  await manager.createSession({ did: ALICE });
  client.restoreWith = (did) => Promise.reject(invalidGrant(did));
  const ended = await bridge.getOAuthSessionFromBearer(
    `Bearer ${token}`,
    client,
  );
  assert.equal(ended.error?.type, "OAUTH_SESSION_ENDED");
  assert.equal((await manager.listSessions(ALICE)).length, 0);
});

Deno.test("onOAuthSessionDeleted() outside any sign-in ends every app session of the DID", async () => {
  const { manager, bridge } = setup();
  const cookie = await manager.createSession({ did: ALICE });
  await manager.createSession({ did: ALICE });
  await bridge.onOAuthSessionDeleted(ALICE, invalidGrant(ALICE));
  assert.equal((await manager.listSessions(ALICE)).length, 0);
  const result = await manager.getSessionFromRequest(requestWith(cookie));
  assert.equal(result.error?.type, "SESSION_REVOKED");
});

Deno.test("onOAuthSessionDeleted() keeps the app sessions when callback() replaces the DID's OAuth session", async () => {
  const { manager, bridge } = setup();
  const { stateStore, sessionStore } = bridge.oauthStores();
  const first = await manager.createSession({ did: ALICE });
  const oldKey = { kty: "EC", crv: "P-256", x: "old-x", y: "old-y", d: "d1" };
  const newKey = { kty: "EC", crv: "P-256", x: "new-x", y: "new-y", d: "d2" };
  await sessionStore.set(ALICE, { dpopJwk: oldKey, tokenSet: { sub: ALICE } });
  // What @atproto/oauth-client 0.8's callback() does, in its order:
  await stateStore.set("st", { iss: "http://pds", dpopJwk: newKey });
  assert.ok(await stateStore.get("st"));
  await stateStore.del("st");
  await sessionStore.del(ALICE); // revoke(did) of the old session
  await bridge.onOAuthSessionDeleted(ALICE, new TokenRevokedError(ALICE));
  await sessionStore.set(ALICE, { dpopJwk: newKey, tokenSet: { sub: ALICE } });
  await bridge.settled();
  const result = await manager.getSessionFromRequest(requestWith(first));
  assert.equal(result.error, null, "the first device stays signed in");
});

Deno.test("onOAuthSessionDeleted() keeps the app sessions on a first sign-in's TokenRefreshError", async () => {
  const { manager, bridge } = setup();
  const { stateStore, sessionStore } = bridge.oauthStores();
  const other = await manager.createSession({ did: ALICE });
  const key = { kty: "EC", crv: "P-256", x: "x", y: "y" };
  await stateStore.set("st", { dpopJwk: key });
  await stateStore.get("st");
  await stateStore.del("st");
  await bridge.onOAuthSessionDeleted(
    ALICE,
    new TokenRefreshError(ALICE, "The session was deleted by another process"),
  );
  await sessionStore.set(ALICE, { dpopJwk: key, tokenSet: { sub: ALICE } });
  await bridge.settled();
  assert.equal(
    (await manager.getSessionFromRequest(requestWith(other))).error,
    null,
  );
});

Deno.test("onOAuthSessionDeleted() during another user's sign-in ends the DID's app sessions once that sign-in stores its session", async () => {
  const { manager, bridge } = setup();
  const { stateStore, sessionStore } = bridge.oauthStores();
  const alice = await manager.createSession({ did: ALICE });
  const bobKey = { kty: "EC", crv: "P-256", x: "bob-x", y: "bob-y" };
  await stateStore.set("bob-state", { dpopJwk: bobKey });
  await stateStore.get("bob-state");
  await stateStore.del("bob-state"); // bob's callback is in flight
  await bridge.onOAuthSessionDeleted(ALICE, invalidGrant(ALICE));
  assert.equal(
    (await manager.getSessionFromRequest(requestWith(alice))).error,
    null,
    "undecided while a sign-in is in flight",
  );
  await sessionStore.set(BOB, { dpopJwk: bobKey, tokenSet: { sub: BOB } });
  await bridge.settled();
  const result = await manager.getSessionFromRequest(requestWith(alice));
  assert.equal(result.error?.type, "SESSION_REVOKED");
});

Deno.test("signOut() with two devices ends only this one and does not revoke at the PDS", async () => {
  const { manager, bridge, client } = setup();
  const laptop = await manager.createSession({ did: ALICE });
  const phone = await manager.createSession({ did: ALICE });
  const header = await bridge.signOut(requestWith(laptop), client);
  assert.equal(header, manager.getClearCookieHeader());
  assert.equal(
    (await manager.getSessionFromRequest(requestWith(laptop))).error?.type,
    "SESSION_REVOKED",
  );
  assert.equal(
    (await manager.getSessionFromRequest(requestWith(phone))).error,
    null,
  );
  assert.deepEqual(client.revoked, []);
});

Deno.test("signOut() of the last device revokes the OAuth session at the PDS, and the deletion hook leaves nothing to end", async () => {
  const { manager, bridge, client } = setup();
  const laptop = await manager.createSession({ did: ALICE });
  // The client fires the deletion hook from inside revoke(), as it does.
  client.onRevoke = (did) =>
    bridge.onOAuthSessionDeleted(did, new TokenRevokedError(did));
  await bridge.signOut(requestWith(laptop), client);
  assert.deepEqual(client.revoked, [ALICE]);
  assert.equal((await manager.listSessions(ALICE)).length, 0);
});

Deno.test("signOut({ everywhere: true }) ends every device and revokes at the PDS", async () => {
  const { manager, bridge, client } = setup();
  const laptop = await manager.createSession({ did: ALICE });
  const phone = await manager.createSession({ did: ALICE });
  await bridge.signOut(requestWith(laptop), client, { everywhere: true });
  assert.deepEqual(client.revoked, [ALICE]);
  assert.equal(
    (await manager.getSessionFromRequest(requestWith(phone))).error?.type,
    "SESSION_REVOKED",
  );
});

Deno.test("signOut() still clears the cookie when the PDS cannot be reached for the revocation", async () => {
  const { manager, bridge, client, logger } = setup();
  const laptop = await manager.createSession({ did: ALICE });
  client.onRevoke = () => Promise.reject(new TypeError("fetch failed"));
  const header = await bridge.signOut(requestWith(laptop), client);
  assert.equal(header, manager.getClearCookieHeader());
  assert.equal((await manager.listSessions(ALICE)).length, 0);
  assert.ok(
    logger.lines.some((line) =>
      line.level === "warn" &&
      /could not be revoked at the PDS/.test(line.message)
    ),
  );
});

Deno.test("signOut() without a valid session returns the clearing header and revokes nothing", async () => {
  const { manager, bridge, client } = setup();
  const header = await bridge.signOut(new Request("http://l/"), client);
  assert.equal(header, manager.getClearCookieHeader());
  assert.deepEqual(client.revoked, []);
});

Deno.test("signOut() throws StoreError when the store cannot be read, and ConfigurationError without one", async () => {
  const store = new MemorySessionStore();
  const { manager, bridge } = createTestHost({ store });
  const client = new TestClient();
  const cookie = await manager.createSession({ did: ALICE });
  store.getSession = () => Promise.reject(new Error("down"));
  await assert.rejects(bridge.signOut(requestWith(cookie), client), StoreError);
  const bare = createTestHost();
  await assert.rejects(
    bare.bridge.signOut(new Request("http://l/"), client),
    ConfigurationError,
  );
});
