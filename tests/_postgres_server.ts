/**
 * Starts a real PostgreSQL server on a free 127.0.0.1 port for the
 * PostgreSQL tests, and stops (or restarts) it afterwards.
 *
 * PostgreSQL refuses to run as root, so when the tests run as root the
 * server runs as the `postgres` user (its uid and gid from /etc/passwd) in
 * a temporary data directory owned by that user. It listens on 127.0.0.1
 * only, with a Unix socket in its own directory, and trades durability for
 * speed (`fsync=off`): a clean stop (SIGINT, "fast" shutdown) still writes
 * everything, so a stop and start loses nothing.
 *
 * When the binaries are missing the PostgreSQL tests are skipped with a
 * printed reason, except with `CI=true`, where they fail: CI must exercise
 * them.
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

/** A running (or stopped, restartable) PostgreSQL server owned by a test. */
export interface PostgresServer {
  /** The port it listens on, on 127.0.0.1; kept across restarts. */
  readonly port: number;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust auth). */
  readonly url: string;
  /** The postmaster's PID while running, else null. */
  readonly pid: number | null;
  /** Stops the server by PID (SIGINT: fast shutdown) and waits for it. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data; waits until it accepts. */
  start(): Promise<void>;
  /** Stops the server if running and removes its directory. */
  close(): Promise<void>;
}

/** Where the PostgreSQL binaries live, or null when none are installed. */
export const postgresBinDir: string | null = await findPostgres();

/**
 * Decides whether a file's PostgreSQL tests run. When the binaries are
 * missing it registers a stand-in test instead: an ignored one with the
 * reason printed, or, with `CI=true`, a failing one.
 *
 * @param suite What the skipped tests cover, for the stand-in's name.
 * @returns Whether PostgreSQL is available.
 */
export function postgresAvailable(suite: string): boolean {
  return serverAvailable(postgresBinDir !== null, suite, {
    name: "PostgreSQL",
    tests: "PostgreSQL",
    reason:
      "PostgreSQL was not found (looked in $POSTGRES_BIN and /usr/lib/postgresql/*/bin); install it, e.g. apt-get install postgresql",
  });
}

/**
 * Creates a fresh cluster (`initdb`) in a temporary directory, starts
 * `postgres` on a free port and waits until it accepts connections.
 *
 * @returns The running server.
 */
