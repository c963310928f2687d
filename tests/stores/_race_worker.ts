/**
 * The parent side of the two-process race tests: spawns a worker script
 * that prints `ready`, waits for `go` on stdin, races, and prints one JSON
 * report line.
 *
 * @module
 */

/** A spawned race worker. */
export interface RaceWorker<R> {
  /** The worker process (write `go` to its stdin to start the race). */
  readonly child: Deno.ChildProcess;
  /** Resolves once the worker printed `ready`; rejects otherwise. */
  readonly ready: Promise<void>;
  /** The worker's report, once it finished. */
  readonly report: Promise<R>;
}

/**
 * Spawns `deno` with `args` (a `run` command line) as one race worker.
 *
 * @param args The arguments after `deno`.
 * @param owner The worker's name, for error messages.
 * @returns The worker.
 */
export function spawnRaceWorker<R>(
  args: readonly string[],
  owner: string,
): RaceWorker<R> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
    splitLines(),
  ).getReader();
  const ready = lines.read().then(({ value }) => {
    if (value !== "ready") {
      throw new Error(`${owner} did not start: ${value ?? "no output"}`);
    }
  });
  const report = ready.then(async () => {
    const { value } = await lines.read();
    while (!(await lines.read()).done) {
      // Drain to the end, so the pipe closes.
    }
    if (value === undefined) throw new Error(`${owner} printed no report`);
    return JSON.parse(value) as R;
  });
  // Awaited after `ready`; until then a failure is reported through `ready`.
  report.catch(() => {});
  return { child, ready, report };
}

function splitLines(): TransformStream<string, string> {
  let buffer = "";
  return new TransformStream({
    transform(chunk, controller) {
      buffer += chunk;
      const parts = buffer.split("\n");
      buffer = parts.pop() ?? "";
      for (const line of parts) if (line !== "") controller.enqueue(line);
    },
    flush(controller) {
      if (buffer !== "") controller.enqueue(buffer);
    },
  });
}
