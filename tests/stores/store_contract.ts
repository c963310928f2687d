/**
 * The contract every {@linkcode SessionStore} must honour, as one suite run
 * against each adapter (memory, Deno KV, Redis).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { SessionRecord, SessionStore } from "../../src/store.ts";

/** What an adapter's test file hands to {@linkcode storeContract}. */
export interface StoreHarness {
  /** Gives a fresh, empty store (a new instance, prefix or database). */
  create(): SessionStore | Promise<SessionStore>;
  /** Frees whatever the harness opened (clients, servers, databases). */
  close(): Promise<void>;
}

/** A fixed clock for the suite: every expiry is relative to it. */
export const NOW = 1_700_000_000_000;
/** One hour, the lifetime of most records in the suite. */
export const HOUR = 60 * 60 * 1000;

const DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const OTHER_DID = "did:web:example.com";

/**
 * Builds a record that lives for an hour from `createdAt` by default.
 *
 * @param id The session id.
 * @param fields Fields to override.
 * @returns The record.
 */
export function record(
  id: string,
  fields: Partial<SessionRecord> = {},
): SessionRecord {
  const createdAt = fields.createdAt ?? NOW;
  return {
    id,
    did: DID,
    createdAt,
    lastAccessed: createdAt,
    expiresAt: createdAt + HOUR,
    metadata: {},
    ...fields,
  };
}

const ids = (records: readonly SessionRecord[]): string[] =>
  records.map((r) => r.id);

/**
 * Registers one `Deno.test` named `name` whose steps check the whole
 * {@linkcode SessionStore} contract, each against a fresh store.
 *
 * @param name The test's name, such as "RedisSessionStore (node-redis)".
 * @param setup Opens what the stores need and returns the harness.
 */
