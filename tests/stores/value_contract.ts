/**
 * The contract every {@linkcode KeyValueStore} must honour (short-lived
 * values and leases for AT Protocol OAuth and hand-off codes), as one suite
 * run against each adapter.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { KeyValueStore } from "../../src/store.ts";
import { HOUR, NOW, type StoreHarness } from "./store_contract.ts";

/**
 * Registers one `Deno.test` named `name` whose steps check the whole
 * {@linkcode KeyValueStore} contract, each against a fresh store.
 *
 * @param name The test's name, such as "RedisSessionStore (node-redis)".
 * @param setup Opens what the stores need and returns the harness.
 */
export function valueContract(
  name: string,
  setup: () => Promise<StoreHarness<KeyValueStore>>,
): void {
  Deno.test({
    name: `${name} honours the KeyValueStore contract`,
    async fn(t) {
      const harness = await setup();
      const step = (
        title: string,
        fn: (store: KeyValueStore) => Promise<void>,
      ) => t.step(title, async () => await fn(await harness.create()));
      try {
        await runContract(step);
      } finally {
        await harness.close();
      }
    },
  });
}

type Step = (
  title: string,
  fn: (store: KeyValueStore) => Promise<void>,
) => Promise<boolean>;

async function runContract(step: Step): Promise<void> {
  await step(
    "setValue() then getValue() returns the value until it expires",
    async (store) => {
      await store.setValue("oauth_state", "k1", "v1", NOW + HOUR, NOW);
      assert.equal(await store.getValue("oauth_state", "k1", NOW), "v1");
      assert.equal(
        await store.getValue("oauth_state", "k1", NOW + HOUR - 1),
        "v1",
      );
      assert.equal(await store.getValue("oauth_state", "k1", NOW + HOUR), null);
      assert.equal(await store.getValue("oauth_state", "missing", NOW), null);
    },
  );

  await step(
    "setValue() with a null expiry keeps the value until deleted",
    async (store) => {
      await store.setValue("oauth_session", "did:plc:a", "v", null, NOW);
      assert.equal(
        await store.getValue("oauth_session", "did:plc:a", NOW + 1000 * HOUR),
        "v",
      );
      assert.equal(
        await store.deleteValue("oauth_session", "did:plc:a", NOW),
        true,
      );
      assert.equal(
        await store.getValue("oauth_session", "did:plc:a", NOW),
        null,
      );
      assert.equal(
        await store.deleteValue("oauth_session", "did:plc:a", NOW),
        false,
      );
    },
  );

  await step(
    "setValue() overwrites, and namespaces do not share keys",
    async (store) => {
      await store.setValue("oauth_state", "k", "state", NOW + HOUR, NOW);
      await store.setValue("oauth_session", "k", "session", NOW + HOUR, NOW);
      await store.setValue("handoff", "k", "handoff", NOW + HOUR, NOW);
      await store.setValue("oauth_state", "k", "state-2", NOW + HOUR, NOW);
      assert.equal(await store.getValue("oauth_state", "k", NOW), "state-2");
      assert.equal(await store.getValue("oauth_session", "k", NOW), "session");
      assert.equal(await store.getValue("handoff", "k", NOW), "handoff");
      // Overwriting with a later expiry extends it; with none, removes it.
      await store.setValue("handoff", "k", "h2", NOW + 2 * HOUR, NOW);
      assert.equal(await store.getValue("handoff", "k", NOW + HOUR + 1), "h2");
      await store.setValue("handoff", "k", "h3", null, NOW);
      assert.equal(await store.getValue("handoff", "k", NOW + 3 * HOUR), "h3");
    },
  );

  await step(
    "deleteValue() reports an expired value as absent",
    async (store) => {
      await store.setValue("oauth_state", "k", "v", NOW + 10, NOW);
      assert.equal(
        await store.deleteValue("oauth_state", "k", NOW + 10),
        false,
      );
      assert.equal(await store.getValue("oauth_state", "k", NOW), null);
    },
  );

  await step(
    "takeValue() returns a live value once and deletes it",
    async (store) => {
      await store.setValue("handoff", "code", "payload", NOW + 60_000, NOW);
      assert.equal(await store.takeValue("handoff", "code", NOW), "payload");
      assert.equal(await store.takeValue("handoff", "code", NOW), null);
      assert.equal(await store.getValue("handoff", "code", NOW), null);
      await store.setValue("handoff", "late", "payload", NOW + 60_000, NOW);
      assert.equal(
        await store.takeValue("handoff", "late", NOW + 60_000),
        null,
      );
    },
  );

  await step(
    "50 concurrent takeValue() calls: exactly one receives the value",
    async (store) => {
      await store.setValue("handoff", "code", "payload", NOW + 60_000, NOW);
      const results = await Promise.all(
        Array.from(
          { length: 50 },
          () => store.takeValue("handoff", "code", NOW),
        ),
      );
      assert.equal(results.filter((r) => r === "payload").length, 1);
      assert.equal(results.filter((r) => r === null).length, 49);
    },
  );

  await step(
    "clearValues() empties one namespace only",
    async (store) => {
      for (let i = 0; i < 5; i++) {
        await store.setValue("oauth_state", `s${i}`, "v", NOW + HOUR, NOW);
      }
      await store.setValue("oauth_session", "s0", "kept", null, NOW);
      await store.clearValues("oauth_state");
      for (let i = 0; i < 5; i++) {
        assert.equal(await store.getValue("oauth_state", `s${i}`, NOW), null);
      }
      assert.equal(await store.getValue("oauth_session", "s0", NOW), "kept");
      await store.setValue("oauth_state", "again", "v", NOW + HOUR, NOW);
      assert.equal(await store.getValue("oauth_state", "again", NOW), "v");
    },
  );

  await step(
    "hostile keys and values round-trip harmlessly",
    async (store) => {
      const keys = [
        "__proto__",
        "constructor",
        "*",
        "a:b:{c}",
        "x".repeat(1024),
        "é🙂\u0000\r\n",
      ];
      const value = JSON.stringify({ v: "\u0000é🙂", big: "y".repeat(20_000) });
      for (const key of keys) {
        await store.setValue("oauth_state", key, value, NOW + HOUR, NOW);
      }
      for (const key of keys) {
        assert.equal(await store.getValue("oauth_state", key, NOW), value);
      }
      assert.equal(
        await store.getValue("oauth_state", "x".repeat(1023), NOW),
        null,
      );
      assert.equal(
        await store.takeValue("oauth_state", "__proto__", NOW),
        value,
      );
      assert.equal(await store.getValue("oauth_state", "__proto__", NOW), null);
      assert.equal(Object.getPrototypeOf({}), Object.prototype);
    },
  );

  await step(
    "acquireLock() grants a free lease to one owner until it runs out",
    async (store) => {
      assert.equal(await store.acquireLock("lock-a", "p1", 1000, NOW), true);
      assert.equal(
        await store.acquireLock("lock-a", "p2", 1000, NOW + 1),
        false,
      );
      assert.equal(
        await store.acquireLock("lock-b", "p2", 1000, NOW + 1),
        true,
      );
      // The holder asking again extends its lease.
      assert.equal(
        await store.acquireLock("lock-a", "p1", 1000, NOW + 500),
        true,
      );
      assert.equal(
        await store.acquireLock("lock-a", "p2", 1000, NOW + 1200),
        false,
      );
      // A crashed holder's lease runs out and another owner takes over.
      assert.equal(
        await store.acquireLock("lock-a", "p2", 1000, NOW + 1500),
        true,
      );
      assert.equal(
        await store.renewLock("lock-a", "p1", 1000, NOW + 1500),
        false,
      );
    },
  );

  await step(
    "renewLock() extends only the holder's live lease",
    async (store) => {
      assert.equal(await store.renewLock("lock", "p1", 1000, NOW), false);
      await store.acquireLock("lock", "p1", 1000, NOW);
      assert.equal(await store.renewLock("lock", "p1", 1000, NOW + 900), true);
      assert.equal(
        await store.acquireLock("lock", "p2", 1000, NOW + 1500),
        false,
      );
      assert.equal(
        await store.renewLock("lock", "p2", 1000, NOW + 1500),
        false,
      );
      assert.equal(
        await store.acquireLock("lock", "p2", 1000, NOW + 1901),
        true,
      );
    },
  );

  await step(
    "releaseLock() frees the holder's lease and never another owner's",
    async (store) => {
      await store.acquireLock("lock", "p1", 60_000, NOW);
      await store.releaseLock("lock", "p2");
      assert.equal(await store.acquireLock("lock", "p2", 1000, NOW + 1), false);
      await store.releaseLock("lock", "p1");
      assert.equal(await store.acquireLock("lock", "p2", 1000, NOW + 2), true);
      await store.releaseLock("never-taken", "p1");
    },
  );

  await step(
    "50 concurrent acquireLock() calls by different owners: one wins",
    async (store) => {
      const results = await Promise.all(
        Array.from(
          { length: 50 },
          (_, i) => store.acquireLock("contended", `owner-${i}`, 60_000, NOW),
        ),
      );
      assert.equal(results.filter(Boolean).length, 1);
    },
  );
}
