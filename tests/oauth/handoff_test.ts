import assert from "node:assert/strict";
import { ConfigurationError, SessionDataError } from "../../src/errors.ts";
import type { KeyValueStore, SessionStore } from "../../src/store.ts";
import { sha256Hex } from "../../src/oauth/_keys.ts";
import { createTestHost } from "./_host.ts";
import { storeFactories } from "./_stores.ts";

const ALICE = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

Deno.test("createHandoffCode() without a store throws a ConfigurationError", async () => {
  const { bridge } = createTestHost();
  await assert.rejects(
    bridge.createHandoffCode({ did: ALICE }),
    (error: unknown) =>
      error instanceof ConfigurationError &&
      /createHandoffCode\(\) needs a store/.test(error.message),
  );
});

for (const factory of storeFactories()) {
  Deno.test(`hand-off codes over ${factory.name}`, async (t) => {
    const { store, close } = await factory.open();
    try {
      await runHandoffSuite(t, store);
    } finally {
      await close();
    }
  });
}

async function runHandoffSuite(
  t: Deno.TestContext,
  store: SessionStore & KeyValueStore,
): Promise<void> {
  await t.step(
    "createHandoffCode() returns a 43-character code expiring in 60 s",
    async () => {
      const now = 1_900_000_000_000;
      const { bridge } = createTestHost({ store, now: () => now });
      const { code, expiresAt } = await bridge.createHandoffCode({
        did: ALICE,
      });
      assert.match(code, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(expiresAt, now + 60_000);
    },
  );

  await t.step(
    "createHandoffCode() stores the code's SHA-256 and a seal, never the code",
    async () => {
      const { bridge } = createTestHost({ store });
      const { code } = await bridge.createHandoffCode({ did: ALICE });
      const now = Date.now();
      assert.equal(await store.getValue("handoff", code, now), null);
      const sealed = await store.getValue(
        "handoff",
        await sha256Hex(code),
        now,
      );
      assert.ok(sealed !== null && sealed.startsWith("Fe26.2*"));
      assert.ok(!sealed.includes(ALICE));
    },
  );

  await t.step(
    "createHandoffCode() rejects an invalid DID with SessionDataError",
    async () => {
      const { bridge } = createTestHost({ store });
      await assert.rejects(
        bridge.createHandoffCode({ did: "alice.test" }),
        (error: unknown) =>
          error instanceof SessionDataError && error.code === "INVALID_DID",
      );
    },
  );

  await t.step(
    "redeemHandoffCode() returns a Bearer token for the code's session, once",
    async () => {
      const { manager, bridge, logger } = createTestHost({ store });
      const { code } = await bridge.createHandoffCode({ did: ALICE });
      const token = await bridge.redeemHandoffCode(code, {
        label: "Alice's iPhone",
      });
      assert.ok(token !== null);
      const { data, error } = await manager.validateBearerToken(
        `Bearer ${token}`,
      );
      assert.equal(error, null);
      assert.equal(data?.did, ALICE);
      assert.equal(
        await bridge.redeemHandoffCode(code),
        null,
        "a replay fails",
      );
      const text = logger.text();
      assert.ok(!text.includes(code) && !text.includes(token));
    },
  );

  await t.step(
    "redeemHandoffCode() yields at most one token of ten concurrent redemptions",
    async () => {
      const { bridge } = createTestHost({ store });
      // Two bridges stand for two server processes sharing the store.
      const other = createTestHost({ store }).bridge;
      const { code } = await bridge.createHandoffCode({ did: ALICE });
      const tokens = await Promise.all(
        Array.from(
          { length: 10 },
          (_, i) => (i % 2 === 0 ? bridge : other).redeemHandoffCode(code),
        ),
      );
      assert.equal(tokens.filter((token) => token !== null).length, 1);
    },
  );

  await t.step("redeemHandoffCode() refuses an expired code", async () => {
    let now = Date.now();
    const { bridge } = createTestHost({ store, now: () => now });
    const { code } = await bridge.createHandoffCode({ did: ALICE });
    now += 60_000;
    assert.equal(await bridge.redeemHandoffCode(code), null);
  });

  await t.step(
    "redeemHandoffCode() refuses malformed and unknown codes without touching crypto",
    async () => {
      const { bridge } = createTestHost({ store });
      for (
        const code of [
          "",
          "short",
          "x".repeat(44),
          "*".repeat(43),
          "a".repeat(43),
        ]
      ) {
        assert.equal(await bridge.redeemHandoffCode(code), null, code);
      }
      assert.equal(
        await bridge.redeemHandoffCode(42 as unknown as string),
        null,
      );
    },
  );

  await t.step(
    "redeemHandoffCode() refuses a code created under another secret",
    async () => {
      const other = createTestHost({ store, cookieSecret: "z".repeat(40) });
      const { code } = await other.bridge.createHandoffCode({ did: ALICE });
      const { bridge, logger } = createTestHost({ store });
      assert.equal(await bridge.redeemHandoffCode(code), null);
      assert.ok(logger.lines.some((line) => line.level === "warn"));
    },
  );

  await t.step(
    "redeemHandoffCode() makes a token session listed with the user's devices",
    async (t) => {
      const { manager, bridge } = createTestHost({ store });
      await manager.revokeAllSessions(ALICE); // tokens of the steps above
      const { code } = await bridge.createHandoffCode({ did: ALICE }, {
        userAgent: "system browser",
      });
      const token = await bridge.redeemHandoffCode(code, {
        label: "Alice's iPhone",
      });
      assert.ok(token !== null);
      const tokens = (await manager.listSessions(ALICE)).filter((record) =>
        record.kind === "token"
      );
      if (tokens.length === 0) {
        // sealToken(data, metadata) writing a token record is issue 9's
        // SessionManager rework; until it lands the token is stateless.
        await t.step({
          name:
            "(ignored: SessionManager.sealToken does not write token records yet)",
          ignore: true,
          fn() {},
        });
        return;
      }
      assert.equal(tokens.length, 1);
      assert.equal(tokens[0]?.metadata.label, "Alice's iPhone");
      assert.equal(tokens[0]?.metadata.userAgent, "system browser");
      await manager.revokeAllSessions(ALICE);
    },
  );
}
