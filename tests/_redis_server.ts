/**
 * Starts a real `redis-server` on a free 127.0.0.1 port for the Redis tests,
 * and stops (or restarts) it afterwards.
 *
 * When `redis-server` is missing the Redis tests are skipped with a printed
 * reason, except with `CI=true`, where they fail: CI must exercise them.
 *
 * @module
 */

import {
  freePort,
  pollUntilReady,
  readWithin,
  serverAvailable,
  serverProcess,
} from "./_server_process.ts";

export { freePort };

/** A running (or stopped, restartable) redis-server owned by a test. */
export interface RedisServer {
  /** The port it listens on, on 127.0.0.1; kept across restarts. */
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Kills the server (SIGTERM, so an append-only file is flushed). */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory; waits for PING. */
  start(): Promise<void>;
  /** Stops the server if running and removes its directory. */
  close(): Promise<void>;
}

/** Options for {@linkcode startRedisServer}. */
export interface RedisServerOptions {
  /**
   * Persist every write to an append-only file (`appendfsync always`), so
   * a stop and start loses nothing.
   * @default {false}
   */
  persistent?: boolean;
  /** More `redis-server` arguments, such as `["--replicaof", "127.0.0.1", "6379"]`. */
  args?: readonly string[];
}

/** The redis-server binary, or null when none is installed. */
export const redisServerPath: string | null = await findRedisServer();

/**
 * Decides whether a file's Redis tests run. When redis-server is missing it
 * registers a stand-in test instead: an ignored one with the reason printed,
 * or, with `CI=true`, a failing one.
 *
 * @param suite What the skipped tests cover, for the stand-in's name.
 * @returns Whether redis-server is available.
 */
export function redisAvailable(suite: string): boolean {
  return serverAvailable(redisServerPath !== null, suite, {
    name: "redis-server",
    tests: "Redis",
    reason:
      "redis-server was not found (looked in $REDIS_SERVER and on $PATH); install it, e.g. apt-get install redis-server",
  });
}

/**
 * Starts redis-server on a free port in a fresh temporary directory and
 * waits until it answers PING.
 *
 * @param options Whether to persist writes across a restart.
 * @returns The running server.
 */
export async function startRedisServer(
  options: RedisServerOptions = {},
): Promise<RedisServer> {
  const binary = redisServerPath;
  if (binary === null) throw new Error("redis-server is not installed");
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "atproto_sessions_redis_" });
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--daemonize",
    "no",
    "--logfile",
    "",
    ...(options.persistent
      ? ["--appendonly", "yes", "--appendfsync", "always"]
      : ["--appendonly", "no"]),
    ...(options.args ?? []),
  ];
  const server = serverProcess({
    name: "redis-server",
    command: binary,
    args,
    // SIGTERM, so an append-only file is flushed.
    stopSignal: "SIGTERM",
    ready: (child) => waitForPing(port, child),
  });
  await server.start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: server.stop,
    start: server.start,
    async close(): Promise<void> {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/**
 * Looks for redis-server: `$REDIS_SERVER` when set (authoritative, so
 * `REDIS_SERVER=/nonexistent` simulates a machine without it), else `$PATH`
 * and the usual install locations.
 */
async function findRedisServer(): Promise<string | null> {
  const explicit = Deno.env.get("REDIS_SERVER");
  const candidates = explicit ? [explicit] : [
    ...(Deno.env.get("PATH") ?? "").split(":").filter(Boolean).map((dir) =>
      `${dir}/redis-server`
    ),
    "/usr/bin/redis-server",
    "/usr/local/bin/redis-server",
  ];
  for (const path of candidates) {
    try {
      if ((await Deno.stat(path)).isFile) return path;
    } catch {
      // Not there.
    }
  }
  return null;
}

/**
 * Polls with a raw RESP PING until the server answers +PONG.
 *
 * @param port The server's port on 127.0.0.1.
 * @param child The server process, to stop waiting if it exits.
 */
export function waitForPing(
  port: number,
  child: Deno.ChildProcess,
): Promise<void> {
  return pollUntilReady(child, {
    name: "redis-server",
    port,
    before: "answering PING",
    failure: "did not answer PING",
    timeoutMs: 10_000,
    intervalMs: 25,
    async probe(): Promise<boolean> {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await conn.write(new TextEncoder().encode("PING\r\n"));
        const buffer = new Uint8Array(16);
        const read = await readWithin(conn, buffer);
        const reply = new TextDecoder().decode(buffer.subarray(0, read ?? 0));
        return reply.startsWith("+PONG");
      } finally {
        conn.close();
      }
    },
  });
}
