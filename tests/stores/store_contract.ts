/**
 * The contract every {@linkcode SessionStore} must honour, as one suite run
 * against each adapter (memory, Deno KV, Redis, Redis Cluster, PostgreSQL,
 * SQLite).
 *
 * Ids go through the store's `sessionIdFor` when it has one, as the manager
 * does, so layouts that put the DID in the id (Redis Cluster) run the same
 * steps.
 *
 * @module
 */

import assert from "node:assert/strict";
import type {
  SessionRecord,
  SessionStore,
  TokenRotation,
} from "../../src/store.ts";

/** What an adapter's test file hands to {@linkcode storeContract}. */
export interface StoreHarness<S = SessionStore> {
  /** Gives a fresh, empty store (a new instance, prefix or database). */
  create(): S | Promise<S>;
  /** Frees whatever the harness opened (clients, servers, databases). */
  close(): Promise<void>;
}

/** A fixed clock for the suite: every expiry is relative to it. */
export const NOW = 1_700_000_000_000;
/** One hour, the lifetime of most records in the suite. */
export const HOUR = 60 * 60 * 1000;

/** The DID most records belong to. */
export const DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
/** Another user. */
export const OTHER_DID = "did:web:example.com";

/**
 * The id a store keeps for `raw` under `did`: `sessionIdFor` when the store
 * has it, else `raw`.
 *
 * @param store The store.
 * @param raw The generated id.
 * @param did The owner.
 * @returns The stored id.
 */
export function idFor(store: SessionStore, raw: string, did = DID): string {
  return store.sessionIdFor?.(did, raw) ?? raw;
}

