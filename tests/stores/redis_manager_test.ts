/**
 * Round trips through a SessionManager on RedisSessionStore (issue 13): a
 * hot request is one HGET, a due refresh one script, on any manager sharing
 * the store. Kept apart from the store tests, which do not need the manager.
 */
import assert from "node:assert/strict";
import { createClient } from "npm:redis@4";
import { SessionManager } from "../../mod.ts";
import { type RedisRoute, RedisSessionStore } from "../../src/stores/redis.ts";
import { redisAvailable, startRedisServer } from "../_redis_server.ts";
import { DID, NOW } from "./store_contract.ts";

type Command = (args: string[], route: RedisRoute) => Promise<unknown>;

/** A fresh server and a counting node-redis command function. */
async function withRedis(
  fn: (command: Command, sent: string[]) => Promise<void>,
): Promise<void> {
  const server = await startRedisServer();
  const client = createClient({ url: server.url, disableOfflineQueue: true });
  client.on("error", () => {});
  await client.connect();
  const sent: string[] = [];
  try {
    await fn((args) => {
      sent.push(args[0]!);
      return client.sendCommand(args);
    }, sent);
  } finally {
    await client.quit();
    await server.close();
  }
}

if (redisAvailable("SessionManager on RedisSessionStore round-trip tests")) {
  Deno.test("SessionManager on RedisSessionStore: a hot request is one HGET, a due refresh one script", async () => {
    await withRedis(async (command, sent) => {
      let clock = NOW;
      const manager = () =>
        new SessionManager({
          cookieSecret: "x".repeat(32),
          store: new RedisSessionStore({ command }),
          now: () => clock,
        });
      const [first, second] = [manager(), manager()];
      let cookie = (await first.createSession({ did: DID })).split(";")[0]!;
      const request = () =>
        new Request("https://app.example/", { headers: { cookie } });
      // Load the scripts once, as a warm server would have.
      clock += 120_000;
      const warm = await first.getSessionFromRequest(request());
      cookie = warm.setCookieHeader!.split(";")[0]!;
      await first.refreshBearerToken(
        `Bearer ${await first.sealToken({ did: DID })}`,
      );
      sent.length = 0;
      for (const sessions of [first, second]) {
        const hot = await sessions.getSessionFromRequest(request());
        assert.equal(hot.error, null);
        assert.deepEqual(sent.splice(0), ["HGET"], "a hot request");
      }
      for (const sessions of [first, second]) {
        clock += 120_000;
        const due = await sessions.getSessionFromRequest(request());
        assert.equal(due.error, null);
        assert.ok(due.setCookieHeader);
        assert.deepEqual(sent.splice(0), ["EVALSHA"], "a due refresh");
        cookie = due.setCookieHeader.split(";")[0]!;
      }
      const fresh = await first.sealToken({ did: DID });
      sent.length = 0;
      assert.equal(
        (await second.validateBearerToken(`Bearer ${fresh}`)).error,
        null,
      );
      assert.deepEqual(sent.splice(0), ["HGET"], "a Bearer request");
      await second.refreshBearerToken(`Bearer ${fresh}`);
      assert.deepEqual(sent.splice(0), ["EVALSHA"], "a token rotation");
    });
  });

  Deno.test("SessionManager on RedisSessionStore: the hot read answers as getSession would, and yields to an override", async (t) => {
    await withRedis(async (command) => {
      const login = async (sessions: SessionManager) => {
        const cookie = (await sessions.createSession({ did: DID })).split(
          ";",
        )[0]!;
        return () =>
          sessions.getSessionFromRequest(
            new Request("https://app.example/", { headers: { cookie } }),
          );
      };
      await t.step(
        "a subclass's getSession is called on every hot request",
        async () => {
          class Counting extends RedisSessionStore {
            reads = 0;
            override getSession(id: string, now: number) {
              this.reads++;
              return super.getSession(id, now);
            }
          }
          const store = new Counting({ command });
          const read = await login(
            new SessionManager({ cookieSecret: "x".repeat(32), store }),
          );
          assert.equal((await read()).error, null);
          assert.equal((await read()).error, null);
          assert.equal(store.reads, 2);
        },
      );
      await t.step(
        "a getSession patched after the manager was built is honoured",
        async () => {
          const store = new RedisSessionStore({ command });
          const read = await login(
            new SessionManager({ cookieSecret: "x".repeat(32), store }),
          );
          assert.equal((await read()).error, null);
          store.getSession = () => Promise.resolve(null);
          assert.equal((await read()).error?.type, "SESSION_REVOKED");
        },
      );
      await t.step(
        "an unreadable record: STORE_UNAVAILABLE with a warn, the cookie kept",
        async () => {
          const warnings: unknown[] = [];
          const store = new RedisSessionStore({ command });
          const sessions = new SessionManager({
            cookieSecret: "x".repeat(32),
            store,
            logger: {
              debug() {},
              info() {},
              warn: (message, context) => warnings.push({ message, context }),
              error() {},
            },
          });
          const read = await login(sessions);
          const first = await read();
          assert.equal(first.error, null);
          const id = first.data!.sessionId!;
          await command(["HSET", `atproto-sessions:sessions:${DID}`, id, "{"], {
            key: `atproto-sessions:sessions:${DID}`,
            readonly: false,
          });
          const broken = await read();
          assert.equal(broken.error?.type, "STORE_UNAVAILABLE");
          assert.equal(broken.setCookieHeader, null);
          assert.equal(warnings.length, 1);
          assert.doesNotMatch(JSON.stringify(warnings), /Fe26/);
        },
      );
      await t.step(
        "a store that never answers: STORE_UNAVAILABLE at storeTimeout",
        async () => {
          let hang = false;
          const store = new RedisSessionStore({
            command: (args, route) =>
              hang ? new Promise(() => {}) : command(args, route),
          });
          const read = await login(
            new SessionManager({
              cookieSecret: "x".repeat(32),
              store,
              storeTimeout: 30,
            }),
          );
          assert.equal((await read()).error, null);
          hang = true;
          const late = await read();
          assert.equal(late.error?.type, "STORE_UNAVAILABLE");
          assert.equal(late.setCookieHeader, null);
        },
      );
    });
  });
}