export async function startPostgresServer(): Promise<PostgresServer> {
  const bin = postgresBinDir;
  if (bin === null) throw new Error("PostgreSQL is not installed");
  const user = await serverUser();
  const root = await Deno.makeTempDir({ prefix: "atproto_sessions_pg_" });
  const data = `${root}/data`;
  await Deno.mkdir(data, { mode: 0o700 });
  if (user !== null) {
    await Deno.chown(root, user.uid, user.gid);
    await Deno.chown(data, user.uid, user.gid);
  }
  const asUser = user === null ? {} : { uid: user.uid, gid: user.gid };
  const init = await new Deno.Command(`${bin}/initdb`, {
    args: [
      "-D",
      data,
      "-U",
      "postgres",
      "-A",
      "trust",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
      "--no-instructions",
    ],
    ...asUser,
    env: { LC_ALL: "C" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!init.success) {
    await Deno.remove(root, { recursive: true });
    throw new Error(
      `initdb failed: ${new TextDecoder().decode(init.stderr).trim()}`,
    );
  }
  const port = freePort();
  const args = [
    "-D",
    data,
    "-p",
    String(port),
    "-h",
    "127.0.0.1",
    "-k",
    root,
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
    "-c",
    "shared_buffers=16MB",
    "-c",
    "max_connections=60",
    "-c",
    "logging_collector=off",
    "-c",
    "log_min_messages=fatal",
  ];
  const server = serverProcess({
    name: "postgres",
    command: `${bin}/postgres`,
    args,
    spawn: { ...asUser, env: { LC_ALL: "C" } },
    // SIGINT is PostgreSQL's "fast" shutdown: ends the sessions, writes a
    // checkpoint and exits.
    stopSignal: "SIGINT",
    ready: (child) => waitForAccept(port, child),
  });
  await server.start();
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    get pid(): number | null {
      return server.pid;
    },
    stop: server.stop,
    start: server.start,
    async close(): Promise<void> {
      await server.stop();
      await Deno.remove(root, { recursive: true });
    },
  };
}

/**
 * Looks for the binaries: `$POSTGRES_BIN` when set (authoritative, so
 * `POSTGRES_BIN=/nonexistent` simulates a machine without them), else the
 * newest Debian `/usr/lib/postgresql/<version>/bin`.
 */
async function findPostgres(): Promise<string | null> {
  const explicit = Deno.env.get("POSTGRES_BIN");
  const candidates: string[] = [];
  if (explicit) {
    candidates.push(explicit);
  } else {
    try {
      const versions: number[] = [];
      for await (const entry of Deno.readDir("/usr/lib/postgresql")) {
        if (/^\d+$/.test(entry.name)) versions.push(Number(entry.name));
      }
      versions.sort((a, b) => b - a);
      for (const v of versions) candidates.push(`/usr/lib/postgresql/${v}/bin`);
    } catch {
      // No Debian layout.
    }
  }
  for (const dir of candidates) {
    try {
      if (
        (await Deno.stat(`${dir}/postgres`)).isFile &&
        (await Deno.stat(`${dir}/initdb`)).isFile
      ) return dir;
    } catch {
      // Not there.
    }
  }
  return null;
}

/**
 * The `postgres` user's ids when running as root (PostgreSQL refuses root),
 * else null: the server runs as the current user.
 */
async function serverUser(): Promise<{ uid: number; gid: number } | null> {
  if (Deno.uid() !== 0) return null;
  const passwd = await Deno.readTextFile("/etc/passwd");
  for (const line of passwd.split("\n")) {
    const [name, , uid, gid] = line.split(":");
    if (name === "postgres" && uid && gid) {
      return { uid: Number(uid), gid: Number(gid) };
    }
  }
  throw new Error(
    "Running as root but there is no postgres user to run PostgreSQL as; install the postgresql package, which creates it",
  );
}

/**
 * Polls with a protocol-level SSLRequest until the server answers it (one
 * byte, `N`): it then accepts connections. (While starting up it accepts the
 * TCP connection but closes it.)
 */
function waitForAccept(
  port: number,
  child: Deno.ChildProcess,
): Promise<void> {
  // SSLRequest: length 8, code 80877103.
  const sslRequest = new Uint8Array([0, 0, 0, 8, 4, 210, 22, 47]);
  return pollUntilReady(child, {
    name: "postgres",
    port,
    before: "accepting connections",
    failure: "did not accept connections",
    timeoutMs: 20_000,
    intervalMs: 50,
    async probe(): Promise<boolean> {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await conn.write(sslRequest);
        const buffer = new Uint8Array(1);
        const read = await readWithin(conn, buffer);
        return read === 1 && buffer[0] === 78 /* N */ && await ready(port);
      } finally {
        conn.close();
      }
    },
  });
}

/**
 * Sends a StartupMessage for user and database `postgres` and reads the
 * first reply: `R` (authentication) means ready; `E` (e.g. "the database
 * system is starting up") means not yet.
 */
async function ready(port: number): Promise<boolean> {
  const encoder = new TextEncoder();
  const body = encoder.encode("user\0postgres\0database\0postgres\0\0");
  const message = new Uint8Array(8 + body.length);
  const view = new DataView(message.buffer);
  view.setInt32(0, message.length);
  view.setInt32(4, 196608); // protocol 3.0
  message.set(body, 8);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(message);
    const buffer = new Uint8Array(1);
    const read = await readWithin(conn, buffer);
    return read === 1 && buffer[0] === 82; /* R */
  } finally {
    conn.close();
  }
}
