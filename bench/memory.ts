// deno-lint-ignore-file no-console
/**
 * Retained heap after feeding many distinct cookies through one manager:
 * the verified-seal cache and the refresh memo must stay bounded.
 *
 * - `valid`: 200,000 distinct valid cookies, each due for a sliding
 *   refresh, so every request unseals, re-seals and remembers both seals
 *   (goal: under 64 B retained per cookie).
 * - `invalid`: 1,000,000 invalid cookies, half garbage and half seal-shaped
 *   with a wrong MAC (goal: the heap stays flat: under 256 KB of growth
 *   between the first tenth and the end).
 * - with `--all`, also `big` (a few kilobytes of other cookies beside the
 *   session, as browsers send, to show the cache keeps no whole header)
 *   and `uncached` (`cacheSize: 0`).
 *
 * The heap is measured after a forced full GC, before and after; RSS alone
 * says nothing about what the manager retains. Each variant runs in its
 * own worker, so its own V8 heap, all at once; the valid cookies are
 * minted in one more worker while the previous batch is fed.
 *
 *     deno task bench:memory [--count=200000] [--invalid=1000000] [--all]
 *
 * @module
 */

import { SessionManager } from "../mod.ts";
import { describeMachine } from "./_machine.ts";
import { type AppFields, SECRET, T0 } from "./_scenarios.ts";

/** Retained bytes per valid cookie allowed. */
const GOAL_BYTES_PER_VALID = 64;
/**
 * Heap growth allowed between the first tenth of the invalid cookies and
 * the end ("flat"): noise, not proportion.
 */
const GOAL_FLAT_BYTES = 256 * 1024;
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
  kind: "valid" | "invalid";
  count: number;
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

/** Mints valid cookies in a worker of its own, so on another core. */
class RemoteMinter {
  readonly #worker: Worker;
  readonly #waiting: Array<(cookies: string[]) => void> = [];

  constructor() {
    this.#worker = new Worker(import.meta.url, {
      type: "module",
      name: JSON.stringify({ role: "mint" }),
    });
    this.#worker.onmessage = (event: MessageEvent<string[]>) => {
      this.#waiting.shift()!(event.data);
    };
  }

  /** The Cookie header values of users `start` to `start + count - 1`. */
  mint(start: number, count: number): Promise<string[]> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.#worker.postMessage({ start, count });
    });
  }

  close(): void {
    this.#worker.terminate();
  }
}

/** The minting worker: seals made two hours earlier, due for a refresh. */
function serveMinting(scope: {
  postMessage(message: string[]): void;
  onmessage:
    | ((event: MessageEvent<{ start: number; count: number }>) => void)
    | null;
}): void {
  const minter = new SessionManager<AppFields>({
    cookieSecret: SECRET,
    cacheSize: 0,
    now: () => T0 - 2 * 60 * 60 * 1000,
  });
  scope.onmessage = async (event) => {
    const { start, count } = event.data;
    const cookies = await Promise.all(
      Array.from({ length: count }, async (_, j) => {
        const i = start + j;
        const setCookie = await minter.createSession({
          did: `did:web:user${i}.example.com`,
          handle: `user${i}.example.com`,
        });
        return setCookie.slice(0, setCookie.indexOf(";"));
      }),
    );
    scope.postMessage(cookies);
  };
}

