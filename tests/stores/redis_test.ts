import assert from "node:assert/strict";
import { createClient } from "npm:redis@4";
import { Redis } from "npm:ioredis@5";
import { StoreError } from "../../src/errors.ts";
import { RedisSessionStore } from "../../src/stores/redis.ts";
import { redisAvailable, startRedisServer } from "../_redis_server.ts";
import { HOUR, NOW, record, storeContract } from "./store_contract.ts";

type Command = (args: string[]) => Promise<unknown>;

/** A started server and a connected node-redis client, for one test. */
async function nodeRedis(): Promise<{
  command: Command;
  close(): Promise<void>;
}> {
  const server = await startRedisServer();
  const client = createClient({ url: server.url });
  client.on("error", () => {});
  await client.connect();
  return {
    command: (args) => client.sendCommand(args),
    async close() {
      await client.quit();
      await server.close();
    },
  };
}

/** A started server and a connected ioredis client, for one test. */
async function ioredis(): Promise<{
  command: Command;
  close(): Promise<void>;
}> {
  const server = await startRedisServer();
  const client = new Redis(server.port, "127.0.0.1", {
    lazyConnect: true,
    enableOfflineQueue: false,
  });
  client.on("error", () => {});
  await client.connect();
  return {
    command: ([name, ...args]) => client.call(name!, ...args),
    async close() {
      await client.quit();
      await server.close();
    },
  };
}

async function withRedis(
  fn: (command: Command) => Promise<void>,
): Promise<void> {
  const redis = await nodeRedis();
  try {
    await fn(redis.command);
  } finally {
    await redis.close();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

if (redisAvailable("RedisSessionStore tests")) {
  for (
    const [client, connect] of [["node-redis", nodeRedis], [
      "ioredis",
      ioredis,
    ]] as const
  ) {
    storeContract(`RedisSessionStore (${client})`, async () => {
      const redis = await connect();
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
    });
  }

  Deno.test("new RedisSessionStore() rejects a missing command or a wrong prefix", () => {
    assert.throws(
      () => new RedisSessionStore({} as { command: Command }),
      (error) =>
        error instanceof TypeError &&
        error.message ===
          "Cannot create RedisSessionStore: command must be a function that sends one command, such as (args) => client.sendCommand(args): received undefined",
    );
    assert.throws(
      () =>
        new RedisSessionStore({
          command: () => Promise.resolve(null),
          prefix: 1 as unknown as string,
        }),
      TypeError,
    );
  });

  Deno.test("RedisSessionStore keeps its documented key layout", async () => {
    await withRedis(async (command) => {
      const store = new RedisSessionStore({ command, prefix: "app:" });
      const created = record("s1", { metadata: { userAgent: "Firefox" } });
      await store.createSession(created, 5, NOW);
      await store.revokeToken("jti-1", NOW + HOUR, NOW);
      const keys = (await command(["KEYS", "app:*"]) as string[]).sort();
      assert.deepEqual(keys, [
        `app:did:${created.did}`,
        "app:revoked:jti-1",
        "app:session:s1",
      ]);
      assert.deepEqual(
        JSON.parse(await command(["GET", "app:session:s1"]) as string),
        created,
      );
      assert.deepEqual(
        await command([
          "ZRANGE",
          `app:did:${created.did}`,
          "0",
          "-1",
          "WITHSCORES",
        ]),
        ["s1", String(NOW)],
      );
      // TTLs are counted on the manager's clock: expiresAt - now.
      for (const key of keys) {
        const pttl = Number(await command(["PTTL", key]));
        assert.ok(
          pttl > HOUR - 5000 && pttl <= HOUR,
          `${key} has PTTL ${pttl}`,
        );
      }
      assert.equal(await store.deleteAllSessions(created.did), 1);
      assert.deepEqual(await command(["KEYS", "app:*"]), ["app:revoked:jti-1"]);
    });
  });

  Deno.test("RedisSessionStore: Redis drops expired sessions, sets and revocations itself", async () => {
    await withRedis(async (command) => {
      const store = new RedisSessionStore({ command, prefix: "ttl:" });
      const now = Date.now();
      await store.createSession(
        record("s1", { createdAt: now, expiresAt: now + 150 }),
        5,
        now,
      );
      await store.revokeToken("jti-1", now + 150, now);
      assert.equal((await command(["KEYS", "ttl:*"]) as string[]).length, 3);
      assert.equal(await store.isTokenRevoked("jti-1", Date.now()), true);
      await sleep(400);
      assert.deepEqual(await command(["KEYS", "ttl:*"]), []);
      assert.equal(
        await store.isTokenRevoked("jti-1", Date.now() - 10_000),
        false,
      );
      assert.equal(await store.getSession("s1", now), null);
    });
  });

  Deno.test("RedisSessionStore: a refresh extends the record's and the set's TTL", async () => {
    await withRedis(async (command) => {
      const store = new RedisSessionStore({ command, prefix: "app:" });
      const created = record("s1");
      await store.createSession(created, undefined, NOW);
      await store.updateSession("s1", {
        lastAccessed: NOW + 1000,
        expiresAt: NOW + 3 * HOUR,
      }, NOW + 1000);
      for (const key of ["app:session:s1", `app:did:${created.did}`]) {
        const pttl = Number(await command(["PTTL", key]));
        assert.ok(pttl > 2 * HOUR - 10_000, `${key} has PTTL ${pttl}`);
      }
    });
  });

  Deno.test("RedisSessionStore falls back to EVAL when Redis answers NOSCRIPT", async () => {
    await withRedis(async (command) => {
      const sent: string[] = [];
      const store = new RedisSessionStore({
        command: (args) => {
          sent.push(args[0]!);
          return command(args);
        },
      });
      await store.createSession(record("s1"), 5, NOW);
      assert.deepEqual(sent, ["EVALSHA", "EVAL"]);
      sent.length = 0;
      await store.createSession(record("s2", { createdAt: NOW + 1 }), 5, NOW);
      assert.deepEqual(sent, ["EVALSHA"]);
      await command(["SCRIPT", "FLUSH"]);
      sent.length = 0;
      assert.deepEqual(
        await store.createSession(record("s3", { createdAt: NOW + 2 }), 2, NOW),
        ["s1"],
      );
      assert.deepEqual(sent, ["EVALSHA", "EVAL"]);
    });
  });

  Deno.test("RedisSessionStore rejects with StoreError on a malformed record", async () => {
    await withRedis(async (command) => {
      const store = new RedisSessionStore({ command, prefix: "app:" });
      await command(["SET", "app:session:bad", "{not json"]);
      await command(["SET", "app:session:shape", JSON.stringify({ id: 1 })]);
      await assert.rejects(store.getSession("bad", NOW), StoreError);
      await assert.rejects(store.getSession("shape", NOW), StoreError);
      // It can still be deleted.
      assert.equal(await store.deleteSession("bad"), true);
      assert.equal(await store.getSession("bad", NOW), null);
    });
  });

  Deno.test("RedisSessionStore passes on the client's errors", async () => {
    const store = new RedisSessionStore({
      command: () => Promise.reject(new Error("connection refused")),
    });
    await assert.rejects(store.getSession("s1", NOW), /connection refused/);
    await assert.rejects(
      store.createSession(record("s1"), 5, NOW),
      /connection refused/,
    );
    const odd = new RedisSessionStore({ command: () => Promise.resolve({}) });
    await assert.rejects(odd.getSession("s1", NOW), StoreError);
  });
}
