import assert from "node:assert/strict";
import {
  PostgresSessionStore,
  type PostgresSessionStoreOptions,
} from "../../src/stores/postgres.ts";
import type { KeyValueStore, SessionStore } from "../../src/store.ts";
import { postgresAvailable, startPostgresServer } from "../_postgres_server.ts";
import { pgPool, postgresJs, type TestClient } from "./postgres_clients.ts";
import {
  HOUR,
  NOW,
  record,
  storeContract,
  type StoreHarness,
} from "./store_contract.ts";
import { valueContract } from "./value_contract.ts";

/** A server, a client on it, and a fresh table prefix per store. */
function harness<S extends SessionStore | KeyValueStore>(
  connect: (url: string) => TestClient,
): () => Promise<StoreHarness<S>> {
  return async () => {
    const server = await startPostgresServer();
    const { client, end } = connect(server.url);
    let next = 0;
    return {
      create: () =>
        new PostgresSessionStore({
          client,
          tablePrefix: `t${next++}_`,
        }) as unknown as S,
      async close() {
        await end();
        await server.close();
      },
    };
  };
}

/** Runs `fn` with a server and a pg pool, then stops both. */
async function withServer(
  fn: (client: TestClient, url: string) => Promise<void>,
): Promise<void> {
  const server = await startPostgresServer();
  const client = pgPool(server.url);
  try {
    await fn(client, server.url);
  } finally {
    await client.end();
    await server.close();
  }
}

/** Counts a table's rows, for checks the store API cannot make. */
async function count(client: TestClient, table: string): Promise<number> {
  const { rows } = await client.client.query(
    `SELECT count(*)::integer AS n FROM ${table}`,
    [],
  );
  return rows[0]!.n as number;
}

Deno.test("new PostgresSessionStore() rejects a client without query() and bad names", () => {
  const client = { query: () => Promise.resolve({ rows: [] }) };
  const cases: [unknown, ErrorConstructor, RegExp][] = [
    [undefined, TypeError, /client must have a query/],
    [{ client: {} }, TypeError, /client must have a query/],
    [{ client, schema: "Public" }, RangeError, /schema must be/],
    [{ client, schema: 'a"; DROP TABLE x; --' }, RangeError, /schema must/],
    [{ client, schema: "" }, RangeError, /schema must be/],
    [{ client, tablePrefix: "x".repeat(41) }, RangeError, /at most 40/],
    [{ client, tablePrefix: 3 }, TypeError, /tablePrefix must be a string/],
    [{ client, autoMigrate: "no" }, TypeError, /autoMigrate must be a bool/],
  ];
  for (const [options, type, message] of cases) {
    assert.throws(
      () => new PostgresSessionStore(options as PostgresSessionStoreOptions),
      (error: Error) => error instanceof type && message.test(error.message),
    );
  }
  assert.ok(new PostgresSessionStore({ client, tablePrefix: "" }));
});

