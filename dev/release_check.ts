// deno-lint-ignore-file no-console
/**
 * `deno task test`: everything a release needs, as one readable summary.
 *
 * Runs, in order: `deno fmt --check`, `deno lint`, `deno task build` (the
 * Node bundle in dist/), `deno check`, the tests
 * (unit, doc, e2e, with coverage), the coverage summary of src/,
 * `deno doc --lint` and `deno publish --dry-run`. Each phase prints one line;
 * a failing phase prints its full output. Skipped and ignored tests are
 * listed at the end, so a runtime or server that was missing is never
 * buried. `--verbose` (or `VERBOSE=1`) streams every phase's output as it
 * runs. Extra arguments after `--` go to `deno test` (a file or `--filter`).
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url);
const argv = [...Deno.args];
const separator = argv.indexOf("--");
const testArgs = separator === -1 ? [] : argv.slice(separator + 1);
const flags = separator === -1 ? argv : argv.slice(0, separator);
const VERBOSE = flags.includes("--verbose") || Deno.env.get("VERBOSE") === "1";

const config = JSON.parse(
  await Deno.readTextFile(new URL("deno.json", ROOT)),
) as { exports: Record<string, string> };
const ENTRY_POINTS = Object.values(config.exports);

interface Phase {
  readonly name: string;
  readonly args: readonly string[];
  /** One line from the phase's output, for the summary. */
  readonly summarize?: (output: string) => string;
}

const TEST_PERMISSIONS = [
  "--allow-env",
  "--allow-net",
  "--allow-run",
  "--allow-read",
  "--allow-write",
  "--allow-sys",
  "--allow-ffi",
  "--unstable-kv",
];

const phases: Phase[] = [
  { name: "format", args: ["fmt", "--check"] },
  { name: "lint", args: ["lint"] },
  {
    // examples/node/server.mjs imports the bundle, so build it first.
    name: "build",
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      "dev/build.ts",
    ],
  },
  {
    name: "type-check",
    args: ["check", "mod.ts", "src/", "tests/", "bench/", "examples/", "dev/"],
    summarize: (output) =>
      `${(output.match(/^Check /gm) ?? []).length} modules checked`,
  },
  {
    name: "tests",
    args: [
      "test",
      "--doc",
      ...TEST_PERMISSIONS,
      "--coverage=coverage",
      ...(testArgs.length > 0
        ? testArgs
        : ["tests/", "src/", "mod.ts", "README.md"]),
    ],
    summarize: (output) => {
      const line = output.match(/^(?:ok|FAILED) \| .*$/m)?.[0] ?? "";
      return line.replace(/\s*\(\d[\d.]*m?s\)\s*$/, "");
    },
  },
  {
    name: "coverage of src/",
    args: ["coverage", "coverage", "--include=^file:.*/src/"],
    summarize: (output) => {
      const cells = output.match(/^\|\s*All files\s*\|(.*)\|\s*$/m)?.[1]
        ?.split("|").map((cell) => cell.trim());
      return cells === undefined
        ? ""
        : `lines ${cells[2]}%, branches ${cells[0]}%, functions ${cells[1]}%`;
    },
  },
  { name: "doc lint", args: ["doc", "--lint", ...ENTRY_POINTS] },
  {
    name: "publish dry run",
    args: ["publish", "--dry-run", "--allow-dirty"],
    summarize: (output) =>
      `${
        (output.match(/^\s+file:\/\/\S+/gm) ?? []).length
      } files would be published`,
  },
];

const decoder = new TextDecoder();
// deno-lint-ignore no-control-regex -- ANSI colour codes start with ESC
const strip = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "");

async function run(phase: Phase): Promise<{ ok: boolean; output: string }> {
  const command = new Deno.Command(Deno.execPath(), {
    args: [...phase.args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  });
  const child = command.spawn();
  let output = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true });
      output += text;
      if (VERBOSE) await Deno.stdout.write(chunk);
    }
  };
  const [status] = await Promise.all([
    child.status,
    pump(child.stdout),
    pump(child.stderr),
  ]);
  return { ok: status.success, output: strip(output) };
}

/** Tests that did not run: ignored steps and printed "Skipping" lines. */
function skipsIn(output: string): string[] {
  const skips = new Set<string>();
  for (const line of output.split("\n")) {
    const ignored = line.match(/^\s*(.*?) \.\.\. ignored\b/);
    if (ignored?.[1]) skips.add(`ignored: ${ignored[1].trim()}`);
    const skipping = line.match(/^\s*(Skipping .*)$/);
    if (skipping?.[1]) skips.add(skipping[1]);
  }
  return [...skips];
}

await Deno.remove(new URL("coverage", ROOT), { recursive: true }).catch(
  () => {},
);
const started = performance.now();
let failed = 0;
const skips: string[] = [];
let testLine = "";
for (const phase of phases) {
  const phaseStarted = performance.now();
  if (VERBOSE) console.log(`\n== ${phase.name}: deno ${phase.args.join(" ")}`);
  const { ok, output } = await run(phase);
  const seconds = ((performance.now() - phaseStarted) / 1000).toFixed(1);
  const detail = phase.summarize?.(output) ?? "";
  if (phase.name === "tests") {
    skips.push(...skipsIn(output));
    testLine = detail;
  }
  console.log(
    `${ok ? "ok  " : "FAIL"} ${phase.name.padEnd(17)} ${seconds.padStart(6)} s${
      detail ? `  ${detail}` : ""
    }`,
  );
  if (!ok) {
    failed++;
    if (!VERBOSE) {
      console.log(`---- output of deno ${phase.args.join(" ")}`);
      console.log(output.trimEnd());
      console.log("---- end of output");
    }
    // Later phases mean little once formatting, lint or types fail.
    if (phase.name !== "tests" && phase.name !== "doc lint") break;
  }
}
if (skips.length > 0) {
  console.log(`\nNot run (${skips.length}):`);
  for (const skip of skips) console.log(`  - ${skip}`);
}
const total = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `\n${
    failed === 0 ? "All checks passed" : `${failed} check(s) failed`
  } in ${total} s`,
);
// The plain count, for CI: "N passed, N failed".
const counts = testLine.match(/(\d+) passed.*?\| (\d+) failed/);
if (counts) console.log(`tests: ${counts[1]} passed, ${counts[2]} failed`);
Deno.exit(failed === 0 ? 0 : 1);
