/**
 * Store round trips per request, counted at the transport: a counting
 * Redis `command` function around a real redis-server, and a counting
 * `Deno.Kv`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createClient } from "npm:redis@4";
import { SessionManager } from "../src/session_manager.ts";
import type { SessionStore } from "../src/store.ts";
import { DenoKvSessionStore } from "../src/stores/deno_kv.ts";
import { RedisSessionStore } from "../src/stores/redis.ts";
import { type Counted, countingCommand, countingKv } from "./_counting.ts";
import {
  cookiePair,
  cookieValue,
  DID,
  OTHER_SECRET,
  requestWithCookie,
  SECRET,
  TestClock,
} from "./_fixtures.ts";
import { redisAvailable, startRedisServer } from "./_redis_server.ts";

interface Expected {
  /** A cached cookie, not due for a refresh. */
  hot: string[];
  /** A refresh due (the write also checks the record). */
  refresh: string[];
  /** A cached, record-backed Bearer token. */
  bearer: string[];
}

async function checkRoundTrips(
  t: Deno.TestContext,
  store: SessionStore,
  counter: Counted,
  expected: Expected,
): Promise<void> {
  const clock = new TestClock();
  const sessions = new SessionManager({
    cookieSecret: { "1": OTHER_SECRET, "2": SECRET },
    store,
    now: clock.now,
  });
  const before = new SessionManager({
    cookieSecret: { "1": OTHER_SECRET },
    store,
    now: clock.now,
  });
  const cookie = cookiePair(await sessions.createSession({ did: DID }));
  const token = await sessions.sealToken({ did: DID });
  const old = cookiePair(await before.createSession({ did: DID }));
  const trips = async (run: () => Promise<void>): Promise<string[]> => {
    counter.reset();
    await run();
    return [...counter.trips];
  };

  await t.step("a hot cookie request is one round trip", async () => {
    assert.deepEqual(
      await trips(async () => {
        const result = await sessions.getSessionFromRequest(
          requestWithCookie(cookie),
        );
        assert.equal(result.error, null);
      }),
      expected.hot,
    );
  });

  await t.step("a hot Bearer request is one round trip", async () => {
    assert.deepEqual(
      await trips(async () => {
        const result = await sessions.validateBearerToken(`Bearer ${token}`);
        assert.equal(result.error, null);
      }),
      expected.bearer,
    );
  });

  await t.step("a refresh due calls only updateSession", async () => {
    clock.advance(61);
    assert.deepEqual(
      await trips(async () => {
        const result = await sessions.getSessionFromRequest(
          requestWithCookie(cookie),
        );
        assert.equal(result.error, null);
        assert.notEqual(
          cookieValue(result.setCookieHeader!),
          cookie.slice("sid=".length),
        );
      }),
      expected.refresh,
    );
  });

  await t.step(
    "a cookie under an old key id is re-sealed in the same single write",
    async () => {
      assert.deepEqual(
        await trips(async () => {
          const result = await sessions.getSessionFromRequest(
            requestWithCookie(old),
          );
          assert.equal(result.error, null);
          assert.ok(
            cookieValue(result.setCookieHeader!).startsWith("Fe26.2*2*"),
          );
        }),
        expected.refresh,
      );
    },
  );

  await t.step(
    "the pre-refresh cookie, answered from the memo, is one read",
    async () => {
      assert.deepEqual(
        await trips(async () => {
          const result = await sessions.getSessionFromRequest(
            requestWithCookie(cookie),
          );
          assert.equal(result.error, null);
        }),
        expected.hot,
      );
    },
  );
}

Deno.test("round trips per request on Deno KV: hot 1 get, refresh 1 get + 1 commit", async (t) => {
  const kv = await Deno.openKv(":memory:");
  try {
    const counted = countingKv(kv);
    await checkRoundTrips(t, new DenoKvSessionStore(counted.kv), counted, {
      hot: ["get"],
      bearer: ["get"],
      // A commit checked against the record's versionstamp needs it read
      // first: the minimum for a conditional write on Deno KV.
      refresh: ["get", "commit"],
    });
  } finally {
    kv.close();
  }
});

if (redisAvailable("round trips on Redis")) {
  Deno.test("round trips per request on Redis: hot 1 HGET, refresh 1 EVALSHA", async (t) => {
    const server = await startRedisServer();
    const client = createClient({ url: server.url, disableOfflineQueue: true });
    client.on("error", () => {});
    await client.connect();
    try {
      const counted = countingCommand((args) => client.sendCommand(args));
      const store = new RedisSessionStore({ command: counted.command });
      await t.step(
        "the first refresh on a server that has not seen the script adds one EVAL",
        async () => {
          const clock = new TestClock();
          const sessions = new SessionManager({
            cookieSecret: SECRET,
            store,
            now: clock.now,
          });
          const cookie = cookiePair(await sessions.createSession({ did: DID }));
          clock.advance(61);
          counted.reset();
          const result = await sessions.getSessionFromRequest(
            requestWithCookie(cookie),
          );
          assert.equal(result.error, null);
          assert.deepEqual(counted.trips, ["EVALSHA", "EVAL"]);
        },
      );
      await checkRoundTrips(t, store, counted, {
        hot: ["HGET"],
        bearer: ["HGET"],
        refresh: ["EVALSHA"],
      });
    } finally {
      await client.quit();
      await server.close();
    }
  });
}
