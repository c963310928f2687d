// deno-lint-ignore-file no-console -- a dev fixture: it explains skips
/**
 * A real local AT Protocol network for tests and the demo: a PLC directory
 * and Bluesky's reference PDS (with its real OAuth server and sign-in UI),
 * run by Node 22 from a cache folder (see `install.ts`) as one child process
 * (`network.mjs`), on 127.0.0.1.
 *
 * ```ts ignore
 * import { atprotoNetworkAvailable, startAtprotoNetwork } from "../../dev/pds/mod.ts";
 *
 * if (atprotoNetworkAvailable("OAuth tests")) {
 *   Deno.test("OAuth sign-in works against a real PDS", async () => {
 *     await using network = await startAtprotoNetwork();
 *     network.accounts.alice!.did; // "did:plc:…"
 *   });
 * }
 * ```
 *
 * Tests do not install the network themselves (a first install takes
 * minutes): run `deno task pds:install` once, as `.ci/run` does. When it is
 * not installed, {@linkcode atprotoNetworkAvailable} skips the suite with a
 * printed reason, except with `CI=true`, where the suite fails.
 * {@linkcode startAtprotoNetwork} installs on demand (a no-op when
 * installed), which suits the demo.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import {
  ensureAtprotoNetworkInstalled,
  installedAtprotoNetworkDir,
  nodeBinary,
} from "./install.ts";

export {
  ensureAtprotoNetworkInstalled,
  type InstallOptions,
} from "./install.ts";

/** An account seeded on the PDS. */
export interface AtprotoAccount {
  /** The account's `did:plc:…`. */
  readonly did: string;
  /** Its handle, e.g. `alice.test`. */
  readonly handle: string;
  /** Its password, for the PDS's sign-in form. */
  readonly password: string;
  /** Its email address. */
  readonly email: string;
}

/** An account to create: only the name is required. */
export interface AccountSpec {
  /** The key in {@linkcode AtprotoNetwork.accounts}, e.g. `"alice"`. */
  name: string;
  /**
   * The handle.
   * @default {`${name}.test`}
   */
  handle?: string;
  /**
   * The email address.
   * @default {`${name}@test.com`}
   */
  email?: string;
  /**
   * The password.
   * @default {`${name}-password`}
   */
  password?: string;
}

/** Options for {@linkcode startAtprotoNetwork}. */
export interface AtprotoNetworkOptions {
  /**
   * Accounts to create.
   * @default {[{ name: "alice" }, { name: "bob" }]}
   */
  accounts?: AccountSpec[];
  /**
   * The PDS's port (its OAuth issuer is `http://localhost:<port>`).
   * @default {a free port}
   */
  pdsPort?: number;
  /**
   * The PLC directory's port.
   * @default {a free port}
   */
  plcPort?: number;
  /**
   * How long to wait for the network to be up, in milliseconds.
   * @default {60_000}
   */
  timeoutMs?: number;
  /**
   * Copy the network's output (stderr) to this process's stderr, as
   * `ATPROTO_NETWORK_DEBUG=1` does.
   * @default {false}
   */
  debug?: boolean;
}

/** A running local network. `await using` closes it. */
export interface AtprotoNetwork extends AsyncDisposable {
  /** `http://localhost:<port>`: the PDS, its OAuth issuer and handle resolver. */
  readonly pdsUrl: string;
  /** `http://localhost:<port>`: the PLC directory. */
  readonly plcUrl: string;
  /** The seeded accounts by name (`alice`, `bob` by default). */
  readonly accounts: Readonly<Record<string, AtprotoAccount>>;
  /** The PID of the Node process running the network. */
  readonly pid: number;
  /**
   * Takes the PDS off the network: its port refuses connections and open
   * connections are closed. Data, keys and OAuth grants are kept.
   */
  stopPds(): Promise<void>;
  /** Puts the PDS back on the same port, with the same data. */
  startPds(): Promise<void>;
  /**
   * Deletes every OAuth grant the PDS holds for the account, as the user
   * revoking the app on the PDS's account page does. Its access tokens stop
   * working at once and refreshing answers `invalid_grant`.
   *
   * @param did The account's DID.
   * @returns How many grants were deleted.
   */
  revokeOAuth(did: string): Promise<number>;
  /** Stops the network (SIGTERM to its PID, SIGKILL after 10 s) and waits. */
  close(): Promise<void>;
}