if (postgresAvailable("PostgresSessionStore tests")) {
  storeContract("PostgresSessionStore (pg Pool)", harness(pgPool));
  valueContract("PostgresSessionStore (pg Pool)", harness(pgPool));
  storeContract(
    "PostgresSessionStore (postgres.js wrapper)",
    harness(postgresJs),
  );
  valueContract(
    "PostgresSessionStore (postgres.js wrapper)",
    harness(postgresJs),
  );

  Deno.test("PostgresSessionStore.migrate()", async (t) => {
    await withServer(async (pool) => {
      await t.step(
        "20 stores using one prefix for the first time at once all succeed",
        async () => {
          const stores = Array.from(
            { length: 20 },
            () =>
              new PostgresSessionStore({
                client: pool.client,
                tablePrefix: "race_",
              }),
          );
          await Promise.all(
            stores.map((store, i) =>
              store.createSession(
                record(`s${i}`, { createdAt: NOW + i }),
                { maxSessionsPerUser: 5 },
                NOW,
              )
            ),
          );
          assert.equal(
            (await stores[0]!.listSessions(record("x").did, NOW)).length,
            5,
          );
        },
      );

      await t.step("creates a missing schema and is idempotent", async () => {
        const store = new PostgresSessionStore({
          client: pool.client,
          schema: "auth",
        });
        await store.migrate();
        await store.migrate();
        await store.setValue("handoff", "k", "v", null, NOW);
        assert.equal(await count(pool, `auth.atproto_sessions_values`), 1);
        assert.match(store.migrationSql(), /"auth"\."atproto_sessions_locks"/);
      });

      await t.step(
        "with autoMigrate false, sends no DDL until migrate() runs",
        async () => {
          const store = new PostgresSessionStore({
            client: pool.client,
            tablePrefix: "manual_",
            autoMigrate: false,
          });
          await assert.rejects(store.getSession("a", NOW), { code: "42P01" });
          await store.migrate();
          assert.equal(await store.getSession("a", NOW), null);
        },
      );

      await t.step(
        "re-creates tables dropped behind its back on the next call",
        async () => {
          const store = new PostgresSessionStore({
            client: pool.client,
            tablePrefix: "dropped_",
            // No background sweep, which could meet the missing tables first.
            cleanup: false,
          });
          await store.createSession(record("a"), {}, NOW);
          await pool.client.query(
            "DROP FUNCTION dropped_create_session; DROP TABLE dropped_sessions, dropped_revoked_tokens, dropped_values, dropped_locks",
            [],
          );
          await assert.rejects(store.getSession("a", NOW), { code: "42P01" });
          assert.equal(await store.getSession("a", NOW), null);
          await store.createSession(record("b"), {}, NOW);
          assert.equal((await store.getSession("b", NOW))?.id, "b");
        },
      );
    });
  });

  Deno.test("PostgresSessionStore expires rows without a cron", async (t) => {
    await withServer(async (pool) => {
      const fill = async (store: PostgresSessionStore, now: number) => {
        await store.createSession(
          record("old", { expiresAt: now + 10 }),
          {},
          now,
        );
        await store.createSession(
          record("live", { expiresAt: now + 100 * HOUR }),
          {},
          now,
        );
        await store.revokeToken("jti-old", now + 10, now);
        await store.setValue("oauth_state", "old", "v", now + 10, now);
        await store.setValue("oauth_session", "kept", "v", null, now);
        await store.acquireLock("lock-old", "p1", 10, now);
      };

      await t.step(
        "deleteExpired() deletes expired rows of every table and keeps live ones",
        async () => {
          const store = new PostgresSessionStore({
            client: pool.client,
            tablePrefix: "manual_sweep_",
            cleanup: false,
          });
          await fill(store, NOW);
          assert.equal(await store.deleteExpired(NOW + 10), 4);
          assert.equal(await count(pool, "manual_sweep_sessions"), 1);
          assert.equal(await count(pool, "manual_sweep_revoked_tokens"), 0);
          assert.equal(await count(pool, "manual_sweep_values"), 1);
          assert.equal(await count(pool, "manual_sweep_locks"), 0);
          assert.equal(await store.deleteExpired(NOW + 10), 0);
          assert.equal((await store.getSession("live", NOW + 10))?.id, "live");
        },
      );

      await t.step(
        "a write a few minutes after expiry cleans up in the background",
        async () => {
          const store = new PostgresSessionStore({
            client: pool.client,
            tablePrefix: "auto_sweep_",
          });
          await fill(store, NOW);
          assert.equal(await count(pool, "auto_sweep_sessions"), 2);
          // The next sweep is due a minute later; rows are deleted five minutes
          // after they expire. Each write is a minute after the last, in case
          // a sweep is still running when the next one falls due.
          let sessions = 2;
          for (let i = 0; i < 200 && sessions !== 1; i++) {
            await store.setValue(
              "handoff",
              "trigger",
              "v",
              null,
              NOW + (6 + i) * 60_000,
            );
            await new Promise((resolve) => setTimeout(resolve, 10));
            sessions = await count(pool, "auto_sweep_sessions");
          }
          assert.equal(sessions, 1);
          assert.equal(await count(pool, "auto_sweep_revoked_tokens"), 0);
          assert.equal(await count(pool, "auto_sweep_locks"), 0);
          assert.equal(await count(pool, "auto_sweep_values"), 2);
        },
      );

      await t.step(
        "the sweep never deletes a lease retaken or a value rewritten meanwhile",
        async () => {
          const store = new PostgresSessionStore({
            client: pool.client,
            tablePrefix: "sweep_race_",
            cleanup: false,
          });
          for (let round = 0; round < 20; round++) {
            await store.acquireLock("lock", "old", 10, NOW);
            await store.setValue("oauth_state", "k", "old", NOW + 10, NOW);
            const [, taken] = await Promise.all([
              store.deleteExpired(NOW + 100),
              store.acquireLock("lock", `new-${round}`, HOUR, NOW + 100),
              store.setValue("oauth_state", "k", "new", NOW + HOUR, NOW + 100),
            ]);
            assert.equal(taken, true);
            assert.equal(
              await store.acquireLock("lock", "thief", HOUR, NOW + 200),
              false,
            );
            assert.equal(
              await store.getValue("oauth_state", "k", NOW + 200),
              "new",
            );
            await store.releaseLock("lock", `new-${round}`);
          }
        },
      );
    });
  });

  Deno.test("PostgresSessionStore keeps U+0000, hostile text and over-long keys in every column", async () => {
    await withServer(async (pool) => {
      const store = new PostgresSessionStore({ client: pool.client });
      const hostile = "a\u0000b\u0001c\u00010\\0'\"é🙂";
      const created = record(hostile, {
        did: `did:web:${hostile}`,
        kind: "token",
        metadata: { userAgent: hostile, label: "\u0000", scope: "\u0001" },
      });
      await store.createSession(created, {}, NOW);
      assert.deepEqual(await store.getSession(hostile, NOW), created);
      assert.equal(await store.getSession("a", NOW), null);
      const rotated = await store.rotateToken(hostile, 0, {
        lastAccessed: NOW + 1,
        expiresAt: NOW + HOUR,
        successor: hostile,
      }, NOW + 1);
      assert.equal(rotated.record?.successor, hostile);
      const updated = await store.updateSession(hostile, {
        metadata: { ipAddress: "\u0000\u0001" },
      }, NOW + 2);
      assert.equal(updated?.metadata.ipAddress, "\u0000\u0001");
      assert.deepEqual(
        (await store.listSessions(`did:web:${hostile}`, NOW + 2)).map((r) =>
          r.id
        ),
        [hostile],
      );
      await store.setValue("handoff", hostile, hostile, null, NOW);
      assert.equal(await store.takeValue("handoff", hostile, NOW), hostile);
      assert.equal(await store.acquireLock(hostile, hostile, HOUR, NOW), true);
      assert.equal(await store.acquireLock(hostile, "a", HOUR, NOW), false);
      // Keys past a btree entry's 2704 bytes (1024 CJK characters are 3072)
      // are stored by digest; nearly equal ones stay apart.
      const wide = "\u4e00\u9fa5".repeat(512);
      const nearly = `${wide.slice(0, -1)}\u4e01`;
      await store.setValue("oauth_session", wide, "wide", null, NOW);
      assert.equal(await store.getValue("oauth_session", wide, NOW), "wide");
      assert.equal(await store.getValue("oauth_session", nearly, NOW), null);
      assert.equal(await store.acquireLock(wide, "p1", HOUR, NOW), true);
      assert.equal(await store.acquireLock(wide, "p2", HOUR, NOW), false);
      assert.equal(await store.acquireLock(nearly, "p2", HOUR, NOW), true);
      assert.equal(await store.takeValue("oauth_session", wide, NOW), "wide");
    });
  });

  Deno.test("PostgresSessionStore stores fractional times as whole milliseconds, expiry rounded up", async () => {
    await withServer(async (pool) => {
      const store = new PostgresSessionStore({ client: pool.client });
      await store.createSession(
        record("s", {
          createdAt: NOW + 0.4,
          lastAccessed: NOW + 0.6,
          expiresAt: NOW + 10.2,
        }),
        {},
        NOW + 0.5,
      );
      const read = await store.getSession("s", NOW + 10.9);
      assert.equal(read?.createdAt, NOW);
      assert.equal(read?.lastAccessed, NOW);
      assert.equal(read?.expiresAt, NOW + 11);
      assert.equal(await store.getSession("s", NOW + 11), null);
    });
  });
}
