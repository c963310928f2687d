// deno-lint-ignore-file no-console
/**
 * What the test servers (tests/_redis_server.ts, tests/_postgres_server.ts)
 * share: the CI gating of a missing binary, a free port on 127.0.0.1, and a
 * restartable server process that is stopped by PID and polled until it
 * answers.
 *
 * @module
 */

/** How a missing server binary is reported, for {@linkcode serverAvailable}. */
export interface MissingServer {
  /** The server as the test names say it ("redis-server", "PostgreSQL"). */
  readonly name: string;
  /** The tests that need it ("Redis", "PostgreSQL"). */
  readonly tests: string;
  /** Where it was looked for and how to install it. */
  readonly reason: string;
}

/**
 * Decides whether a file's tests of a server run. When the server is
 * missing it registers a stand-in test instead: an ignored one with the
 * reason printed, or, with `CI=true`, a failing one.
 *
 * @param found Whether the server's binary was found.
 * @param suite What the skipped tests cover, for the stand-in's name.
 * @param missing How to report a missing server.
 * @returns Whether the server is available.
 */
export function serverAvailable(
  found: boolean,
  suite: string,
  missing: MissingServer,
): boolean {
  if (found) return true;
  const { name, tests, reason } = missing;
  if (Deno.env.get("CI") === "true") {
    Deno.test(`${suite}: ${name} is required when CI=true`, () => {
      throw new Error(
        `${reason}. CI=true, so the ${tests} tests must run rather than be skipped`,
      );
    });
  } else {
    console.warn(`Skipping ${suite}: ${reason}`);
    Deno.test({
      name: `${suite} (skipped: ${name} not installed)`,
      ignore: true,
      fn() {},
    });
  }
  return false;
}

/**
 * A port on 127.0.0.1 that was free a moment ago.
 *
 * @returns The port.
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A server process a test starts, stops by PID, and may start again. */
export interface ServerProcess {
  /** The process's PID while running, else null. */
  readonly pid: number | null;
  /** Spawns the server and waits until it is ready; stops it if it never is. */
  start(): Promise<void>;
  /** Sends the stop signal to the PID, if running, and waits for the exit. */
  stop(): Promise<void>;
}

/** Options of {@linkcode serverProcess}. */
export interface ServerProcessOptions {
  /** The server's name, for messages. */
  readonly name: string;
  /** The binary. */
  readonly command: string;
  /** Its arguments, the same at every start. */
  readonly args: readonly string[];
  /** The user and environment to run it with. */
  readonly spawn?: Pick<Deno.CommandOptions, "uid" | "gid" | "env">;
  /** The signal `stop()` sends. */
  readonly stopSignal: Deno.Signal;
  /** Resolves once the freshly spawned process answers; rejects if not. */
  readonly ready: (child: Deno.ChildProcess) => Promise<void>;
}

/**
 * A server process, not yet started, with its output discarded.
 *
 * @param options The binary, its arguments, the stop signal and readiness.
 * @returns The process's controls.
 */
export function serverProcess(options: ServerProcessOptions): ServerProcess {
  let child: Deno.ChildProcess | null = null;

  async function stop(): Promise<void> {
    const running = child;
    if (running === null) return;
    child = null;
    try {
      Deno.kill(running.pid, options.stopSignal);
    } catch {
      // Already exited.
    }
    await running.status;
  }

  return {
    get pid(): number | null {
      return child?.pid ?? null;
    },
    async start(): Promise<void> {
      if (child !== null) throw new Error(`${options.name} is already running`);
      child = new Deno.Command(options.command, {
        args: [...options.args],
        ...options.spawn,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        await options.ready(child);
      } catch (error) {
        await stop();
        throw error;
      }
    },
    stop,
  };
}

/** How long one probe waits for a server's first reply. */
export const PROBE_READ_MS = 1000;

/**
 * Reads once from a probe's connection, giving up after
 * {@linkcode PROBE_READ_MS}: a server that accepted the connection but
 * never answers (still starting, or not the server we think) must not
 * stall the poll, whose deadline is checked only between probes. The
 * caller closes `conn` either way, which ends a read still pending.
 *
 * @param conn The probe's connection.
 * @param buffer Where the reply goes.
 * @returns The bytes read, or null at end of stream or on timeout.
 */
export async function readWithin(
  conn: Deno.Conn,
  buffer: Uint8Array,
): Promise<number | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const read = conn.read(buffer);
  try {
    return await Promise.race([
      read,
      new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), PROBE_READ_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    // The caller's close rejects a read still pending; nothing waits on it.
    read.catch(() => {});
  }
}

/** Options of {@linkcode pollUntilReady}. */
export interface PollOptions {
  /** The server's name, for messages. */
  readonly name: string;
  /** The port it should listen on, for the message when it never does. */
  readonly port: number;
  /** What it does once ready, after "before": "answering PING". */
  readonly before: string;
  /** What it failed to do, after the name: "did not answer PING". */
  readonly failure: string;
  /** How long to keep trying. */
  readonly timeoutMs: number;
  /** The pause between tries. */
  readonly intervalMs: number;
  /** One try: resolves to whether the server is ready; may reject (not yet). */
  readonly probe: () => Promise<boolean>;
}

/**
 * Polls `probe` until it answers true, the process exits, or time runs
 * out.
 *
 * @param child The server process, to stop waiting if it exits.
 * @param options The probe, timings and message parts.
 * @throws {Error} When the process exits first or time runs out.
 */
export async function pollUntilReady(
  child: Deno.ChildProcess,
  options: PollOptions,
): Promise<void> {
  let done = false;
  const exited = child.status.then((status) => {
    done = true;
    return status;
  });
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline) {
    if (done) {
      throw new Error(
        `${options.name} exited with code ${
          (await exited).code
        } before ${options.before}`,
      );
    }
    try {
      if (await options.probe()) return;
    } catch {
      // Not listening yet, or still starting up.
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  }
  throw new Error(`${options.name} ${options.failure} on port ${options.port}`);
}