/**
 * Builds a record that lives for an hour from `createdAt` by default.
 *
 * @param id The session id (already mapped with {@linkcode idFor}).
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
    kind: "cookie",
    createdAt,
    lastAccessed: createdAt,
    expiresAt: createdAt + HOUR,
    authenticatedAt: createdAt,
    generation: 0,
    rotatedAt: null,
    successor: null,
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
        fn: (store: SessionStore, id: (raw: string) => string) => Promise<void>,
      ) =>
        t.step(title, async () => {
          const store = await harness.create();
          await fn(store, (raw) => idFor(store, raw));
        });
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
  fn: (store: SessionStore, id: (raw: string) => string) => Promise<void>,
) => Promise<boolean>;

const NO_CAP = {};
const cap = (maxSessionsPerUser: number) => ({ maxSessionsPerUser });

async function runContract(step: Step): Promise<void> {
  await step(
    "createSession() then getSession() returns the record with every field",
    async (store, id) => {
      const created = record(id("s1"), {
        kind: "token",
        authenticatedAt: NOW - 5000,
        metadata: {
          userAgent: "Firefox",
          ipAddress: "203.0.113.9",
          scope: "atproto",
          label: "Alice's iPhone",
        },
      });
      assert.deepEqual(await store.createSession(created, NO_CAP, NOW), []);
      const read = await store.getSession(id("s1"), NOW);
      assert.deepEqual(read, created);
      assert.ok(Object.isFrozen(read), "records come back frozen");
      assert.equal(await store.getSession(id("missing"), NOW), null);
    },
  );

  await step(
    "getSession() treats a record as absent once expiresAt <= now",
    async (store, id) => {
      await store.createSession(record(id("s1")), NO_CAP, NOW);
      assert.equal(
        (await store.getSession(id("s1"), NOW + HOUR - 1))?.id,
        id("s1"),
      );
      assert.equal(await store.getSession(id("s1"), NOW + HOUR), null);
      assert.equal(await store.getSession(id("s1"), NOW + 2 * HOUR), null);
    },
  );

  await step(
    "updateSession() merges metadata and moves the times, keeping the rest",
    async (store, id) => {
      await store.createSession(
        record(id("s1"), {
          kind: "token",
          authenticatedAt: NOW - 7,
          metadata: { userAgent: "Firefox", scope: "a" },
        }),
        NO_CAP,
        NOW,
      );
      const updated = await store.updateSession(id("s1"), {
        lastAccessed: NOW + 1000,
        expiresAt: NOW + 2 * HOUR,
        metadata: { scope: "b", ipAddress: "198.51.100.1" },
      }, NOW + 1000);
      const expected = record(id("s1"), {
        kind: "token",
        authenticatedAt: NOW - 7,
        lastAccessed: NOW + 1000,
        expiresAt: NOW + 2 * HOUR,
        metadata: {
          userAgent: "Firefox",
          scope: "b",
          ipAddress: "198.51.100.1",
        },
      });
      assert.deepEqual(updated, expected);
      assert.deepEqual(await store.getSession(id("s1"), NOW + 1000), expected);
      // Extended: still active after the original expiry.
      assert.equal(
        (await store.getSession(id("s1"), NOW + HOUR + 1))?.id,
        id("s1"),
      );

      const metadataOnly = await store.updateSession(
        id("s1"),
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
    async (store, id) => {
      assert.equal(
        await store.updateSession(id("missing"), { lastAccessed: NOW }, NOW),
        null,
      );
      await store.createSession(record(id("s1")), NO_CAP, NOW);
      assert.equal(
        await store.updateSession(
          id("s1"),
          { expiresAt: NOW + 5 * HOUR },
          NOW + HOUR,
        ),
        null,
      );
      assert.equal(await store.getSession(id("s1"), NOW + 2 * HOUR), null);
    },
  );

  await step(
    "50 concurrent updateSession() calls all land on one live record",
    async (store, id) => {
      await store.createSession(record(id("s1")), NO_CAP, NOW);
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          store.updateSession(id("s1"), {
            lastAccessed: NOW + i,
            expiresAt: NOW + HOUR + i,
          }, NOW)),
      );
      assert.ok(results.every((r) => r?.id === id("s1")));
      const final = await store.getSession(id("s1"), NOW);
      assert.ok(final !== null && final.lastAccessed >= NOW);
      assert.equal(final.expiresAt - HOUR, final.lastAccessed);
    },
  );

  await step(
    "rotateToken() moves a live record to the next generation once",
    async (store, id) => {
      await store.createSession(
        record(id("t1"), { kind: "token" }),
        NO_CAP,
        NOW,
      );
      const rotation: TokenRotation = {
        lastAccessed: NOW + 10,
        expiresAt: NOW + 2 * HOUR,
        successor: "sealed-successor-1",
      };
      const first = await store.rotateToken(id("t1"), 0, rotation, NOW + 10);
      assert.equal(first.rotated, true);
      assert.deepEqual(
        first.record,
        record(id("t1"), {
          kind: "token",
          generation: 1,
          rotatedAt: NOW + 10,
          lastAccessed: NOW + 10,
          expiresAt: NOW + 2 * HOUR,
          successor: "sealed-successor-1",
        }),
      );
      assert.deepEqual(
        await store.getSession(id("t1"), NOW + 10),
        first.record,
      );
      // The same generation again: refused, and the record is reported as is.
      const again = await store.rotateToken(id("t1"), 0, {
        ...rotation,
        successor: "sealed-successor-other",
      }, NOW + 20);
      assert.equal(again.rotated, false);
      assert.deepEqual(again.record, first.record);
      // The next generation rotates.
      const second = await store.rotateToken(id("t1"), 1, {
        lastAccessed: NOW + 30,
        expiresAt: NOW + 3 * HOUR,
        successor: "sealed-successor-2",
      }, NOW + 30);
      assert.equal(second.rotated, true);
      assert.equal(second.record.generation, 2);
      assert.equal(second.record.successor, "sealed-successor-2");
    },
  );

  await step(
    "rotateToken() reports null for a missing or expired record",
    async (store, id) => {
      const rotation: TokenRotation = {
        lastAccessed: NOW,
        expiresAt: NOW + HOUR,
        successor: "s",
      };
      assert.deepEqual(await store.rotateToken(id("none"), 0, rotation, NOW), {
        rotated: false,
        record: null,
      });
      await store.createSession(
        record(id("t1"), { kind: "token" }),
        NO_CAP,
        NOW,
      );
      assert.deepEqual(
        await store.rotateToken(id("t1"), 0, rotation, NOW + HOUR),
        { rotated: false, record: null },
      );
    },
  );

  await step(
    "50 concurrent rotateToken() calls on one generation rotate exactly once",
    async (store, id) => {
      await store.createSession(
        record(id("t1"), { kind: "token" }),
        NO_CAP,
        NOW,
      );
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          store.rotateToken(id("t1"), 0, {
            lastAccessed: NOW + 1,
            expiresAt: NOW + 2 * HOUR,
            successor: `successor-${i}`,
          }, NOW + 1)),
      );
      const winners = results.filter((r) => r.rotated);
      assert.equal(winners.length, 1);
      const final = await store.getSession(id("t1"), NOW + 1);
      assert.equal(final?.generation, 1);
      assert.equal(final?.successor, winners[0]?.record?.successor);
      for (const loser of results.filter((r) => !r.rotated)) {
        assert.equal(loser.record?.generation, 1);
      }
    },
  );

  await step(
    "listSessions() lists active sessions of one DID, newest first",
    async (store, id) => {
      await store.createSession(
        record(id("old"), { createdAt: NOW - 2000 }),
        NO_CAP,
        NOW,
      );
      await store.createSession(
        record(id("new"), { createdAt: NOW, kind: "token" }),
        NO_CAP,
        NOW,
      );
      await store.createSession(
        record(id("mid"), { createdAt: NOW - 1000 }),
        NO_CAP,
        NOW,
      );
      // Created an hour earlier, so a backend TTL (expiresAt - now) is long.
      await store.createSession(
        record(id("short"), { createdAt: NOW - 500, expiresAt: NOW + 10 }),
        NO_CAP,
        NOW - HOUR,
      );
      const theirs = idFor(store, "theirs", OTHER_DID);
      await store.createSession(
        record(theirs, { did: OTHER_DID }),
        NO_CAP,
        NOW,
      );
      const [first] = await store.listSessions(DID, NOW);
      assert.deepEqual(first, record(id("new"), { kind: "token" }));
      assert.deepEqual(
        ids(await store.listSessions(DID, NOW)),
        ["new", "short", "mid", "old"].map(id),
      );
      assert.deepEqual(
        ids(await store.listSessions(DID, NOW + 10)),
        ["new", "mid", "old"].map(id),
      );
      assert.deepEqual(ids(await store.listSessions(OTHER_DID, NOW)), [theirs]);
      assert.deepEqual(
        await store.listSessions("did:web:nobody.example", NOW),
        [],
      );
      assert.deepEqual(await store.listSessions(DID, NOW + 2 * HOUR), []);
    },
  );

  await step(
    "deleteSession() deletes one session and returns what it deleted",
    async (store, id) => {
      const s1 = record(id("s1"));
      await store.createSession(s1, NO_CAP, NOW);
      await store.createSession(
        record(id("s2"), { createdAt: NOW + 1 }),
        NO_CAP,
        NOW,
      );
      assert.deepEqual(await store.deleteSession(id("s1")), s1);
      assert.equal(await store.deleteSession(id("s1")), null);
      assert.equal(await store.deleteSession(id("missing")), null);
      assert.equal(await store.getSession(id("s1"), NOW), null);
      assert.deepEqual(ids(await store.listSessions(DID, NOW)), [id("s2")]);
      assert.equal(
        await store.updateSession(id("s1"), { lastAccessed: NOW }, NOW),
        null,
      );
    },
  );

  await step(
    "deleteAllSessions() deletes every session of one DID, tokens included",
    async (store, id) => {
      for (let i = 0; i < 3; i++) {
        await store.createSession(
          record(id(`s${i}`), {
            createdAt: NOW + i,
            kind: i === 1 ? "token" : "cookie",
          }),
          NO_CAP,
          NOW,
        );
      }
      const theirs = idFor(store, "theirs", OTHER_DID);
      await store.createSession(
        record(theirs, { did: OTHER_DID }),
        NO_CAP,
        NOW,
      );
      const deleted = await store.deleteAllSessions(DID);
      assert.deepEqual(ids(deleted).sort(), ["s0", "s1", "s2"].map(id).sort());
      assert.deepEqual(
        deleted.map((r) => r.kind).sort(),
        ["cookie", "cookie", "token"],
      );
      assert.deepEqual(await store.listSessions(DID, NOW), []);
      for (let i = 0; i < 3; i++) {
        assert.equal(await store.getSession(id(`s${i}`), NOW), null);
      }
      assert.deepEqual(await store.deleteAllSessions(DID), []);
      assert.deepEqual(ids(await store.listSessions(OTHER_DID, NOW)), [theirs]);
      // The DID can sign in again afterwards.
      await store.createSession(record(id("again")), cap(2), NOW);
      assert.deepEqual(ids(await store.listSessions(DID, NOW)), [id("again")]);
    },
  );

  await step(
    "createSession() with a cap evicts the oldest and returns them",
    async (store, id) => {
      assert.deepEqual(
        await store.createSession(
          record(id("a"), { createdAt: NOW }),
          cap(2),
          NOW,
        ),
        [],
      );
      assert.deepEqual(
        await store.createSession(
          record(id("b"), { createdAt: NOW + 1, kind: "token" }),
          cap(2),
          NOW,
        ),
        [],
      );
      assert.deepEqual(
        await store.createSession(
          record(id("c"), { createdAt: NOW + 2 }),
          cap(2),
          NOW,
        ),
        [record(id("a"), { createdAt: NOW })],
      );
      assert.deepEqual(ids(await store.listSessions(DID, NOW)), [
        id("c"),
        id("b"),
      ]);
      assert.equal(await store.getSession(id("a"), NOW), null);
      // Lowering the cap evicts several at once, oldest first.
      await store.createSession(
        record(id("d"), { createdAt: NOW + 3 }),
        NO_CAP,
        NOW,
      );
      await store.createSession(
        record(id("e"), { createdAt: NOW + 4 }),
        NO_CAP,
        NOW,
      );
      const evicted = await store.createSession(
        record(id("f"), { createdAt: NOW + 5 }),
        cap(2),
        NOW,
      );
      assert.deepEqual(ids(evicted).sort(), ["b", "c", "d"].map(id).sort());
      assert.equal(evicted.find((r) => r.id === id("b"))?.kind, "token");
      assert.deepEqual(ids(await store.listSessions(DID, NOW)), [
        id("f"),
        id("e"),
      ]);
    },
  );

  await step(
    "createSession() with a cap breaks createdAt ties by id",
    async (store, id) => {
      for (const raw of ["b", "a", "c"]) {
        await store.createSession(record(id(raw)), NO_CAP, NOW);
      }
      // The three share createdAt: the lowest id is the "oldest".
      const lowest = ["a", "b", "c"].map(id).sort()[0]!;
      assert.deepEqual(
        ids(await store.createSession(record(id("d")), cap(3), NOW)),
        [lowest],
      );
      assert.equal((await store.listSessions(DID, NOW)).length, 3);
      assert.ok((await store.getSession(id("d"), NOW)) !== null);
    },
  );

  await step(
    "createSession() with a cap never evicts the record being created",
    async (store, id) => {
      await store.createSession(
        record(id("a"), { createdAt: NOW + 10 }),
        cap(2),
        NOW,
      );
      await store.createSession(
        record(id("b"), { createdAt: NOW + 20 }),
        cap(2),
        NOW,
      );
      // Older than both (another server's clock is behind): still kept.
      assert.deepEqual(
        ids(
          await store.createSession(
            record(id("late"), { createdAt: NOW }),
            cap(2),
            NOW,
          ),
        ),
        [id("a")],
      );
      assert.equal((await store.getSession(id("late"), NOW))?.id, id("late"));
      assert.deepEqual(ids(await store.listSessions(DID, NOW)), [
        id("b"),
        id("late"),
      ]);
      // With a cap of 1, the new one is the one left.
      assert.deepEqual(
        ids(
          await store.createSession(
            record(id("oldest"), { createdAt: NOW - 100 }),
            cap(1),
            NOW,
          ),
        ).sort(),
        [id("b"), id("late")].sort(),
      );
      assert.deepEqual(ids(await store.listSessions(DID, NOW)), [id("oldest")]);
    },
  );

  await step(
    "createSession() with a cap ignores expired sessions and other DIDs",
    async (store, id) => {
      await store.createSession(
        record(id("expired"), { createdAt: NOW - HOUR, expiresAt: NOW }),
        NO_CAP,
        NOW - HOUR,
      );
      const theirs = idFor(store, "theirs", OTHER_DID);
      await store.createSession(
        record(theirs, { did: OTHER_DID }),
        NO_CAP,
        NOW,
      );
      await store.createSession(
        record(id("a"), { createdAt: NOW }),
        cap(2),
        NOW,
      );
      assert.deepEqual(
        await store.createSession(
          record(id("b"), { createdAt: NOW + 1 }),
          cap(2),
          NOW,
        ),
        [],
      );
      assert.deepEqual(ids(await store.listSessions(DID, NOW)), [
        id("b"),
        id("a"),
      ]);
      assert.deepEqual(ids(await store.listSessions(OTHER_DID, NOW)), [theirs]);
    },
  );

  await step(
    "createSession() with replaces deletes the old session in the same step",
    async (store, id) => {
      await store.createSession(record(id("old")), NO_CAP, NOW);
      await store.createSession(
        record(id("other"), { createdAt: NOW + 1 }),
        NO_CAP,
        NOW,
      );
      const evicted = await store.createSession(
        record(id("new"), { createdAt: NOW + 2 }),
        { maxSessionsPerUser: 2, replaces: id("old") },
        NOW,
      );
      assert.deepEqual(evicted, [], "the replaced session is not evicted");
      assert.equal(await store.getSession(id("old"), NOW), null);
      assert.deepEqual(ids(await store.listSessions(DID, NOW)), [
        id("new"),
        id("other"),
      ]);
      // Another DID's session is never replaced.
      const theirs = idFor(store, "theirs", OTHER_DID);
      await store.createSession(
        record(theirs, { did: OTHER_DID }),
        NO_CAP,
        NOW,
      );
      await store.createSession(
        record(id("mine"), { createdAt: NOW + 3 }),
        { replaces: theirs },
        NOW,
      );
      assert.equal((await store.getSession(theirs, NOW))?.did, OTHER_DID);
    },
  );

  await step(
    "100 concurrent createSession() calls for one DID with cap 5 leave exactly 5",
    async (store, id) => {
      const created = Array.from(
        { length: 100 },
        (_, i) => id(`c${String(i).padStart(3, "0")}`),
      );
      const results = await Promise.all(
        created.map((sid, i) =>
          store.createSession(record(sid, { createdAt: NOW + i }), cap(5), NOW)
        ),
      );
      const listed = ids(await store.listSessions(DID, NOW));
      assert.equal(listed.length, 5);
      const evicted = ids(results.flat());
      assert.equal(evicted.length, 95, "every evicted id is reported once");
      assert.equal(new Set(evicted).size, 95);
      assert.equal(new Set([...evicted, ...listed]).size, 100);
      for (const sid of evicted) {
        assert.equal(await store.getSession(sid, NOW), null);
      }
    },
  );

  await step(
    "createSession() without a cap keeps every session",
    async (store, id) => {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.createSession(
            record(id(`u${i}`), { createdAt: NOW + i }),
            NO_CAP,
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
      const hostileDid = "__proto__";
      const longDid = `did:web:${"a".repeat(2040)}`;
      const hid = (raw: string) => idFor(store, raw, hostileDid);
      const lid = (raw: string) => idFor(store, `${raw}-long`, longDid);
      for (const [i, raw] of hostile.entries()) {
        await store.createSession(
          record(hid(raw), { did: hostileDid, createdAt: NOW + i }),
          NO_CAP,
          NOW,
        );
        await store.createSession(
          record(lid(raw), { did: longDid, createdAt: NOW + i }),
          NO_CAP,
          NOW,
        );
      }
      for (const raw of hostile) {
        assert.equal((await store.getSession(hid(raw), NOW))?.id, hid(raw));
        assert.equal((await store.getSession(lid(raw), NOW))?.did, longDid);
      }
      assert.deepEqual(
        ids(await store.listSessions(hostileDid, NOW)),
        [...hostile].reverse().map(hid),
      );
      assert.equal(
        (await store.listSessions(longDid, NOW)).length,
        hostile.length,
      );
      assert.deepEqual(await store.listSessions("constructor", NOW), []);
      // A long id differing only at the end is a different session.
      assert.equal(
        await store.getSession(hid(`${"x".repeat(9_999)}y`), NOW),
        null,
      );
      assert.equal(await store.isTokenRevoked("__proto__", NOW), false);
      await store.revokeToken("__proto__", NOW + HOUR, NOW);
      await store.revokeToken("y".repeat(10_000), NOW + HOUR, NOW);
      assert.equal(await store.isTokenRevoked("__proto__", NOW), true);
      assert.equal(await store.isTokenRevoked("y".repeat(10_000), NOW), true);
      assert.equal(await store.isTokenRevoked("constructor", NOW), false);
      assert.equal(
        (await store.deleteSession(hid("__proto__")))?.did,
        "__proto__",
      );
      assert.equal(
        (await store.deleteAllSessions(hostileDid)).length,
        hostile.length - 1,
      );
      assert.equal(
        (await store.deleteAllSessions(longDid)).length,
        hostile.length,
      );
      assert.equal(Object.getPrototypeOf({}), Object.prototype);
    },
  );
}
