// deno-lint-ignore-file no-console
/**
 * Ratios that hold up on a machine whose speed swings: the target and its
 * baselines run interleaved in short blocks (a few milliseconds each,
 * rotating which goes first), and each round yields a ratio between
 * neighbours in time. Prints the median and p10-p90 of those per-round
 * ratios and the median ops/s, as Markdown.
 *
 * Then counts the store round trips of one request per case, at the
 * transport (a counting Redis `command` function and `Deno.Kv`).
 *
 *     deno task bench:ratios [--rounds=250] [--block-ms=3] [--only=hot,cold] [--no-redis]
 *
 * @module
 */

import { buildScenarios, type Operation, type Scenario } from "./_scenarios.ts";
import { describeMachine } from "./_machine.ts";
import { buildStoreScenarios, type RoundTrips } from "./_store_scenarios.ts";

interface Settings {
  rounds: number;
  blockMs: number;
  only: Set<string> | null;
  redis: boolean;
}

function parseArgs(args: readonly string[]): Settings {
  const settings: Settings = {
    rounds: 250,
    blockMs: 3,
    only: null,
    redis: true,
  };
  for (const arg of args) {
    // `deno task bench:ratios -- --only=...` passes the "--" through.
    if (arg === "--") continue;
    const [key, value = ""] = arg.split("=", 2);
    if (key === "--rounds") settings.rounds = Number(value);
    else if (key === "--block-ms") settings.blockMs = Number(value);
    else if (key === "--only") settings.only = new Set(value.split(","));
    else if (key === "--no-redis") settings.redis = false;
    else throw new Error(`Unknown argument ${arg}`);
  }
  if (!(settings.rounds >= 5 && settings.blockMs > 0)) {
    throw new Error("--rounds must be at least 5 and --block-ms positive");
  }
  return settings;
}

async function timeBlock(op: Operation, count: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < count; i++) await op();
  return performance.now() - start;
}

/** Runs `op` for about `ms` and returns the mean time per op. */
async function warmUp(op: Operation, ms: number): Promise<number> {
  let count = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    await op();
    count++;
  }
  return (performance.now() - start) / count;
}

function quantile(sorted: readonly number[], q: number): number {
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  const a = sorted[low] as number;
  const b = sorted[high] as number;
  return a + (b - a) * (position - low);
}

interface Summary {
  median: number;
  p10: number;
  p90: number;
}

function summarise(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: quantile(sorted, 0.5),
    p10: quantile(sorted, 0.1),
    p90: quantile(sorted, 0.9),
  };
}

interface Measured {
  scenario: Scenario;
  /** Per implementation, per round: milliseconds per op. */
  perOp: Map<string, number[]>;
}

async function measure(
  scenario: Scenario,
  settings: Settings,
): Promise<Measured> {
  const counts = new Map<string, number>();
  for (const [name, op] of scenario.impls) {
    const msPerOp = await warmUp(op, 300);
    counts.set(name, Math.max(1, Math.round(settings.blockMs / msPerOp)));
  }
  const perOp = new Map<string, number[]>(
    scenario.impls.map(([name]) => [name, []]),
  );
  const impls = scenario.impls;
  for (let round = 0; round < settings.rounds; round++) {
    for (let k = 0; k < impls.length; k++) {
      const [name, op] = impls[(round + k) % impls.length]!;
      const count = counts.get(name)!;
      perOp.get(name)!.push(await timeBlock(op, count) / count);
    }
  }
  return { scenario, perOp };
}

