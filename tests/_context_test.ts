import assert from "node:assert/strict";
import { contextOf } from "../src/_context.ts";
import { SessionManager } from "../src/session_manager.ts";
import { MemorySessionStore } from "../src/stores/memory.ts";
import { DID, requestWithCookie, SECRET, T0 } from "./_fixtures.ts";

Deno.test("contextOf(): values sealed at rest open only for their purpose and are never a cookie or a token", async () => {
  const store = new MemorySessionStore();
  const sessions = new SessionManager({
    cookieSecret: SECRET,
    store,
    now: () => T0,
    storeTimeout: 20,
  });
  const context = contextOf(sessions);
  assert.equal(context.store, store);
  assert.equal(context.valueStore, store);
  assert.equal(context.now(), T0);
  const sealed = await context.sealValue("oauth_session", { did: DID }, 60_000);
  assert.deepEqual(await context.openValue("oauth_session", sealed), {
    did: DID,
  });
  assert.equal(await context.openValue("token-successor", sealed), undefined);
  assert.equal(
    (await sessions.getSessionFromRequest(requestWithCookie(`sid=${sealed}`)))
      .error?.type,
    "INVALID_COOKIE",
  );
  assert.equal(
    (await sessions.validateBearerToken(`Bearer ${sealed}`)).error?.type,
    "INVALID_TOKEN",
  );
  const expired = new SessionManager({
    cookieSecret: SECRET,
    now: () => T0 + 61_000,
  });
  assert.equal(
    await contextOf(expired).openValue("oauth_session", sealed),
    undefined,
  );
  const outcome = await context.requestStoreCall(
    "getSession",
    () => new Promise(() => {}),
  );
  assert.equal(outcome.ok, false);
  assert.throws(() => contextOf({}), TypeError);
});
