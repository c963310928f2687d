/**
 * Fixtures for the Deno KV store's own tests: v2 records, a database file
 * shared by several handles, a round-trip counting `Deno.Kv`, and a second
 * `deno` process running `deno_kv_process.ts`.
 *
 * @module
 */

// The same clock, DID and record builder as the shared contract suites.
export { DID, HOUR, NOW, record } from "./store_contract.ts";

/**
 * Opens a local database file, retrying while another process holds the
 * lock (`Deno.openKv` itself can answer "database is locked").
 *
 * @param path The file.
 * @returns The open database.
 */
export async function openKvFile(path: string): Promise<Deno.Kv> {
  for (let attempt = 1;; attempt++) {
    try {
      return await Deno.openKv(path);
    } catch (error) {
      if (attempt >= 50 || !/locked/i.test(String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 * Math.random()));
    }
  }
}

/** A temporary database file and the handles opened on it. */
export interface SharedKvFile {
  /** The file's path. */
  readonly path: string;
  /** Opens one more handle on it (closed by `close`). */
  open(): Promise<Deno.Kv>;
  /** Closes every handle and removes the file. */
  close(): Promise<void>;
}

/**
 * Creates a database file in a fresh temporary directory.
 *
 * @returns The file's handle factory.
 */
export async function sharedKvFile(): Promise<SharedKvFile> {
  const dir = await Deno.makeTempDir({ prefix: "deno_kv_test_" });
  const path = `${dir}/sessions.sqlite3`;
  const handles: Deno.Kv[] = [];
  return {
    path,
    async open() {
      const kv = await openKvFile(path);
      handles.push(kv);
      return kv;
    },
    async close() {
      for (const kv of handles.splice(0)) kv.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Counts of the calls a {@linkcode countingKv} forwarded. */
export interface KvCalls {
  get: number;
  getMany: number;
  list: number;
  set: number;
  delete: number;
  commit: number;
}

/**
 * Wraps a database so that each network-equivalent call (one round trip
 * to a remote Deno KV) is counted.
 *
 * @param kv The database.
 * @returns The wrapper and its live counts.
 */
export function countingKv(kv: Deno.Kv): { kv: Deno.Kv; calls: KvCalls } {
  const calls: KvCalls = {
    get: 0,
    getMany: 0,
    list: 0,
    set: 0,
    delete: 0,
    commit: 0,
  };
  const wrapped = new Proxy(kv, {
    get(target, property) {
      if (property === "atomic") {
        return () => {
          const op = target.atomic();
          const commit = op.commit.bind(op);
          op.commit = () => {
            calls.commit++;
            return commit();
          };
          return op;
        };
      }
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (typeof property === "string" && property in calls) {
          calls[property as keyof KvCalls]++;
        }
        return value.apply(target, args);
      };
    },
  });
  return { kv: wrapped, calls };
}

/** What the second process reports. */
export interface ProcessResult {
  /** Calls that resolved to something (a record, a value, `rotated`). */
  readonly hits: number;
  /** Calls that resolved to null (or `rotated: false`). */
  readonly misses: number;
  /** The messages of calls that rejected. */
  readonly errors: readonly string[];
}

/** What the second process runs, `count` calls at once. */
export interface ProcessJob {
  /** The database file. */
  readonly path: string;
  /** What to call. */
  readonly op: "create" | "update" | "rotate" | "take" | "acquire";
  /** How many concurrent calls. */
  readonly count: number;
  /** The session ids to work on (`update` cycles through them). */
  readonly ids?: readonly string[];
  /** `create`'s cap. */
  readonly cap?: number;
  /** `take`'s key (in the `handoff` namespace), `acquire`'s lock name. */
  readonly key?: string;
}

/** A second `deno` process, started and waiting for {@linkcode go}. */
export interface SecondProcess {
  /** Starts its calls. */
  go(): Promise<void>;
  /** Its report once its calls settled and it exited. */
  readonly result: Promise<ProcessResult>;
}

/**
 * Starts `Deno.execPath()` on `deno_kv_process.ts` with `--unstable-kv` and
 * waits until it has opened the database and is ready.
 *
 * @param job What it should do.
 * @returns The process, ready.
 */
export async function startSecondProcess(
  job: ProcessJob,
): Promise<SecondProcess> {
  const script = new URL("./deno_kv_process.ts", import.meta.url);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--unstable-kv",
      "--allow-read",
      "--allow-write",
      script.pathname,
      JSON.stringify(job),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = readLines(child.stdout);
  const stderr = new Response(child.stderr).text();
  const first = await lines.next();
  if (first.value !== "ready") {
    const status = await child.status;
    throw new Error(
      `The second process did not start (exit ${status.code}): ${await stderr}`,
    );
  }
  const writer = child.stdin.getWriter();
  const result = (async (): Promise<ProcessResult> => {
    const report = await lines.next();
    while (!(await lines.next()).done) {
      // Drain: the process prints nothing more.
    }
    const status = await child.status;
    if (!status.success || typeof report.value !== "string") {
      throw new Error(
        `The second process failed (exit ${status.code}): ${await stderr}`,
      );
    }
    await stderr;
    return JSON.parse(report.value) as ProcessResult;
  })();
  return {
    async go() {
      await writer.write(new TextEncoder().encode("go\n"));
      await writer.close();
    },
    result,
  };
}

async function* readLines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
    }
  }
  if (buffer !== "") yield buffer;
}