async function feed(
  label: string,
  count: number,
  { cacheSize, bigHeader }: { cacheSize?: number; bigHeader: boolean },
): Promise<Outcome> {
  if (label === VARIANTS.invalid[0]) return await feedInvalid(label, count);
  const manager = new SessionManager({
    cookieSecret: SECRET,
    now: () => T0,
    ...(cacheSize === undefined ? {} : { cacheSize }),
  });
  const batch = async (cookies: readonly string[]): Promise<void> => {
    const results = await Promise.all(
      cookies.map((cookie) =>
        manager.getSessionFromRequest(
          new Request("https://app.example/", {
            headers: {
              cookie: bigHeader ? `${OTHER_COOKIES}; ${cookie}` : cookie,
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
  // The next batch is minted while this one is fed; nothing is prefetched
  // while the heap is measured, so no batch in transit counts in either.
  const minter = new RemoteMinter();
  try {
    // Warm up code paths (and their compiled code) before the baseline.
    await batch(await minter.mint(0, BATCH));
    const before = retainedHeap();
    const start = performance.now();
    let next = BATCH;
    let minting: Promise<string[]> | null = minter.mint(next, BATCH);
    while (minting !== null) {
      const cookies = await minting;
      next += BATCH;
      minting = next < count
        ? minter.mint(next, Math.min(BATCH, count - next))
        : null;
      await batch(cookies);
    }
    const seconds = (performance.now() - start) / 1000;
    const after = retainedHeap();
    // Keep the manager alive until after the measurement.
    if (manager.getClearCookieHeader() === "") throw new Error("unreachable");
    return { label, kind: "valid", count, before, after, seconds };
  } finally {
    minter.close();
  }
}

/**
 * Garbage and wrong-MAC seals: half the cookies are random strings, half
 * are real seals with their MAC's characters changed, all distinct.
 */
async function feedInvalid(label: string, count: number): Promise<Outcome> {
  const manager = new SessionManager({ cookieSecret: SECRET, now: () => T0 });
  const template = (await manager.createSession({
    did: "did:web:template.example.com",
  })).slice(4);
  const seal = template.slice(0, template.indexOf(";"));
  const macStart = seal.lastIndexOf("*") + 1;
  const macEnd = seal.length - 2; // before "~2"
  // Last characters whose unused low bits are zero (index % 4 === 0).
  const canonicalLast = "AEIMQUY";
  const cookieFor = (i: number): string => {
    const digits = i.toString(36).padStart(8, "0");
    if (i % 2 === 0) return `sid=garbage-${digits}-${"x".repeat(i % 200)}`;
    // A distinct wrong MAC, still canonical base64url (a letter ends it).
    const mac = (digits + seal.slice(macStart + 8, macEnd - 1)).slice(
      0,
      macEnd - macStart - 1,
    ) + canonicalLast[i % canonicalLast.length];
    return `sid=${seal.slice(0, macStart)}${mac}~2`;
  };
  let next = 0;
  const batch = async (): Promise<void> => {
    const results = await Promise.all(
      Array.from({ length: BATCH }, () => {
        const i = next++;
        return manager.getSessionFromRequest(
          new Request("https://app.example/", {
            headers: { cookie: cookieFor(i) },
          }),
        );
      }),
    );
    for (const result of results) {
      if (result.error === null) {
        throw new Error("An invalid cookie was accepted");
      }
    }
  };
  // Flat means no growth with the count: the heap after the first tenth
  // (code compiled, caches warm) against the heap at the end.
  const start = performance.now();
  while (next < count / 10) await batch();
  const before = retainedHeap();
  while (next < count) await batch();
  const seconds = (performance.now() - start) / 1000;
  const after = retainedHeap();
  if (manager.getClearCookieHeader() === "") throw new Error("unreachable");
  return { label, kind: "invalid", count, before, after, seconds };
}

const VARIANTS = {
  valid: [
    "valid, refresh due (default options, the session cookie alone)",
    { bigHeader: false },
  ],
  invalid: ["invalid: half garbage, half wrong-MAC seals", {
    bigHeader: false,
  }],
  big: [
    `valid, refresh due, ${
      (OTHER_COOKIES.length / 1024).toFixed(1)
    } KB of other cookies in the header`,
    { bigHeader: true },
  ],
  uncached: ["valid, cacheSize: 0, the same big header", {
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
  const job = JSON.parse(scope.name) as Job | { role: "mint" };
  if ("role" in job) {
    serveMinting(scope as unknown as Parameters<typeof serveMinting>[0]);
  } else {
    const [label, options] = VARIANTS[job.variant];
    const outcome = await feed(label, job.count, options);
    scope.postMessage(outcome);
    scope.close();
  }
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
  let invalid = 1_000_000;
  let all = false;
  for (const arg of Deno.args) {
    const [key, value] = arg.split("=", 2);
    if (key === "--count" && Number(value) >= 2 * BATCH) count = Number(value);
    else if (key === "--invalid" && Number(value) >= 4 * BATCH) {
      invalid = Number(value);
    } else if (key === "--all") all = true;
    else throw new Error(`Unknown argument ${arg}`);
  }
  const jobs: Job[] = [
    { variant: "valid", count },
    { variant: "invalid", count: invalid },
    ...(all
      ? [{ variant: "big", count }, { variant: "uncached", count }] as Job[]
      : []),
  ];
  console.error(
    `Feeding ${
      jobs.map((job) => `${job.count} ${job.variant}`).join(", ")
    } cookies, each set through its own manager...`,
  );
  // The workers run at once (each measures its own heap; the machine's
  // cores are shared, so cookies/s is a lower bound).
  report(await Promise.all(jobs.map(runWorker)));
}

function report(outcomes: readonly Outcome[]): void {
  console.log(`Machine: ${describeMachine()}`);
  console.log("");
  console.log(
    "Distinct cookies through one SessionManager each; heap used after a forced full GC, before and after.",
  );
  console.log("");
  console.log(
    "| Cookies | Count | Heap before (MB) | Heap after (MB) | Retained growth | Per cookie | Goal | Met | Cookies/s |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |");
  for (const { label, kind, count, before, after, seconds } of outcomes) {
    const growth = after - before;
    const perCookie = growth / count;
    const met = kind === "valid"
      ? perCookie < GOAL_BYTES_PER_VALID
      : growth < GOAL_FLAT_BYTES;
    const goal = kind === "valid"
      ? `< ${GOAL_BYTES_PER_VALID} B per cookie`
      : `flat (< ${GOAL_FLAT_BYTES / 1024} KB from 10% to 100%)`;
    console.log(
      `| ${label} | ${count.toLocaleString("en-US")} | ${mb(before)} | ${
        mb(after)
      } | ${mb(growth)} MB | ${perCookie.toFixed(1)} B | ${goal} | ${
        met ? "yes" : "**no**"
      } | ${Math.round(count / seconds).toLocaleString("en-US")} |`,
    );
  }
}