function formatNumber(value: number): string {
  if (value >= 100) return Math.round(value).toLocaleString("en-US");
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function formatOps(msPerOp: number, requestsPerOp: number): string {
  return formatNumber(requestsPerOp * 1000 / msPerOp);
}

function report(results: readonly Measured[], settings: Settings): string {
  const lines: string[] = [];
  lines.push(
    `Machine: ${describeMachine()}`,
    "",
    `${settings.rounds} rounds of interleaved ~${settings.blockMs} ms blocks per scenario, rotating which runs first. Ratio: per round, then median (p10-p90) over rounds. Quiet ratio: between each implementation's fastest 10% of blocks (the least contended). req/s: median over rounds.`,
    "",
    "| Scenario | Ratio | Median (p10-p90) | Quiet ratio | Goal | Met | Package req/s | Other req/s |",
    "| --- | --- | --- | --- | --- | --- | ---: | ---: |",
  );
  for (const { scenario, perOp } of results) {
    const target = perOp.get(scenario.impls[0]![0])!;
    for (const spec of scenario.ratios) {
      const other = perOp.get(spec.against)!;
      const ratios = target.map((t, i) =>
        spec.kind === "speedup" ? other[i]! / t : t / other[i]!
      );
      const { median, p10, p90 } = summarise(ratios);
      // The fastest blocks of each ran when nothing else wanted the CPU.
      const quietTarget = summarise(target).p10;
      const quietOther = summarise(other).p10;
      const quiet = spec.kind === "speedup"
        ? quietOther / quietTarget
        : quietTarget / quietOther;
      const compared = spec.kind === "speedup"
        ? `speed-up over ${spec.against}`
        : `time / ${spec.against}'s time`;
      let goal = "";
      let met = "";
      if (spec.goal !== undefined) {
        goal = spec.kind === "speedup"
          ? `>= ${spec.goal}x`
          : `<= ${spec.goal}x`;
        met =
          (spec.kind === "speedup" ? median >= spec.goal : median <= spec.goal)
            ? "yes"
            : "**no**";
      }
      const targetOps = formatOps(
        summarise(target).median,
        scenario.requestsPerOp,
      );
      const otherOps = formatOps(
        summarise(other).median,
        scenario.requestsPerOp,
      );
      const spread = `${formatNumber(p10)}-${formatNumber(p90)}`;
      lines.push(
        `| ${scenario.title} | ${compared} | ${
          formatNumber(median)
        }x (${spread}) | ${
          formatNumber(quiet)
        }x | ${goal} | ${met} | ${targetOps} | ${otherOps} |`,
      );
    }
  }
  lines.push(
    "",
    "| Scenario | " +
      "Implementation | Median req/s | Median time per request |",
    "| --- | --- | ---: | ---: |",
  );
  for (const { scenario, perOp } of results) {
    for (const [name] of scenario.impls) {
      const ms = summarise(perOp.get(name)!).median / scenario.requestsPerOp;
      const time = ms >= 1
        ? `${ms.toFixed(2)} ms`
        : `${(ms * 1000).toFixed(ms * 1000 >= 10 ? 0 : 2)} µs`;
      lines.push(
        `| ${scenario.title} | ${name} | ${formatOps(ms, 1)} | ${time} |`,
      );
    }
  }
  return lines.join("\n");
}

function roundTripReport(counts: readonly RoundTrips[]): string {
  const cell = (trips: readonly string[]): string =>
    `${trips.length} (${trips.join(", ") || "none"})`;
  const lines = [
    "",
    "Store round trips of one request, counted at the transport:",
    "",
    "| Store | Hot cookie | Refresh due | Old secret id (re-seal) | Hot Bearer token |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const count of counts) {
    lines.push(
      `| ${count.store} | ${cell(count.hot)} | ${cell(count.refresh)} | ${
        cell(count.rotation)
      } | ${cell(count.bearer)} |`,
    );
  }
  return lines.join("\n");
}

const settings = parseArgs(Deno.args);
const stores = await buildStoreScenarios({ redis: settings.redis });
try {
  const scenarios = [...await buildScenarios(), ...stores.scenarios].filter((
    s,
  ) => settings.only === null || settings.only.has(s.id));
  const results: Measured[] = [];
  for (const scenario of scenarios) {
    console.error(`Measuring ${scenario.id}...`);
    results.push(await measure(scenario, settings));
  }
  console.log(report(results, settings));
  console.log(roundTripReport(await stores.roundTrips()));
} finally {
  await stores.close();
}
