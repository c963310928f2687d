/**
 * The manager against a real redis-server in trouble: paused (SIGSTOP)
 * and restarted without persistence.
 */
import assert from "node:assert/strict";
import { createClient } from "npm:redis@4";
import { StoreTimeoutError } from "../src/_store_calls.ts";
import { StoreError } from "../src/errors.ts";
import { RedisSessionStore } from "../src/stores/redis.ts";
import { DID } from "./_fixtures.ts";
import { fixture } from "./_manager_fixtures.ts";
import {
  redisAvailable,
  redisServerPath,
  startRedisServer,
} from "./_redis_server.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

type Client = ReturnType<typeof createClient>;

async function connect(url: string): Promise<Client> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const client = createClient({
      url,
      disableOfflineQueue: true,
      socket: { reconnectStrategy: () => 50, connectTimeout: 1000 },
    });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.ping();
      return client;
    } catch (error) {
      if (client.isOpen) await client.disconnect();
      if (Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
}

async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in 10 s");
    await sleep(50);
  }
}

if (redisAvailable("SessionManager with a paused or restarted redis-server")) {
  Deno.test("storeTimeout: a SIGSTOPped redis-server yields STORE_UNAVAILABLE and StoreError, then recovers with nothing leaked", async () => {
    // Started here rather than with startRedisServer, to hold its PID.
    const port = freePort();
    const dir = await Deno.makeTempDir({ prefix: "atproto_sessions_stop_" });
    const child = new Deno.Command(redisServerPath!, {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        "no",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let client: Client | undefined;
    try {
      client = await connect(`redis://127.0.0.1:${port}`);
      const command = client.sendCommand.bind(client);
      const { sessions, login, read, bearer, refresh } = fixture(
        new RedisSessionStore({ command: (args) => command(args) }),
        { storeTimeout: 200 },
      );
      const cookie = await login();
      const token = await sessions.sealToken({ did: DID });
      assert.equal((await read(cookie)).error, null);

      Deno.kill(child.pid, "SIGSTOP");
      try {
        const down = await read(cookie);
        assert.equal(down.error?.type, "STORE_UNAVAILABLE");
        assert.equal(down.setCookieHeader, null);
        assert.equal((await bearer(token)).error?.type, "STORE_UNAVAILABLE");
        assert.equal(await refresh(token), null);
        await assert.rejects(
          sessions.listSessions(DID),
          (error) =>
            error instanceof StoreError &&
            error.cause instanceof StoreTimeoutError,
        );
      } finally {
        Deno.kill(child.pid, "SIGCONT");
      }
      // The paused commands are answered now; their late replies are
      // swallowed, and the session works again.
      await until(async () => (await read(cookie)).error === null);
      // The refresh whose reply timed out ran once Redis resumed: the old
      // token is rotated away, and the client's retry (within
      // tokenReuseGrace) receives the token it missed.
      assert.equal((await bearer(token)).error?.type, "TOKEN_REVOKED");
      const retried = await refresh(token);
      assert.ok(retried !== null);
      assert.equal((await bearer(retried)).error, null);
      assert.equal(await refresh(token), retried);
      assert.equal((await sessions.listSessions(DID)).length, 2);
    } finally {
      if (client?.isOpen) await client.disconnect();
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test("a redis-server restarted without persistence fails closed for tokens and cookies", async () => {
    const server = await startRedisServer();
    const client = await connect(server.url);
    try {
      const command = client.sendCommand.bind(client);
      const { sessions, login, read, bearer, refresh } = fixture(
        new RedisSessionStore({ command: (args) => command(args) }),
      );
      const cookie = await login();
      const token = await sessions.sealToken({ did: DID });
      const fresh = await refresh(token);
      assert.equal((await bearer(fresh!)).error, null);
      await server.stop();
      await server.start();
      await until(async () =>
        (await bearer(fresh!)).error?.type !== "STORE_UNAVAILABLE"
      );
      assert.equal((await bearer(fresh!)).error?.type, "TOKEN_REVOKED");
      assert.equal((await bearer(token)).error?.type, "TOKEN_REVOKED");
      assert.equal(await refresh(fresh!), null);
      assert.equal((await read(cookie)).error?.type, "SESSION_REVOKED");
    } finally {
      if (client.isOpen) await client.disconnect();
      await server.close();
    }
  });
}
