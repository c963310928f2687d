/**
 * oauthStores() type-checks as both clients' stores and lock, with no cast:
 * this file compiling is half the test.
 */

import assert from "node:assert/strict";
import {
  NodeOAuthClient,
  type NodeOAuthClientOptions,
} from "npm:@atproto/oauth-client-node@0.5.3";
import type { OAuthClient } from "npm:@atcute/oauth-node-client@2";
import { MemorySessionStore } from "../../src/stores/memory.ts";
import { createTestHost } from "./_host.ts";

type AtcuteOptions = ConstructorParameters<typeof OAuthClient>[0];

Deno.test("oauthStores() fits NodeOAuthClient's and atcute's OAuthClient's options without casts", () => {
  const { bridge } = createTestHost({ store: new MemorySessionStore() });
  const { stateStore, sessionStore, requestLock } = bridge.oauthStores();
  const atproto: Pick<
    NodeOAuthClientOptions,
    "stateStore" | "sessionStore" | "requestLock" | "onSessionDeleted"
  > = {
    stateStore,
    sessionStore,
    requestLock,
    onSessionDeleted: (did, cause) => bridge.onOAuthSessionDeleted(did, cause),
  };
  const atcute: Pick<AtcuteOptions, "stores" | "requestLock"> = {
    stores: { states: stateStore, sessions: sessionStore },
    requestLock,
  };
  assert.equal(atproto.sessionStore, atcute.stores.sessions);
  assert.equal(typeof NodeOAuthClient, "function");
});

Deno.test("getOAuthSession() and signOut() accept both clients, typed with each one's session", () => {
  const { bridge } = createTestHost({ store: new MemorySessionStore() });
  // Type-level: these calls must compile for each client class.
  const calls = (
    atprotoClient: NodeOAuthClient,
    atcuteClient: OAuthClient,
    request: Request,
  ) => [
    bridge.getOAuthSession(request, atprotoClient).then((r) =>
      r.oauthSession?.fetchHandler
    ),
    bridge.getOAuthSession(request, atcuteClient).then((r) =>
      r.oauthSession?.did
    ),
    bridge.signOut(request, atprotoClient),
    bridge.signOut(request, atcuteClient, { everywhere: true }),
  ];
  assert.equal(typeof calls, "function");
});
