// deno-lint-ignore-file no-console
/**
 * Retained heap after feeding many distinct valid cookies through one
 * manager: the verified-seal cache must stay bounded. Each cookie is due
 * for a sliding refresh, so every request unseals, re-seals and caches both
 * seals. The heap is measured after a forced full GC, before and after;
 * RSS alone says nothing about what the manager retains. A second run sends
 * a few kilobytes of other cookies beside the session, as browsers do, to
 * show whether the cache keeps whole headers alive.
 *
 *     deno run --allow-read --allow-env --allow-sys --v8-flags=--expose-gc \
 *       bench/memory.ts [--count=200000]
 *
 * @module
 */

import { SessionManager } from "../mod.ts";
import { describeMachine } from "./_machine.ts";
import { type AppFields, SECRET, T0 } from "./_scenarios.ts";

const GOAL_MB = 20;
const BATCH = 500;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error("Run with --v8-flags=--expose-gc so the heap can be measured");
  Deno.exit(2);
}

function retainedHeap(): number {
  // Two passes: the first may only schedule finalisation of weak objects.
  gc!();
  gc!();
  return Deno.memoryUsage().heapUsed;
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(2);
}

interface Outcome {
  label: string;
  before: number;
  after: number;
  seconds: number;
}

/**
 * Other cookies a browser sends beside the session: analytics and consent
 * cookies easily add a few kilobytes to every Cookie header.
 */
const OTHER_COOKIES = Array.from(
  { length: 16 },
  (_, i) => `_tracker${i}=${"x".repeat(240)}`,
).join("; ");

async function feed(
  label: string,
  count: number,
  { cacheSize, bigHeader }: { cacheSize?: number; bigHeader: boolean },
): Promise<Outcome> {
  // Seals minted two hours earlier: valid, and due for a refresh.
  const minter = new SessionManager<AppFields>({
    cookieSecret: SECRET,
    cacheSize: 0,
    now: () => T0 - 2 * 60 * 60 * 1000,
  });
  const manager = new SessionManager({
    cookieSecret: SECRET,
    now: () => T0,
    ...(cacheSize === undefined ? {} : { cacheSize }),
  });
  let next = 0;
  const batch = async (): Promise<void> => {
    const cookies = await Promise.all(
      Array.from({ length: BATCH }, () => {
        const i = next++;
        return minter.createSession({
          did: `did:web:user${i}.example.com`,
          handle: `user${i}.example.com`,
        });
      }),
    );
    const results = await Promise.all(
      cookies.map((setCookie) =>
        manager.getSessionFromRequest(
          new Request("https://app.example/", {
            headers: {
              cookie: bigHeader
                ? `${OTHER_COOKIES}; ${
                  setCookie.slice(0, setCookie.indexOf(";"))
                }`
                : setCookie.slice(0, setCookie.indexOf(";")),
            },
          }),
        )
      ),
    );
    for (const result of results) {
      if (result.error !== null) {
        throw new Error(`A valid cookie was rejected: ${result.error.type}`);
      }
    }
  };
  // Warm up code paths (and their compiled code) before the baseline.
  await batch();
  const before = retainedHeap();
  const start = performance.now();
  while (next < count) await batch();
  const seconds = (performance.now() - start) / 1000;
  const after = retainedHeap();
  // Keep the manager alive until after the measurement.
  if (manager.getClearCookieHeader() === "") throw new Error("unreachable");
  return { label, before, after, seconds };
}

const VARIANTS = {
  bare: ["default options, Cookie header of the session alone", {
    bigHeader: false,
  }],
  big: [
    `default options, ${
      (OTHER_COOKIES.length / 1024).toFixed(1)
    } KB of other cookies in the header`,
    { bigHeader: true },
  ],
  uncached: ["cacheSize: 0, the same big header", {
    cacheSize: 0,
    bigHeader: true,
  }],
} as const;
type Variant = keyof typeof VARIANTS;

interface Job {
  variant: Variant;
  count: number;
}

// Each variant runs in its own worker, so its own V8 heap: what one run
// leaves behind cannot be collected during, and hide growth in, the next.
if ("WorkerGlobalScope" in globalThis) {
  const scope = globalThis as unknown as {
    name: string;
    postMessage(message: Outcome): void;
    close(): void;
  };
  const { variant, count } = JSON.parse(scope.name) as Job;
  const [label, options] = VARIANTS[variant];
  const outcome = await feed(label, count, options);
  scope.postMessage(outcome);
  scope.close();
} else {
  await main();
}

function runWorker(job: Job): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(import.meta.url, {
      type: "module",
      name: JSON.stringify(job),
    });
    worker.onmessage = (event: MessageEvent<Outcome>) => {
      worker.terminate();
      resolve(event.data);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      worker.terminate();
      reject(new Error(`Worker failed: ${event.message}`));
    };
  });
}

async function main(): Promise<void> {
  let count = 200_000;
  for (const arg of Deno.args) {
    const [key, value] = arg.split("=", 2);
    if (key === "--count" && Number(value) >= 2 * BATCH) count = Number(value);
    else throw new Error(`Unknown argument ${arg}`);
  }
  console.error(
    `Feeding ${count} distinct cookies through each of ${
      Object.keys(VARIANTS).length
    } managers; this takes several minutes.`,
  );
  const outcomes: Outcome[] = [];
  for (const variant of Object.keys(VARIANTS) as Variant[]) {
    outcomes.push(await runWorker({ variant, count }));
  }
  report(count, outcomes);
}

function report(count: number, outcomes: readonly Outcome[]): void {
  console.log(`Machine: ${describeMachine()}`);
  console.log("");
  console.log(
    `${
      count.toLocaleString("en-US")
    } distinct valid cookies, each due for a refresh, through one SessionManager; heap used after a forced full GC.`,
  );
  console.log("");
  console.log(
    "| Manager | Heap before (MB) | Heap after (MB) | Retained growth (MB) | Goal | Met | Cookies/s (mint + request) |",
  );
  console.log("| --- | ---: | ---: | ---: | --- | --- | ---: |");
  for (const { label, before, after, seconds } of outcomes) {
    const growth = after - before;
    console.log(
      `| ${label} | ${mb(before)} | ${mb(after)} | ${
        mb(growth)
      } | < ${GOAL_MB} MB | ${
        growth < GOAL_MB * 1024 * 1024 ? "yes" : "**no**"
      } | ${Math.round((count - BATCH) / seconds).toLocaleString("en-US")} |`,
    );
  }
}