/** The install folder, or null when the network is not installed. */
export const installedNetworkDir: string | null =
  await installedAtprotoNetworkDir();

/**
 * Decides whether a file's tests that need the local network run. When it is
 * not installed it registers a stand-in test instead: an ignored one with the
 * reason printed, or, with `CI=true`, a failing one.
 *
 * @param suite What the skipped tests cover, for the stand-in's name.
 * @returns Whether the network is installed.
 */
export function atprotoNetworkAvailable(suite: string): boolean {
  if (installedNetworkDir !== null) return true;
  const reason =
    "the local AT Protocol network is not installed; run `deno task pds:install` once (about 4 minutes; see dev/pds/README.md)";
  if (Deno.env.get("CI") === "true") {
    Deno.test(
      `${suite}: the local AT Protocol network is required when CI=true`,
      () => {
        throw new Error(
          `The ${
            reason.slice(4)
          }. CI=true, so these tests must run rather than be skipped: .ci/run installs it before the tests`,
        );
      },
    );
  } else {
    console.warn(`Skipping ${suite}: ${reason}`);
    Deno.test({
      name: `${suite} (skipped: local AT Protocol network not installed)`,
      ignore: true,
      fn() {},
    });
  }
  return false;
}

const NETWORK_SCRIPT = fileURLToPath(new URL("network.mjs", import.meta.url));
const STDERR_KEEP = 16_000;

/**
 * Starts a PLC directory and a PDS with seeded accounts, installing the
 * network first if needed.
 *
 * @param options Accounts, ports and the start deadline.
 * @returns The running network.
 * @throws {Error} When it does not come up in time or exits; the message
 * holds the tail of its stderr.
 */
