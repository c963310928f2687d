import assert from "node:assert/strict";
import { createClient } from "npm:redis@4";
import { Redis } from "npm:ioredis@5";
import { StoreError } from "../../src/errors.ts";
import {
  type RedisRoute,
  RedisSessionStore,
  type RedisSessionStoreOptions,
} from "../../src/stores/redis.ts";
import { redisAvailable, startRedisServer } from "../_redis_server.ts";
import { DID, HOUR, NOW, record, storeContract } from "./store_contract.ts";
import { valueContract } from "./value_contract.ts";

type Command = (args: string[], route: RedisRoute) => Promise<unknown>;

interface Connection {
  command: Command;
  close(): Promise<void>;
}

/** A node-redis client on `url`. */
async function nodeRedisClient(url: string): Promise<Connection> {
  const client = createClient({ url, disableOfflineQueue: true });
  client.on("error", () => {});
  await client.connect();
  return {
    command: (args) => client.sendCommand(args),
    async close() {
      await client.quit();
    },
  };
}

/** An ioredis client on `port`. */
async function ioredisClient(port: number): Promise<Connection> {
  const client = new Redis(port, "127.0.0.1", {
    lazyConnect: true,
    enableOfflineQueue: false,
  });
  client.on("error", () => {});
  await client.connect();
  return {
    command: ([name, ...args]) => client.call(name!, ...args),
    async close() {
      await client.quit();
    },
  };
}

/** A fresh server and a client of the given kind, closed together. */
async function connect(kind: "node-redis" | "ioredis"): Promise<Connection> {
  const server = await startRedisServer();
  const client = kind === "node-redis"
    ? await nodeRedisClient(server.url)
    : await ioredisClient(server.port);
  return {
    command: client.command,
    async close() {
      await client.close();
      await server.close();
    },
  };
}

async function withRedis(
  fn: (command: Command) => Promise<void>,
): Promise<void> {
  const redis = await connect("node-redis");
  try {
    await fn(redis.command);
  } finally {
    await redis.close();
  }
}

