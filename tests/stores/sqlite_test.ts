import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { createClient } from "npm:@libsql/client@0.18.0";
import { StoreError } from "../../src/errors.ts";
import { isBusy } from "../../src/stores/_sqlite_driver.ts";
import { SqliteSessionStore } from "../../src/stores/sqlite.ts";
import {
  DID,
  HOUR,
  NOW,
  record,
  storeContract,
  type StoreHarness,
} from "./store_contract.ts";
import { valueContract } from "./value_contract.ts";

/** A temporary directory of database files, one per store. */
async function tempFiles(): Promise<
  { next(): string; remove(): Promise<void> }
> {
  const dir = await Deno.makeTempDir({ prefix: "sqlite-store-" });
  let count = 0;
  return {
    next: () => `${dir}/${count++}.db`,
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}

async function nodeSqliteHarness(): Promise<
  StoreHarness<SqliteSessionStore>
> {
  const files = await tempFiles();
  const open: DatabaseSync[] = [];
  return {
    create() {
      const database = new DatabaseSync(files.next());
      open.push(database);
      return new SqliteSessionStore({ database });
    },
    async close() {
      for (const database of open) database.close();
      await files.remove();
    },
  };
}

async function libsqlHarness(): Promise<StoreHarness<SqliteSessionStore>> {
  const files = await tempFiles();
  const open: { close(): void }[] = [];
  return {
    create() {
      const client = createClient({
        url: `file:${files.next()}`,
        timeout: 5000,
      });
      open.push(client);
      return new SqliteSessionStore({ client });
    },
    async close() {
      for (const client of open) client.close();
      await files.remove();
    },
  };
}

storeContract("SqliteSessionStore (node:sqlite)", nodeSqliteHarness);
valueContract("SqliteSessionStore (node:sqlite)", nodeSqliteHarness);
storeContract("SqliteSessionStore (@libsql/client)", libsqlHarness);
valueContract("SqliteSessionStore (@libsql/client)", libsqlHarness);

Deno.test("new SqliteSessionStore() rejects a wrong configuration with a message saying what to pass", async (t) => {
  const database = new DatabaseSync(":memory:");
  const client = createClient({ url: ":memory:" });
  try {
    await t.step("neither or both connections: TypeError", () => {
      assert.throws(
        () => new SqliteSessionStore({}),
        {
          name: "TypeError",
          message: /exactly one of database .* or client .*: received neither/,
        },
      );
      assert.throws(
        () => new SqliteSessionStore({ database, client }),
        { name: "TypeError", message: /received both/ },
      );
    });
    await t.step("a connection of the wrong shape: TypeError", () => {
      const cases: [Record<string, unknown>, RegExp][] = [
        [
          { database: client },
          /database must be a synchronous handle .*received an object \(Sqlite3Client\)/,
        ],
        [{ database: "sessions.db" }, /database must be .*received string/],
        [
          { client: database },
          /client must be a libSQL client .*received an object \(DatabaseSync\)/,
        ],
        [
          { client: null, database: undefined },
          /client must be .*received null/,
        ],
      ];
      for (const [options, message] of cases) {
        assert.throws(
          () => new SqliteSessionStore(options as never),
          { name: "TypeError", message },
        );
      }
    });
    await t.step("a table prefix that is not an identifier: TypeError", () => {
      for (
        const tablePrefix of ["my-app_", "1st_", "x; DROP TABLE users; --", ""]
      ) {
        assert.throws(
          () => new SqliteSessionStore({ database, tablePrefix }),
          {
            name: "TypeError",
            message: /tablePrefix must be letters, digits and underscores/,
          },
        );
      }
      new SqliteSessionStore({ database, tablePrefix: "_App2_" });
    });
    await t.step("out-of-range timings: RangeError", () => {
      for (const busyTimeout of [-1, 1.5, Number.NaN, Infinity]) {
        assert.throws(
          () => new SqliteSessionStore({ database, busyTimeout }),
          {
            name: "RangeError",
            message: /busyTimeout must be a non-negative integer/,
          },
        );
      }
      assert.throws(
        () => new SqliteSessionStore({ database, maxBusyWait: -5 }),
        { name: "RangeError", message: /maxBusyWait .*received -5/ },
      );
    });
  } finally {
    database.close();
    client.close();
  }
});

Deno.test("SqliteSessionStore on first use switches a file to WAL and creates its prefixed tables, idempotently", async () => {
  const files = await tempFiles();
  const path = files.next();
  const first = new DatabaseSync(path);
  const second = new DatabaseSync(path);
  try {
    const store = new SqliteSessionStore({
      database: first,
      tablePrefix: "myapp_",
    });
    await store.createSession(record("s1"), {}, NOW);
    const mode = first.prepare("PRAGMA journal_mode").get() as {
      journal_mode: string;
    };
    assert.equal(mode.journal_mode, "wal");
    const tables = (first.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    ).all() as { name: string }[]).map((row) => row.name);
    assert.deepEqual(tables, [
      "myapp_locks",
      "myapp_revoked_tokens",
      "myapp_sessions",
      "myapp_values",
    ]);
    // A second store (another connection, as another process would have)
    // opens the same tables again and shares the sessions.
    const again = new SqliteSessionStore({
      database: second,
      tablePrefix: "myapp_",
    });
    assert.equal((await again.getSession("s1", NOW))?.id, "s1");
    // Another prefix is another set of tables.
    const other = new SqliteSessionStore({
      database: second,
      tablePrefix: "other_",
    });
    assert.equal(await other.getSession("s1", NOW), null);
    assert.deepEqual(await other.listSessions(DID, NOW), []);
  } finally {
    first.close();
    second.close();
    await files.remove();
  }
});