export function storeContract(
  name: string,
  setup: () => Promise<StoreHarness>,
): void {
  Deno.test({
    name: `${name} honours the SessionStore contract`,
    async fn(t) {
      const harness = await setup();
      const step = (
        title: string,
        fn: (store: SessionStore) => Promise<void>,
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
  fn: (store: SessionStore) => Promise<void>,
) => Promise<boolean>;

async function runContract(step: Step): Promise<void> {
  await step(
    "createSession() then getSession() returns the record",
    async (store) => {
      const created = record("s1", {
        metadata: {
          userAgent: "Firefox",
          ipAddress: "203.0.113.9",
          scope: "atproto",
        },
      });
      assert.deepEqual(await store.createSession(created, undefined, NOW), []);
      assert.deepEqual(await store.getSession("s1", NOW), created);
      assert.equal(await store.getSession("missing", NOW), null);
    },
  );

  await step(
    "getSession() treats a record as absent once expiresAt <= now",
    async (store) => {
      await store.createSession(record("s1"), undefined, NOW);
      assert.equal((await store.getSession("s1", NOW + HOUR - 1))?.id, "s1");
      assert.equal(await store.getSession("s1", NOW + HOUR), null);
      assert.equal(await store.getSession("s1", NOW + 2 * HOUR), null);
    },
  );

  await step(
    "updateSession() merges metadata and moves the times",
    async (store) => {
      await store.createSession(
        record("s1", { metadata: { userAgent: "Firefox", scope: "a" } }),
        undefined,
        NOW,
      );
      const updated = await store.updateSession("s1", {
        lastAccessed: NOW + 1000,
        expiresAt: NOW + 2 * HOUR,
        metadata: { scope: "b", ipAddress: "198.51.100.1" },
      }, NOW + 1000);
      const expected = record("s1", {
        lastAccessed: NOW + 1000,
        expiresAt: NOW + 2 * HOUR,
        metadata: {
          userAgent: "Firefox",
          scope: "b",
          ipAddress: "198.51.100.1",
        },
      });
      assert.deepEqual(updated, expected);
      assert.deepEqual(await store.getSession("s1", NOW + 1000), expected);
      // Extended: still active after the original expiry.
      assert.equal((await store.getSession("s1", NOW + HOUR + 1))?.id, "s1");

      const metadataOnly = await store.updateSession(
        "s1",
        { metadata: { userAgent: "Safari" } },
        NOW + 2000,
      );
      assert.equal(metadataOnly?.lastAccessed, NOW + 1000);
      assert.equal(metadataOnly?.expiresAt, NOW + 2 * HOUR);
      assert.deepEqual(metadataOnly?.metadata, {
        userAgent: "Safari",
        scope: "b",
        ipAddress: "198.51.100.1",
      });
    },
  );

  await step(
    "updateSession() returns null for a missing or expired session",
    async (store) => {
      assert.equal(
        await store.updateSession("missing", { lastAccessed: NOW }, NOW),
        null,
      );
      await store.createSession(record("s1"), undefined, NOW);
      assert.equal(
        await store.updateSession(
          "s1",
          { expiresAt: NOW + 5 * HOUR },
          NOW + HOUR,
        ),
        null,
      );
      assert.equal(await store.getSession("s1", NOW + 2 * HOUR), null);
    },
  );

  await step(
    "listSessions() lists active sessions of one DID, newest first",
    async (store) => {
      await store.createSession(
        record("old", { createdAt: NOW - 2000 }),
        undefined,
        NOW,
      );
      await store.createSession(
        record("new", { createdAt: NOW }),
        undefined,
        NOW,
      );
      await store.createSession(
        record("mid", { createdAt: NOW - 1000 }),
        undefined,
        NOW,
      );
      // Created an hour earlier, so a backend TTL (expiresAt - now) is long.
      await store.createSession(
        record("short", { createdAt: NOW - 500, expiresAt: NOW + 10 }),
        undefined,
        NOW - HOUR,
      );
      await store.createSession(
        record("theirs", { did: OTHER_DID }),
        undefined,
        NOW,
      );
      const [first] = await store.listSessions(DID, NOW);
      assert.deepEqual(first, record("new"));
      assert.deepEqual(ids(await store.listSessions(DID, NOW)), [
        "new",
        "short",
        "mid",
        "old",
      ]);
      assert.deepEqual(ids(await store.listSessions(DID, NOW + 10)), [
        "new",
        "mid",
        "old",
      ]);
      assert.deepEqual(ids(await store.listSessions(OTHER_DID, NOW)), [
        "theirs",
      ]);
      assert.deepEqual(
        await store.listSessions("did:web:nobody.example", NOW),
        [],
      );
      assert.deepEqual(await store.listSessions(DID, NOW + 2 * HOUR), []);
    },
  );

  await step(
    "deleteSession() deletes one session and says whether it existed",
    async (store) => {
      await store.createSession(record("s1"), undefined, NOW);
      await store.createSession(
        record("s2", { createdAt: NOW + 1 }),
        undefined,
        NOW,
      );
      assert.equal(await store.deleteSession("s1"), true);
      assert.equal(await store.deleteSession("s1"), false);
      assert.equal(await store.deleteSession("missing"), false);
      assert.equal(await store.getSession("s1", NOW), null);
      assert.deepEqual(ids(await store.listSessions(DID, NOW)), ["s2"]);
      assert.equal(
        await store.updateSession("s1", { lastAccessed: NOW }, NOW),
        null,
      );
    },
  );

  await step(
    "deleteAllSessions() deletes every session of one DID",
    async (store) => {
      for (let i = 0; i < 3; i++) {
        await store.createSession(
          record(`s${i}`, { createdAt: NOW + i }),
          undefined,
          NOW,
        );
      }
      await store.createSession(
        record("theirs", { did: OTHER_DID }),
        undefined,
        NOW,
      );
      assert.equal(await store.deleteAllSessions(DID), 3);
      assert.deepEqual(await store.listSessions(DID, NOW), []);
      for (let i = 0; i < 3; i++) {
        assert.equal(
          await store.getSession(`s${i}`, NOW),
          null,
        );
      }
      assert.equal(await store.deleteAllSessions(DID), 0);
      assert.deepEqual(ids(await store.listSessions(OTHER_DID, NOW)), [
        "theirs",
      ]);
      // The DID can sign in again afterwards.
      await store.createSession(record("again"), 2, NOW);
      assert.deepEqual(ids(await store.listSessions(DID, NOW)), ["again"]);
    },
  );

  await step(
    "createSession() with a cap evicts the oldest and returns their ids",
    async (store) => {
      assert.deepEqual(
        await store.createSession(record("a", { createdAt: NOW }), 2, NOW),
        [],
      );
      assert.deepEqual(
        await store.createSession(record("b", { createdAt: NOW + 1 }), 2, NOW),
        [],
      );
      assert.deepEqual(
        await store.createSession(record("c", { createdAt: NOW + 2 }), 2, NOW),
        ["a"],
      );
      assert.deepEqual(ids(await store.listSessions(DID, NOW)), ["c", "b"]);
      assert.equal(await store.getSession("a", NOW), null);
      // Lowering the cap evicts several at once, oldest first.
      await store.createSession(
        record("d", { createdAt: NOW + 3 }),
        undefined,
        NOW,
      );
      await store.createSession(
        record("e", { createdAt: NOW + 4 }),
        undefined,
        NOW,
      );
      assert.deepEqual(
        [
          ...await store.createSession(
            record("f", { createdAt: NOW + 5 }),
            2,
            NOW,
          ),
        ].sort(),
        ["b", "c", "d"],
      );
      assert.deepEqual(ids(await store.listSessions(DID, NOW)), ["f", "e"]);
    },
  );

  await step(
    "createSession() with a cap breaks createdAt ties by id",
    async (store) => {
      for (const id of ["b", "a", "c"]) {
        await store.createSession(record(id), undefined, NOW);
      }
      assert.deepEqual(await store.createSession(record("d"), 3, NOW), ["a"]);
      assert.deepEqual(ids(await store.listSessions(DID, NOW)), [
        "d",
        "c",
        "b",
      ]);
    },
  );

  await step(
    "createSession() with a cap evicts the new record itself when it is the oldest",
    async (store) => {
      await store.createSession(record("a", { createdAt: NOW + 10 }), 2, NOW);
      await store.createSession(record("b", { createdAt: NOW + 20 }), 2, NOW);
      assert.deepEqual(
        await store.createSession(record("late", { createdAt: NOW }), 2, NOW),
        ["late"],
      );
      assert.equal(await store.getSession("late", NOW), null);
      assert.deepEqual(ids(await store.listSessions(DID, NOW)), ["b", "a"]);
    },
  );

  await step(
    "createSession() with a cap ignores expired sessions and other DIDs",
    async (store) => {
      await store.createSession(
        record("expired", { createdAt: NOW - HOUR, expiresAt: NOW }),
        undefined,
        NOW - HOUR,
      );
      await store.createSession(
        record("theirs", { did: OTHER_DID }),
        undefined,
        NOW,
      );
      await store.createSession(record("a", { createdAt: NOW }), 2, NOW);
      assert.deepEqual(
        await store.createSession(record("b", { createdAt: NOW + 1 }), 2, NOW),
        [],
      );
      assert.deepEqual(ids(await store.listSessions(DID, NOW)), ["b", "a"]);
      assert.deepEqual(ids(await store.listSessions(OTHER_DID, NOW)), [
        "theirs",
      ]);
    },
  );

  await step(
    "100 concurrent createSession() calls for one DID with cap 5 leave exactly 5",
    async (store) => {
      const results = await Promise.all(
        Array.from(
          { length: 100 },
          (_, i) =>
            store.createSession(
              record(`c${String(i).padStart(3, "0")}`, { createdAt: NOW + i }),
              5,
              NOW,
            ),
        ),
      );
      const listed = ids(await store.listSessions(DID, NOW));
      assert.deepEqual(listed, ["c099", "c098", "c097", "c096", "c095"]);
      const evicted = results.flat();
      assert.equal(evicted.length, 95, "every evicted id is reported once");
      assert.equal(new Set(evicted).size, 95);
      assert.deepEqual(new Set([...evicted, ...listed]).size, 100);
      for (const id of evicted) {
        assert.equal(await store.getSession(id, NOW), null);
      }
    },
  );

  await step(
    "createSession() without a cap keeps every session",
    async (store) => {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.createSession(
            record(`u${i}`, { createdAt: NOW + i }),
            undefined,
            NOW,
          )),
      );
      assert.equal((await store.listSessions(DID, NOW)).length, 20);
    },
  );

  await step(
    "revokeToken() revokes a jti until its expiry, judged by now",
    async (store) => {
      assert.equal(await store.isTokenRevoked("jti-1", NOW), false);
      await store.revokeToken("jti-1", NOW + HOUR, NOW);
      assert.equal(await store.isTokenRevoked("jti-1", NOW), true);
      assert.equal(await store.isTokenRevoked("jti-1", NOW + HOUR - 1), true);
      assert.equal(await store.isTokenRevoked("jti-1", NOW + HOUR), false);
      assert.equal(await store.isTokenRevoked("jti-2", NOW), false);
    },
  );

  await step(
    "revokeToken() keeps the later expiry and ignores expired tokens",
    async (store) => {
      await store.revokeToken("jti-1", NOW + 2 * HOUR, NOW);
      await store.revokeToken("jti-1", NOW + HOUR, NOW);
      assert.equal(await store.isTokenRevoked("jti-1", NOW + HOUR + 1), true);
      await store.revokeToken("jti-old", NOW, NOW);
      await store.revokeToken("jti-older", NOW - 1, NOW);
      assert.equal(await store.isTokenRevoked("jti-old", NOW - 10), false);
      assert.equal(await store.isTokenRevoked("jti-older", NOW - 10), false);
    },
  );

  await step(
    "hostile ids, DIDs and jtis are stored and looked up harmlessly",
    async (store) => {
      const hostile = [
        "__proto__",
        "constructor",
        "hasOwnProperty",
        "x".repeat(10_000),
        "id with spaces:*?[]{}\\\"'\u0000\r\n",
        "é🙂\uFFFF",
      ];
      const longDid = `did:web:${"a".repeat(2040)}`;
      for (const [i, id] of hostile.entries()) {
        await store.createSession(
          record(id, { did: "__proto__", createdAt: NOW + i }),
          undefined,
          NOW,
        );
        await store.createSession(
          record(`${id}-long`, { did: longDid, createdAt: NOW + i }),
          undefined,
          NOW,
        );
      }
      for (const id of hostile) {
        assert.equal((await store.getSession(id, NOW))?.id, id);
        assert.equal((await store.getSession(`${id}-long`, NOW))?.did, longDid);
      }
      assert.deepEqual(
        ids(await store.listSessions("__proto__", NOW)),
        [...hostile].reverse(),
      );
      assert.equal(
        (await store.listSessions(longDid, NOW)).length,
        hostile.length,
      );
      assert.deepEqual(await store.listSessions("constructor", NOW), []);
      // A long id differing only at the end is a different session.
      assert.equal(await store.getSession(`${"x".repeat(9_999)}y`, NOW), null);
      assert.equal(await store.isTokenRevoked("__proto__", NOW), false);
      await store.revokeToken("__proto__", NOW + HOUR, NOW);
      await store.revokeToken("y".repeat(10_000), NOW + HOUR, NOW);
      assert.equal(await store.isTokenRevoked("__proto__", NOW), true);
      assert.equal(await store.isTokenRevoked("y".repeat(10_000), NOW), true);
      assert.equal(await store.isTokenRevoked("constructor", NOW), false);
      assert.equal(await store.deleteSession("__proto__"), true);
      assert.equal(
        await store.deleteAllSessions("__proto__"),
        hostile.length - 1,
      );
      assert.equal(await store.deleteAllSessions(longDid), hostile.length);
      assert.equal(Object.getPrototypeOf({}), Object.prototype);
    },
  );
}
