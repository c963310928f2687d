import assert from "node:assert/strict";
import { PostgresSessionStore } from "../../src/stores/postgres.ts";
import { postgresAvailable, startPostgresServer } from "../_postgres_server.ts";
import { pgPool } from "./postgres_clients.ts";
import {
  CAP,
  CREATES,
  FIRST_USES,
  type RaceResult,
} from "./postgres_race_worker.ts";
import { HOUR, NOW, record } from "./store_contract.ts";

const WORKER = new URL("./postgres_race_worker.ts", import.meta.url).pathname;
const ROUNDS = 4;

/** Reads a child's stdout line by line. */
function lines(child: Deno.ChildProcess): () => Promise<string> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  return async () => {
    while (!buffer.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`worker exited early; output: ${buffer}`);
      buffer += value;
    }
    const index = buffer.indexOf("\n");
    const line = buffer.slice(0, index);
    buffer = buffer.slice(index + 1);
    return line;
  };
}

if (postgresAvailable("PostgresSessionStore process tests")) {
  Deno.test("PostgresSessionStore: two processes racing on one server get one winner and exactly the cap", async () => {
    const server = await startPostgresServer();
    const { client, end } = pgPool(server.url);
    try {
      const store = new PostgresSessionStore({ client, tablePrefix: "race_" });
      for (let round = 0; round < ROUNDS; round++) {
        await store.createSession(
          record(`token-${round}`, { kind: "token" }),
          {},
          NOW,
        );
        await store.setValue(
          "handoff",
          `code-${round}`,
          "payload",
          NOW + HOUR,
          NOW,
        );
      }
      const workers = [0, 1].map((worker) =>
        new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            WORKER,
            server.url,
            "race_",
            String(worker),
            String(ROUNDS),
          ],
          stdin: "piped",
          stdout: "piped",
          stderr: "inherit",
        }).spawn()
      );
      const readers = workers.map(lines);
      try {
        for (const read of readers) assert.equal(await read(), "ready");
        const go = new TextEncoder().encode("go\n");
        await Promise.all(workers.map(async (worker) => {
          const writer = worker.stdin.getWriter();
          await writer.write(go);
          await writer.close();
        }));
        const reports = await Promise.all(
          readers.map(async (read) => JSON.parse(await read()) as RaceResult[]),
        );
        for (const worker of workers) {
          assert.equal((await worker.status).code, 0);
        }
        const { rows } = await client.query(
          "SELECT count(*)::integer AS n FROM race_fresh_values",
          [],
        );
        assert.equal(rows[0]!.n, 2 * FIRST_USES, "every first use succeeded");
        for (let round = 0; round < ROUNDS; round++) {
          const [a, b] = reports.map((report) => report[round]!);
          const did = `did:plc:race${round}`;
          const listed = (await store.listSessions(did, NOW)).map((r) => r.id);
          assert.equal(listed.length, CAP, "exactly the cap remains");
          const evicted = [...a!.evicted, ...b!.evicted];
          assert.equal(evicted.length, 2 * CREATES - CAP);
          assert.equal(new Set(evicted).size, evicted.length);
          assert.equal(new Set([...evicted, ...listed]).size, 2 * CREATES);
          assert.equal(a!.rotated + b!.rotated, 1, "one rotation wins");
          assert.equal(
            (await store.getSession(`token-${round}`, NOW + 1))?.generation,
            1,
          );
          assert.equal(a!.taken + b!.taken, 1, "one takeValue wins");
          assert.equal(a!.locked + b!.locked, 1, "one acquireLock wins");
        }
      } finally {
        for (const worker of workers) {
          try {
            worker.kill("SIGKILL");
          } catch {
            // Already exited.
          }
          await worker.status;
        }
      }
    } finally {
      await end();
      await server.close();
    }
  });

  Deno.test("PostgresSessionStore: a server restart fails calls closed, then the store recovers with its data", async () => {
    const server = await startPostgresServer();
    // Fail fast while the server is down: calls reject instead of waiting.
    const { client, end } = pgPool(server.url, {
      connectMs: 1_000,
      statementMs: 2_000,
    });
    try {
      const store = new PostgresSessionStore({ client });
      await store.createSession(record("cookie"), {}, NOW);
      await store.createSession(record("token", { kind: "token" }), {}, NOW);
      const rotated = await store.rotateToken("token", 0, {
        lastAccessed: NOW + 1,
        expiresAt: NOW + HOUR,
        successor: "next",
      }, NOW + 1);
      assert.equal(rotated.rotated, true);
      await store.revokeToken("jti", NOW + HOUR, NOW);
      await store.setValue("oauth_session", "did:plc:a", "sealed", null, NOW);
      assert.equal(await store.acquireLock("lock", "holder", HOUR, NOW), true);

      await server.stop();
      assert.equal(server.pid, null);
      const down: [string, () => Promise<unknown>][] = [
        ["getSession", () => store.getSession("cookie", NOW)],
        [
          "createSession",
          () =>
            store.createSession(
              record("during"),
              { maxSessionsPerUser: 1 },
              NOW,
            ),
        ],
        ["rotateToken", () =>
          store.rotateToken("token", 1, {
            lastAccessed: NOW + 2,
            expiresAt: NOW + HOUR,
            successor: "x",
          }, NOW + 2)],
        ["isTokenRevoked", () => store.isTokenRevoked("jti", NOW)],
        ["takeValue", () => store.takeValue("oauth_session", "did:plc:a", NOW)],
        ["acquireLock", () => store.acquireLock("lock", "thief", HOUR, NOW)],
      ];
      for (const [name, call] of down) {
        await assert.rejects(
          call(),
          `${name} rejects while the server is down`,
        );
      }

      await server.start();
      // The first call after the restart may meet a connection the pool
      // has not yet noticed is dead; the ones after it must succeed.
      let recovered = false;
      for (let attempt = 0; attempt < 10 && !recovered; attempt++) {
        recovered = await store.getSession("cookie", NOW).then(
          (r) => r?.id === "cookie",
          () => false,
        );
      }
      assert.equal(recovered, true);
      assert.equal((await store.getSession("token", NOW + 1))?.generation, 1);
      assert.equal(await store.getSession("during", NOW), null);
      assert.equal(await store.isTokenRevoked("jti", NOW), true);
      assert.equal(
        await store.getValue("oauth_session", "did:plc:a", NOW),
        "sealed",
      );
      assert.equal(await store.acquireLock("lock", "thief", HOUR, NOW), false);
      assert.equal(await store.acquireLock("lock", "holder", HOUR, NOW), true);
      const evicted = await store.createSession(
        record("after", { createdAt: NOW + 5 }),
        { maxSessionsPerUser: 1 },
        NOW,
      );
      assert.deepEqual(evicted.map((r) => r.id).sort(), ["cookie", "token"]);
    } finally {
      await end();
      await server.close();
    }
  });
}