Deno.test("SqliteSessionStore with setPragmas: false leaves the journal mode as the operator set it", async () => {
  const files = await tempFiles();
  const database = new DatabaseSync(files.next());
  try {
    const store = new SqliteSessionStore({ database, setPragmas: false });
    await store.setValue("oauth_state", "k", "v", NOW + HOUR, NOW);
    const mode = database.prepare("PRAGMA journal_mode").get() as {
      journal_mode: string;
    };
    assert.equal(mode.journal_mode, "delete");
    assert.equal(await store.getValue("oauth_state", "k", NOW), "v");
  } finally {
    database.close();
    await files.remove();
  }
});

/** Holds the write lock of a file from another connection until released. */
interface LockHolder {
  release(): Promise<void>;
}

const holders: Record<string, (path: string) => Promise<LockHolder>> = {
  "node:sqlite": (path) => {
    const other = new DatabaseSync(path);
    other.exec("BEGIN IMMEDIATE");
    return Promise.resolve({
      release() {
        other.exec("COMMIT");
        other.close();
        return Promise.resolve();
      },
    });
  },
  // One file is opened by one SQLite library per process: libSQL's own
  // locks do not see node:sqlite's, so the holder is a second libSQL client.
  "@libsql/client": async (path) => {
    const other = createClient({ url: `file:${path}` });
    const transaction = await other.transaction("write");
    await transaction.execute("SELECT 1");
    return {
      async release() {
        await transaction.commit();
        other.close();
      },
    };
  },
};

function openStore(
  kind: string,
  path: string,
  options: { busyTimeout?: number; maxBusyWait?: number } = {},
): { store: SqliteSessionStore; close(): void } {
  if (kind === "node:sqlite") {
    const database = new DatabaseSync(path);
    return {
      store: new SqliteSessionStore({ database, ...options }),
      close: () => database.close(),
    };
  }
  const client = createClient({
    url: `file:${path}`,
    timeout: options.busyTimeout ?? 0,
  });
  return {
    store: new SqliteSessionStore({ client, ...options }),
    close: () => client.close(),
  };
}

