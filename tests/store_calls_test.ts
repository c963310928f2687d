import assert from "node:assert/strict";
import { StoreCalls, StoreTimeoutError } from "../src/_store_calls.ts";
import type { Logger } from "../src/logger.ts";

interface Line {
  readonly level: string;
  readonly message: string;
  readonly fields: Record<string, unknown> | undefined;
}

function logger(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const log =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void => {
      lines.push({ level, message, fields });
    };
  return {
    lines,
    logger: {
      debug: log("debug"),
      info: log("info"),
      warn: log("warn"),
      error: log("error"),
    },
  };
}

/** Counts the timers armed while `run` runs. */
async function countingTimers(run: () => Promise<void>): Promise<number> {
  const original = globalThis.setTimeout;
  let armed = 0;
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    armed++;
    return original(...args);
  }) as typeof setTimeout;
  try {
    await run();
  } finally {
    globalThis.setTimeout = original;
  }
  return armed;
}

/**
 * A value a macrotask later, without a timer: answers queued in one task
 * arrive together in a later one, like replies read from a socket.
 */
const later: <T>(value: T) => Promise<T> = (() => {
  let queued: Array<() => void> = [];
  let channel: MessageChannel | undefined;
  return <T>(value: T): Promise<T> =>
    new Promise<T>((resolve) => {
      queued.push(() => resolve(value));
      if (channel !== undefined) return;
      const current = new MessageChannel();
      channel = current;
      current.port1.onmessage = () => {
        current.port1.close();
        channel = undefined;
        const answers = queued;
        queued = [];
        for (const answer of answers) answer();
      };
      current.port2.postMessage(null);
    });
})();

const never = (): Promise<never> => new Promise(() => {});

Deno.test("StoreCalls.request(): a store that never answers yields a timed-out outcome with StoreTimeoutError, logged as STORE_UNAVAILABLE", async () => {
  const { logger: log, lines } = logger();
  const calls = new StoreCalls(20, log);
  const outcome = await calls.request("getSession", never);
  assert.equal(outcome.ok, false);
  assert.ok(!outcome.ok && outcome.timedOut);
  assert.ok(!outcome.ok && outcome.error instanceof StoreTimeoutError);
  assert.match(
    (outcome as { error: Error }).error.message,
    /did not answer getSession within 20 ms/,
  );
  assert.deepEqual(lines.map((line) => [line.level, line.fields?.type]), [[
    "warn",
    "STORE_UNAVAILABLE",
  ]]);
  // Deno's sanitizers fail the test if the deadline timer is left armed.
});

Deno.test("StoreCalls.request(): an answer or rejection after the deadline is swallowed", async () => {
  const calls = new StoreCalls(10, logger().logger);
  let lateResolve!: (value: string) => void;
  let lateReject!: (error: Error) => void;
  const [resolved, rejected] = await Promise.all([
    calls.request("getSession", () => new Promise((r) => (lateResolve = r))),
    calls.request("getSession", () => new Promise((_, j) => (lateReject = j))),
  ]);
  assert.ok(!resolved.ok && resolved.timedOut);
  assert.ok(!rejected.ok && rejected.timedOut);
  lateResolve("late");
  lateReject(new Error("late"));
  // An unhandled rejection would fail the test here.
  await later(null);
});

Deno.test("StoreCalls.request(): answers, rejections and synchronous throws are outcomes, never rejections", async () => {
  const { logger: log, lines } = logger();
  const calls = new StoreCalls(1000, log);
  assert.deepEqual(await calls.request("getSession", () => later(1)), {
    ok: true,
    value: 1,
  });
  const failed = await calls.request(
    "getSession",
    () => Promise.reject(new Error("down")),
  );
  assert.ok(!failed.ok && !failed.timedOut);
  const thrown = await calls.request("getSession", () => {
    throw new Error("sync");
  });
  assert.ok(!thrown.ok && !thrown.timedOut);
  assert.deepEqual(lines.map((line) => line.fields?.error), ["down", "sync"]);
});

Deno.test("StoreCalls.requestThen(): the continuation receives the outcome, and its throw rejects the result", async () => {
  const calls = new StoreCalls(1000, logger().logger);
  assert.equal(
    await calls.requestThen(
      "getSession",
      () => later(2),
      (outcome) => outcome.ok ? outcome.value * 10 : -1,
    ),
    20,
  );
  assert.equal(
    await new StoreCalls(10, logger().logger).requestThen(
      "getSession",
      never,
      (outcome) =>
        outcome.ok ? "answered" : outcome.timedOut ? "timed out" : "failed",
    ),
    "timed out",
  );
  await assert.rejects(
    calls.requestThen("getSession", () => later(3), () => {
      throw new RangeError("bug");
    }),
    RangeError,
  );
});

Deno.test("StoreCalls.request(): calls already answered when made arm no timer, one at a time or 64 at once", async () => {
  const calls = new StoreCalls(1000, logger().logger);
  const armed = await countingTimers(async () => {
    for (let i = 0; i < 50; i++) {
      assert.ok(
        (await calls.request("getSession", () => Promise.resolve(i))).ok,
      );
    }
    const all = await Promise.all(
      Array.from(
        { length: 64 },
        (_, i) => calls.request("getSession", () => Promise.resolve(i)),
      ),
    );
    assert.ok(all.every((outcome) => outcome.ok));
  });
  assert.equal(armed, 0);
});

Deno.test("StoreCalls.request(): sequential calls that wait for I/O share one deadline timer", async () => {
  const calls = new StoreCalls(1000, logger().logger);
  const armed = await countingTimers(async () => {
    for (let i = 0; i < 50; i++) {
      assert.deepEqual(await calls.request("getSession", () => later(i)), {
        ok: true,
        value: i,
      });
    }
  });
  assert.ok(armed >= 1 && armed <= 2, `armed ${armed} timers for 50 calls`);
});

Deno.test("StoreCalls.request(): a hung call times out while thousands after it answer", async () => {
  const calls = new StoreCalls(100, logger().logger);
  const hung = calls.request("getSession", never);
  const answered = await Promise.all(
    Array.from(
      { length: 3000 },
      (_, i) => calls.request("getSession", () => later(i)),
    ),
  );
  assert.ok(answered.every((outcome, i) => outcome.ok && outcome.value === i));
  const outcome = await hung;
  assert.ok(!outcome.ok && outcome.timedOut);
  // Calls made after the hung one timed out still answer and time out.
  const [late, lateHung] = await Promise.all([
    calls.request("getSession", () => later("ok")),
    calls.request("getSession", never),
  ]);
  assert.deepEqual(late, { ok: true, value: "ok" });
  assert.ok(!lateHung.ok && lateHung.timedOut);
});

Deno.test("StoreCalls.manage(): a missed deadline throws StoreError naming storeTimeout", async () => {
  const calls = new StoreCalls(10, logger().logger);
  await assert.rejects(
    calls.manage("listSessions", never),
    (error: Error) =>
      error.name === "StoreError" &&
      /within 10 ms \(storeTimeout\)/.test(error.message) &&
      error.cause instanceof StoreTimeoutError,
  );
  assert.equal(await calls.manage("listSessions", () => later(5)), 5);
});