/** Wraps a command function, recording each command's name. */
function counting(command: Command): { command: Command; sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    command: (args, route) => {
      sent.push(args[0]!);
      return command(args, route);
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const storeOn = (
  command: Command,
  options: Partial<RedisSessionStoreOptions> = {},
) => new RedisSessionStore({ command, prefix: "app:", ...options });

if (redisAvailable("RedisSessionStore tests")) {
  for (const kind of ["node-redis", "ioredis"] as const) {
    const harness = async () => {
      const redis = await connect(kind);
      let next = 0;
      return {
        // A fresh prefix per store on one server.
        create: () =>
          new RedisSessionStore({
            command: redis.command,
            prefix: `t${next++}:`,
          }),
        close: redis.close,
      };
    };
    storeContract(`RedisSessionStore (${kind})`, harness);
    valueContract(`RedisSessionStore (${kind})`, harness);
  }

  Deno.test("new RedisSessionStore() rejects misconfiguration with a message saying how to fix it", () => {
    const command = () => Promise.resolve(null);
    assert.throws(
      () => new RedisSessionStore({} as { command: Command }),
      (error) =>
        error instanceof TypeError &&
        error.message ===
          "Cannot create RedisSessionStore: command must be a function that sends one command, such as (args) => client.sendCommand(args): received undefined",
    );
    const cases: [
      Partial<RedisSessionStoreOptions>,
      ErrorConstructor,
      RegExp,
    ][] = [
      [
        { prefix: 1 as unknown as string },
        TypeError,
        /prefix must be a string/,
      ],
      [
        { cluster: "yes" as unknown as boolean },
        TypeError,
        /cluster must be a boolean/,
      ],
      [
        { durableWrites: 1 as unknown as boolean },
        TypeError,
        /durableWrites must be a boolean/,
      ],
      [{ cluster: true, prefix: "{app}:" }, TypeError, /may not contain "\{"/],
      [{ durableTimeout: 0 }, RangeError, /durableTimeout must be a positive/],
      [{ durableTimeout: 1.5 }, RangeError, /received 1.5$/],
    ];
    for (const [options, type, message] of cases) {
      assert.throws(
        () => new RedisSessionStore({ command, ...options }),
        (error) => error instanceof type && message.test(error.message),
        JSON.stringify(options),
      );
    }
    // A prefix with braces is fine on one node.
    new RedisSessionStore({ command, prefix: "{app}:" });
  });

  Deno.test("RedisSessionStore.sessionIdFor() puts the DID in the id and createSession() insists on it", async () => {
    const { command, sent } = counting(() => Promise.resolve(null));
    const store = new RedisSessionStore({ command });
    assert.equal(store.sessionIdFor(DID, "abc"), `${DID}~abc`);
    assert.equal(store.sessionIdFor("", "abc"), "abc");
    assert.equal(store.sessionIdFor("did:x~y", "abc"), "abc");
    await assert.rejects(
      store.createSession(record("plain-uuid"), {}, NOW),
      (error) =>
        error instanceof TypeError && /sessionIdFor/.test(error.message),
    );
    await assert.rejects(
      store.createSession(record("did:web:other.example~1"), {}, NOW),
      TypeError,
    );
    // An id without a DID cannot name a record: answered without Redis.
    assert.equal(await store.getSession("plain-uuid", NOW), null);
    assert.equal(await store.updateSession("plain-uuid", {}, NOW), null);
    assert.equal(await store.deleteSession("plain-uuid"), null);
    assert.deepEqual(sent, []);
  });

  Deno.test("RedisSessionStore keeps its documented key layout, TTLs on the manager's clock", async () => {
    await withRedis(async (command) => {
      const store = storeOn(command);
      const id = store.sessionIdFor(DID, "s1");
      const created = record(id, { metadata: { userAgent: "Firefox" } });
      await store.createSession(created, { maxSessionsPerUser: 5 }, NOW);
      await store.revokeToken("jti-1", NOW + HOUR, NOW);
      await store.setValue("oauth_state", "st", "v", NOW + HOUR, NOW);
      await store.acquireLock("lk", "p1", HOUR, NOW);
      const keys = (await command(["KEYS", "app:*"], route) as string[]).sort();
      assert.deepEqual(keys, [
        "app:lock:lk",
        "app:revoked:jti-1",
        `app:sessions:${DID}`,
        "app:value:oauth_state:st",
        "app:values:oauth_state",
      ]);
      assert.deepEqual(
        JSON.parse(
          await command(["HGET", `app:sessions:${DID}`, id], route) as string,
        ),
        created,
      );
      assert.equal(
        await command(["GET", "app:value:oauth_state:st"], route),
        `${NOW + HOUR}|v`,
      );
      assert.equal(
        await command(["GET", "app:lock:lk"], route),
        `${NOW + HOUR}|p1`,
      );
      for (
        const key of keys.filter((key) => key !== "app:values:oauth_state")
      ) {
        const pttl = Number(await command(["PTTL", key], route));
        assert.ok(
          pttl > HOUR - 5000 && pttl <= HOUR,
          `${key} has PTTL ${pttl}`,
        );
      }
      // A refresh extends the DID's hash.
      await store.updateSession(id, { expiresAt: NOW + 3 * HOUR }, NOW + 1000);
      const pttl = Number(
        await command(["PTTL", `app:sessions:${DID}`], route),
      );
      assert.ok(pttl > 2 * HOUR - 10_000, `extended to ${pttl}`);
      assert.equal((await store.deleteAllSessions(DID)).length, 1);
      assert.equal(await command(["EXISTS", `app:sessions:${DID}`], route), 0);
    });
  });

  Deno.test("RedisSessionStore: each operation is one round trip (refresh one script, hot read one HGET)", async () => {
    await withRedis(async (raw) => {
      const { command, sent } = counting(raw);
      const store = storeOn(command);
      const id = store.sessionIdFor(DID, "s1");
      const expect = async (run: () => Promise<unknown>, names: string[]) => {
        sent.length = 0;
        await run();
        assert.deepEqual(sent, names);
      };
      // First use of each script: EVALSHA answers NOSCRIPT, EVAL loads it.
      await expect(
        () => store.createSession(record(id), { maxSessionsPerUser: 2 }, NOW),
        ["EVALSHA", "EVAL"],
      );
      await expect(
        () =>
          store.createSession(record(store.sessionIdFor(DID, "s2")), {}, NOW),
        ["EVALSHA"],
      );
      await expect(() => store.getSession(id, NOW), ["HGET"]);
      await expect(
        () => store.updateSession(id, { lastAccessed: NOW + 1 }, NOW + 1),
        ["EVALSHA", "EVAL"],
      );
      await expect(
        () => store.updateSession(id, { lastAccessed: NOW + 2 }, NOW + 2),
        ["EVALSHA"],
      );
      await store.rotateToken(id, 0, {
        lastAccessed: NOW + 3,
        expiresAt: NOW + HOUR,
        successor: "x",
      }, NOW + 3);
      await expect(
        () =>
          store.rotateToken(id, 1, {
            lastAccessed: NOW + 4,
            expiresAt: NOW + HOUR,
            successor: "y",
          }, NOW + 4),
        ["EVALSHA"],
      );
      await expect(() => store.listSessions(DID, NOW), ["HVALS"]);
      await expect(() => store.isTokenRevoked("j", NOW), ["GET"]);
      await store.deleteSession(store.sessionIdFor(DID, "none"));
      await expect(() => store.deleteSession(id), ["EVALSHA"]);
      await store.deleteAllSessions("did:web:none.example");
      await expect(() => store.deleteAllSessions(DID), ["EVALSHA"]);
      await store.setValue("handoff", "k0", "v", NOW + HOUR, NOW);
      await expect(
        () => store.setValue("handoff", "k", "v", NOW + HOUR, NOW),
        ["EVALSHA"],
      );
      await expect(() => store.getValue("handoff", "k", NOW), ["GET"]);
      await store.takeValue("handoff", "k0", NOW);
      await expect(() => store.takeValue("handoff", "k", NOW), ["EVALSHA"]);
      await store.acquireLock("l0", "p", 1000, NOW);
      await expect(() => store.acquireLock("l", "p", 1000, NOW), ["EVALSHA"]);
      await expect(
        () => store.clearValues("handoff"),
        ["ZRANGE"],
      );
      // A node that lost its script cache costs one EVAL, once.
      await raw(["SCRIPT", "FLUSH"], route);
      await expect(
        () => store.getSession(id, NOW),
        ["HGET"],
      );
      const s3 = store.sessionIdFor(DID, "s3");
      await expect(
        () => store.createSession(record(s3), {}, NOW),
        ["EVALSHA", "EVAL"],
      );
      await expect(
        () =>
          store.createSession(record(store.sessionIdFor(DID, "s4")), {}, NOW),
        ["EVALSHA"],
      );
    });
  });

  Deno.test("RedisSessionStore round-trips hostile strings and 13-digit times through its Lua scripts", async () => {
    await withRedis(async (command) => {
      const store = storeOn(command);
      const id = store.sessionIdFor(DID, 'weird/"\\\u0000é🙂');
      const odd = 'é🙂\u0000\r\n/"\\\u001f\u2028<script>';
      const created = record(id, {
        kind: "token",
        createdAt: 9_999_999_999_990,
        lastAccessed: 9_999_999_999_990,
        expiresAt: 9_999_999_999_999,
        authenticatedAt: 1,
        metadata: { label: odd, scope: "" },
      });
      await store.createSession(created, {}, 9_999_999_999_990);
      const updated = await store.updateSession(id, {
        lastAccessed: 9_999_999_999_991,
        metadata: { userAgent: odd },
      }, 9_999_999_999_991);
      const expected = {
        ...created,
        lastAccessed: 9_999_999_999_991,
        metadata: { label: odd, scope: "", userAgent: odd },
      };
      assert.deepEqual(updated, expected);
      const rotated = await store.rotateToken(id, 0, {
        lastAccessed: 9_999_999_999_992,
        expiresAt: 9_999_999_999_998,
        successor: odd,
      }, 9_999_999_999_992);
      assert.deepEqual(rotated.record, {
        ...expected,
        generation: 1,
        lastAccessed: 9_999_999_999_992,
        rotatedAt: 9_999_999_999_992,
        expiresAt: 9_999_999_999_998,
        successor: odd,
      });
      assert.deepEqual(
        await store.getSession(id, 9_999_999_999_992),
        rotated.record,
      );
      // An update with empty metadata keeps metadata an object.
      const plain = store.sessionIdFor(DID, "plain");
      await store.createSession(record(plain), {}, NOW);
      assert.deepEqual(
        (await store.updateSession(plain, { metadata: {} }, NOW))?.metadata,
        {},
      );
    });
  });

  Deno.test("RedisSessionStore: Redis drops expired sessions, values, leases and revocations itself", async () => {
    await withRedis(async (command) => {
      const store = storeOn(command, { prefix: "ttl:" });
      const now = Date.now();
      await store.createSession(
        record(store.sessionIdFor(DID, "s1"), {
          createdAt: now,
          expiresAt: now + 150,
        }),
        { maxSessionsPerUser: 5 },
        now,
      );
      await store.revokeToken("jti-1", now + 150, now);
      await store.setValue("oauth_state", "k", "v", now + 150, now);
      await store.acquireLock("l", "p", 150, now);
      assert.equal(
        (await command(["KEYS", "ttl:*"], route) as string[]).length,
        5,
      );
      await sleep(400);
      // Only the values index is left (pruned by the next setValue).
      assert.deepEqual(await command(["KEYS", "ttl:*"], route), [
        "ttl:values:oauth_state",
      ]);
    });
  });

  Deno.test("RedisSessionStore rejects with StoreError on a stored entry it did not write", async () => {
    await withRedis(async (command) => {
      const store = storeOn(command);
      const bad = store.sessionIdFor(DID, "bad");
      const shape = store.sessionIdFor(DID, "shape");
      const key = `app:sessions:${DID}`;
      await command(["HSET", key, bad, "{not json"], route);
      await command(["HSET", key, shape, JSON.stringify({ id: 1 })], route);
      await assert.rejects(store.getSession(bad, NOW), StoreError);
      await assert.rejects(store.getSession(shape, NOW), StoreError);
      await assert.rejects(store.updateSession(bad, {}, NOW), StoreError);
      await assert.rejects(
        store.rotateToken(bad, 0, {
          lastAccessed: NOW,
          expiresAt: NOW + 1,
          successor: "s",
        }, NOW),
        StoreError,
      );
      // Listing skips it; deleting removes it.
      assert.deepEqual(await store.listSessions(DID, NOW), []);
      assert.equal(await store.deleteSession(bad), null);
      assert.equal(await command(["HEXISTS", key, bad], route), 0);
      await command(["SET", "app:value:handoff:x", "no bar"], route);
      await assert.rejects(store.getValue("handoff", "x", NOW), StoreError);
    });
  });

  Deno.test("RedisSessionStore passes on the client's errors and rejects odd replies", async () => {
    const store = new RedisSessionStore({
      command: () => Promise.reject(new Error("connection refused")),
    });
    const id = store.sessionIdFor(DID, "s1");
    await assert.rejects(store.getSession(id, NOW), /connection refused/);
    await assert.rejects(
      store.createSession(record(id), { maxSessionsPerUser: 5 }, NOW),
      /connection refused/,
    );
    await assert.rejects(
      store.acquireLock("l", "p", 1000, NOW),
      /connection refused/,
    );
    const odd = new RedisSessionStore({ command: () => Promise.resolve({}) });
    await assert.rejects(odd.getSession(id, NOW), StoreError);
    await assert.rejects(odd.listSessions(DID, NOW), StoreError);
  });

  Deno.test("RedisSessionStore durableWrites: WAIT after each write, StoreError without a replica", async (t) => {
    const primary = await startRedisServer({
      persistent: true,
      args: ["--repl-diskless-sync-delay", "0"],
    });
    const replica = await startRedisServer({
      args: ["--replicaof", "127.0.0.1", String(primary.port)],
    });
    const client = await nodeRedisClient(primary.url);
    try {
      await t.step("with a replica, writes are acknowledged", async () => {
        const { command, sent } = counting(client.command);
        const store = storeOn(command, { durableWrites: true });
        const id = store.sessionIdFor(DID, "d1");
        // The replica may still be syncing: retry the first write briefly.
        for (let attempt = 0;; attempt++) {
          try {
            await store.createSession(record(id), {}, NOW);
            break;
          } catch (error) {
            if (attempt > 50) throw error;
            await sleep(100);
          }
        }
        sent.length = 0;
        await store.revokeToken("j", NOW + HOUR, NOW);
        assert.deepEqual(sent, ["EVALSHA", "EVAL", "WAIT"]);
        sent.length = 0;
        await store.updateSession(id, { lastAccessed: NOW + 1 }, NOW + 1);
        await store.updateSession(id, { lastAccessed: NOW + 2 }, NOW + 2);
        assert.deepEqual(
          sent,
          ["EVALSHA", "EVAL", "EVALSHA"],
          "the sliding refresh is not waited for",
        );
        sent.length = 0;
        assert.equal((await store.deleteSession(id))?.id, id);
        assert.deepEqual(sent.slice(-1), ["WAIT"]);
      });
      await t.step(
        "without one, the write rejects after durableTimeout",
        async () => {
          await replica.stop();
          const store = storeOn(client.command, {
            durableWrites: true,
            durableTimeout: 50,
          });
          await assert.rejects(
            store.createSession(record(store.sessionIdFor(DID, "d2")), {}, NOW),
            (error) =>
              error instanceof StoreError &&
              /no replica acknowledged within 50 ms/.test(error.message),
          );
        },
      );
    } finally {
      await client.close();
      await replica.close();
      await primary.close();
    }
  });
}

/** The route for a test's own raw commands (single node: ignored). */
const route: RedisRoute = { key: "", readonly: false };