for (const kind of Object.keys(holders)) {
  Deno.test(`SqliteSessionStore (${kind}) retries while another connection holds the write lock, and the write lands`, async () => {
    const files = await tempFiles();
    const path = files.next();
    const { store, close } = openStore(kind, path, { busyTimeout: 5 });
    try {
      await store.getSession("open", NOW);
      const holder = await holders[kind]!(path);
      const released = new Promise<void>((resolve) =>
        setTimeout(() => holder.release().then(resolve), 300)
      );
      const [evicted] = await Promise.all([
        store.createSession(record("s1"), { maxSessionsPerUser: 1 }, NOW),
        store.setValue("handoff", "code", "v", NOW + HOUR, NOW),
        released,
      ]);
      assert.deepEqual(evicted, []);
      assert.equal((await store.getSession("s1", NOW))?.id, "s1");
      assert.equal(await store.takeValue("handoff", "code", NOW), "v");
    } finally {
      close();
      await files.remove();
    }
  });

  Deno.test(`SqliteSessionStore (${kind}) gives up with a StoreError after maxBusyWait, then works once the lock is free`, async () => {
    const files = await tempFiles();
    const path = files.next();
    const { store, close } = openStore(kind, path, {
      busyTimeout: 5,
      maxBusyWait: 150,
    });
    try {
      await store.getSession("open", NOW);
      const holder = await holders[kind]!(path);
      try {
        await assert.rejects(
          store.updateSession("s1", { lastAccessed: NOW }, NOW),
          (error: unknown) => {
            assert.ok(error instanceof StoreError);
            assert.equal(error.code, "STORE_UNAVAILABLE");
            assert.match(
              error.message,
              /gave up on updateSession: the database stayed locked/,
            );
            assert.ok(isBusy(error.cause));
            return true;
          },
        );
      } finally {
        await holder.release();
      }
      await store.createSession(record("s1"), {}, NOW);
      assert.equal((await store.getSession("s1", NOW))?.id, "s1");
    } finally {
      close();
      await files.remove();
    }
  });
}

Deno.test("SqliteSessionStore deletes expired rows on a write at most once a minute of the manager's clock", async () => {
  const files = await tempFiles();
  const database = new DatabaseSync(files.next());
  const count = (table: string): number =>
    (database.prepare(`SELECT count(*) AS n FROM atproto_sessions_${table}`)
      .get() as { n: number }).n;
  try {
    const store = new SqliteSessionStore({ database });
    // Everything written at NOW; the short-lived rows expire at NOW + 10.
    await store.createSession(
      record("short", { expiresAt: NOW + 10 }),
      {},
      NOW,
    );
    await store.createSession(record("long"), {}, NOW);
    await store.revokeToken("jti-short", NOW + 10, NOW);
    await store.revokeToken("jti-long", NOW + HOUR, NOW);
    await store.setValue("oauth_state", "short", "v", NOW + 10, NOW);
    await store.setValue("oauth_session", "forever", "v", null, NOW);
    await store.acquireLock("short", "p1", 10, NOW);
    const all = { sessions: 2, revoked_tokens: 2, values: 2, locks: 1 };
    const counts = () =>
      Object.fromEntries(
        Object.keys(all).map((table) => [table, count(table)]),
      );
    assert.deepEqual(counts(), all);

    // Expired, but the last sweep (at the first write) was under a minute ago.
    await store.setValue("oauth_state", "tick", "v", NOW + HOUR, NOW + 59_000);
    assert.deepEqual(counts(), { ...all, values: 3 });
    assert.equal(
      await store.getSession("short", NOW + 59_000),
      null,
      "expired rows never read as live",
    );

    // A minute on, the next write sweeps what expired.
    await store.setValue("oauth_state", "tock", "v", NOW + HOUR, NOW + 60_000);
    assert.deepEqual(counts(), {
      sessions: 1,
      revoked_tokens: 1,
      values: 3,
      locks: 0,
    });
    assert.equal(
      await store.getValue("oauth_session", "forever", NOW + 60_000),
      "v",
    );
    assert.equal((await store.getSession("long", NOW + 60_000))?.id, "long");

    // Reads never sweep.
    await store.setValue(
      "oauth_state",
      "late",
      "v",
      NOW + 60_001,
      NOW + 60_000,
    );
    await store.getValue("oauth_state", "late", NOW + 200_000);
    await store.listSessions(DID, NOW + 200_000);
    assert.equal(count("values"), 4);
  } finally {
    database.close();
    await files.remove();
  }
});