export async function startAtprotoNetwork(
  options: AtprotoNetworkOptions = {},
): Promise<AtprotoNetwork> {
  const dir = await ensureAtprotoNetworkInstalled();
  const debug = options.debug ?? Deno.env.get("ATPROTO_NETWORK_DEBUG") === "1";
  // The PDS keeps its databases and blobs under $TMPDIR and never deletes
  // them: give it a folder of its own and remove it at close.
  const tmp = await Deno.makeTempDir({ prefix: "atproto_network_" });
  const child = new Deno.Command(nodeBinary(dir), {
    args: [
      NETWORK_SCRIPT,
      JSON.stringify({
        accounts: options.accounts ?? [{ name: "alice" }, { name: "bob" }],
        ...(options.pdsPort ? { pdsPort: options.pdsPort } : {}),
        ...(options.plcPort ? { plcPort: options.plcPort } : {}),
      }),
    ],
    env: {
      ATPROTO_NETWORK_DIR: dir,
      TMPDIR: tmp,
      LOG_ENABLED: debug ? "true" : "false",
      NODE_NO_WARNINGS: "1",
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  let stderr = "";
  const stderrDone = (async () => {
    for await (
      const chunk of child.stderr.pipeThrough(new TextDecoderStream())
    ) {
      if (debug) Deno.stderr.writeSync(new TextEncoder().encode(chunk));
      stderr = (stderr + chunk).slice(-STDERR_KEEP);
    }
  })();

  const messages = new MessageQueue();
  const stdoutDone = (async () => {
    let buffer = "";
    for await (
      const chunk of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        const message = parseMessage(line);
        if (message !== null) messages.push(message);
      }
    }
  })().finally(() => messages.end());

  const stdin = child.stdin.getWriter();
  let exited = false;
  const status = child.status.then((status) => {
    exited = true;
    return status;
  });

  let closed: Promise<void> | null = null;
  function close(): Promise<void> {
    closed ??= (async () => {
      await stdin.close().catch(() => {});
      if (!exited) {
        try {
          Deno.kill(child.pid, "SIGTERM");
        } catch {
          // Already gone.
        }
      }
      const timer = setTimeout(() => {
        try {
          Deno.kill(child.pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }, 10_000);
      try {
        await status;
        await Promise.all([stdoutDone, stderrDone]);
      } finally {
        clearTimeout(timer);
        await Deno.remove(tmp, { recursive: true }).catch(() => {});
      }
    })();
    return closed;
  }

  function failure(what: string): Error {
    return new Error(
      `The local AT Protocol network (pid ${child.pid}, ${NETWORK_SCRIPT}) ${what}; its stderr ends with:\n${
        stderr.trim().split("\n").slice(-30).join("\n") || "(nothing)"
      }`,
    );
  }

  const timeoutMs = options.timeoutMs ?? 60_000;
  let ready: Record<string, unknown>;
  try {
    const first = await messages.next(timeoutMs);
    if (first === "timeout") {
      throw failure(`did not report ready within ${timeoutMs} ms`);
    }
    if (first === "end" || !("pdsUrl" in first)) {
      await status;
      await stderrDone;
      throw failure(
        `exited with code ${(await status).code} before reporting ready`,
      );
    }
    ready = first;
  } catch (error) {
    await close();
    throw error;
  }

  let commands = Promise.resolve();
  function command(line: string): Promise<Record<string, unknown>> {
    const result = commands.then(async () => {
      if (closed !== null) throw new Error("The network is closed");
      await stdin.write(new TextEncoder().encode(`${line}\n`));
      const reply = await messages.next(30_000);
      if (reply === "timeout") throw failure(`did not answer "${line}"`);
      if (reply === "end") throw failure(`exited while running "${line}"`);
      if (reply.ok !== true) {
        throw new Error(`"${line}" failed in the network: ${reply.error}`);
      }
      return reply;
    });
    commands = result.then(() => {}, () => {});
    return result;
  }

  return {
    pdsUrl: ready.pdsUrl as string,
    plcUrl: ready.plcUrl as string,
    accounts: ready.accounts as Record<string, AtprotoAccount>,
    pid: child.pid,
    async stopPds(): Promise<void> {
      await command("stop-pds");
    },
    async startPds(): Promise<void> {
      await command("start-pds");
    },
    async revokeOAuth(did: string): Promise<number> {
      if (!/^did:[a-z]+:[A-Za-z0-9._:%-]+$/.test(did)) {
        throw new TypeError(`Not a DID: ${JSON.stringify(did)}`);
      }
      return (await command(`revoke-oauth ${did}`)).revoked as number;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

function parseMessage(line: string): Record<string, unknown> | null {
  if (!line.startsWith("{")) return null;
  try {
    const value: unknown = JSON.parse(line);
    if (
      typeof value === "object" && value !== null &&
      ("pdsUrl" in value || "reply" in value)
    ) {
      return value as Record<string, unknown>;
    }
  } catch {
    // Log noise that happens to start with "{".
  }
  return null;
}

/** Lines from the child, read one at a time with a deadline. */
class MessageQueue {
  #items: Record<string, unknown>[] = [];
  #waiters: (() => void)[] = [];
  #ended = false;

  push(item: Record<string, unknown>): void {
    this.#items.push(item);
    this.#waiters.shift()?.();
  }

  end(): void {
    this.#ended = true;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  async next(
    timeoutMs: number,
  ): Promise<Record<string, unknown> | "end" | "timeout"> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const item = this.#items.shift();
      if (item !== undefined) return item;
      if (this.#ended) return "end";
      const left = deadline - Date.now();
      if (left <= 0) return "timeout";
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }
}