Deno.test("SqliteSessionStore (@libsql/client) reads integers as numbers whatever the client's intMode", async () => {
  const files = await tempFiles();
  for (const intMode of ["number", "bigint", "string"] as const) {
    const client = createClient({ url: `file:${files.next()}`, intMode });
    try {
      const store = new SqliteSessionStore({ client });
      const created = record("s1", { kind: "token", authenticatedAt: NOW - 1 });
      await store.createSession(created, {}, NOW);
      assert.deepEqual(await store.getSession("s1", NOW), created);
      const rotated = await store.rotateToken("s1", 0, {
        lastAccessed: NOW + 1,
        expiresAt: NOW + HOUR,
        successor: "next",
      }, NOW + 1);
      assert.equal(rotated.record?.generation, 1);
      assert.equal(rotated.record?.rotatedAt, NOW + 1);
      await store.setValue("handoff", "k", "v", NOW + 10, NOW);
      assert.equal(await store.deleteValue("handoff", "k", NOW + 10), false);
    } finally {
      client.close();
    }
  }
  await files.remove();
});

Deno.test("isBusy() recognises each driver's lock contention errors and nothing else", () => {
  const busy: unknown[] = [
    // node:sqlite
    Object.assign(new Error("database is locked"), {
      errcode: 5,
      code: "ERR_SQLITE_ERROR",
    }),
    Object.assign(new Error("database is locked"), {
      errcode: 517,
      code: "ERR_SQLITE_ERROR",
    }),
    Object.assign(new Error("database table is locked"), { errcode: 6 }),
    // better-sqlite3, bun:sqlite
    Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" }),
    Object.assign(new Error("x"), { code: "SQLITE_BUSY_SNAPSHOT" }),
    Object.assign(new Error("x"), { code: "SQLITE_LOCKED_SHAREDCACHE" }),
    Object.assign(new Error("x"), { errno: 5 }),
    // libSQL
    Object.assign(new Error("SQLITE_BUSY: database is locked"), {
      code: "SQLITE_BUSY",
      rawCode: 5,
    }),
    new Error("batch failed", {
      cause: Object.assign(new Error("x"), { rawCode: 261 }),
    }),
  ];
  const other: unknown[] = [
    new Error("UNIQUE constraint failed: atproto_sessions_sessions.id"),
    Object.assign(new Error("constraint"), {
      errcode: 19,
      code: "ERR_SQLITE_ERROR",
    }),
    Object.assign(new Error("x"), { code: "SQLITE_BUSYNESS" }),
    Object.assign(new Error("x"), { code: "SQLITE_CONSTRAINT" }),
    Object.assign(new Error("The client is closed"), { code: "CLIENT_CLOSED" }),
    "database is locked",
    null,
    undefined,
    42,
  ];
  for (const error of busy) assert.equal(isBusy(error), true, String(error));
  for (const error of other) assert.equal(isBusy(error), false, String(error));
});

Deno.test("SqliteSessionStore reads back text holding NUL and U+0001 unchanged (drivers cut text at NUL)", async () => {
  const database = new DatabaseSync(":memory:");
  try {
    const store = new SqliteSessionStore({ database });
    const raw = "a\u0000b\u0001c\u0001\u0001\u0000\u0002";
    await store.setValue("oauth_session", raw, raw, null, NOW);
    assert.equal(await store.getValue("oauth_session", raw, NOW), raw);
    assert.equal(await store.getValue("oauth_session", "a", NOW), null);
    await store.createSession(
      record(raw, { did: `did:web:${raw}`, kind: "token" }),
      {},
      NOW,
    );
    const rotated = await store.rotateToken(raw, 0, {
      lastAccessed: NOW,
      expiresAt: NOW + HOUR,
      successor: raw,
    }, NOW);
    assert.equal(rotated.record?.id, raw);
    assert.equal(rotated.record?.did, `did:web:${raw}`);
    assert.equal(rotated.record?.successor, raw);
    assert.deepEqual(
      (await store.listSessions(`did:web:${raw}`, NOW)).map((r) => r.id),
      [raw],
    );
    assert.equal(await store.takeValue("oauth_session", raw, NOW), raw);
  } finally {
    database.close();
  }
});
