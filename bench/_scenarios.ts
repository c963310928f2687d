/**
 * The benchmark scenarios shared by `session_bench.ts` (Deno.bench) and
 * `ratios.ts` (interleaved ratio runner): the package under test, the
 * original package's request path and the bare cryptography, each set up
 * on the same seals so that only the implementation differs.
 *
 * Requests are built once and reused, so the figures measure the library,
 * not `new Request()`. Clocks are injected so no seal expires and the
 * refresh decision is the intended one for the whole run.
 *
 * @module
 */

import { SessionManager } from "../mod.ts";
import { bearerLimit, cookieLimit, type LimitEntry } from "./_limits.ts";
import { CryptoFloor } from "./floor.ts";
import { OriginalSessionManager } from "./original.ts";

/** The secret every implementation uses. */
export const SECRET = "bench-secret-that-is-at-least-32-characters-long";
/** The session TTL every implementation uses, in seconds (the default). */
export const TTL_SECONDS = 7 * 24 * 60 * 60;
/** How many distinct cookies or tokens the cold scenarios cycle through. */
export const DISTINCT = 2000;
/** The package's default `cacheSize`. */
export const DEFAULT_CACHE_SIZE = 5000;
/** A cache smaller than `DISTINCT`, so cycling always misses it. */
export const COLD_CACHE_SIZE = 1000;
/** How many requests the concurrent scenario awaits together. */
export const CONCURRENCY = 64;

/** The app fields kept in every benchmark session. */
export interface AppFields {
  handle: string;
}

/** One implementation's operation. */
export type Operation = () => Promise<unknown>;

/** A ratio the runner reports, and the goal it is checked against. */
export interface RatioSpec {
  /**
   * `speedup`: the other's time per op divided by the target's (higher is
   * better). `slowdown`: the target's divided by the other's (lower is
   * better).
   */
  readonly kind: "speedup" | "slowdown";
  /** The implementation compared with. */
  readonly against: string;
  /** At least this (speedup) or at most this (slowdown), when set. */
  readonly goal?: number;
}

/** A scenario: implementations of the same work, and what to compare. */
export interface Scenario {
  readonly id: string;
  readonly title: string;
  /** Requests (or calls) per operation, for ops/s per request. */
  readonly requestsPerOp: number;
  /** The first entry is the target; the rest are baselines. */
  readonly impls: ReadonlyArray<readonly [name: string, op: Operation]>;
  readonly ratios: readonly RatioSpec[];
}

/** The current time, fixed for the run. */
export const T0: number = Date.now();
const clock = (): number => T0;
/** Seals minted this long before T0 are due for a sliding refresh. */
export const OLD: number = 2 * 60 * 60 * 1000;

function cookieHeader(seal: string): string {
  return `theme=dark; sid=${encodeURIComponent(seal)}; lang=en-GB`;
}

/** A request carrying the seal beside two other cookies. */
export function request(seal: string): Request {
  return new Request("https://app.example/dashboard", {
    headers: { cookie: cookieHeader(seal) },
  });
}

/** The seal in a Set-Cookie line. */
export function sealOf(setCookie: string): string {
  return decodeURIComponent(setCookie.slice(4, setCookie.indexOf(";")));
}

/** The session of benchmark user `i`. */
export function input(i: number): { did: string; handle: string } {
  return {
    did: `did:web:user${i}.example.com`,
    handle: `user${i}.example.com`,
  };
}

/** Runs `make(i)` for `i < count`, 100 at a time. */
export async function inBatches<R>(
  count: number,
  make: (i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < count; i += 100) {
    const batch: Promise<R>[] = [];
    for (let j = i; j < Math.min(count, i + 100); j++) batch.push(make(j));
    out.push(...await Promise.all(batch));
  }
  return out;
}

/** An operation that uses the values in turn, round and round. */
export function cycle<V>(
  values: readonly V[],
  use: (value: V) => Promise<unknown>,
): Operation {
  let i = 0;
  return (): Promise<unknown> => {
    const value = values[i] as V;
    i = i + 1 === values.length ? 0 : i + 1;
    return use(value);
  };
}

/** Throws when a setup check fails. */
export function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`Benchmark setup check failed: ${what}`);
}

/** Seals minted two hours before T0: valid, and due for a refresh. */
export async function mintOldSeals(
  count: number,
  kind: "cookie" | "token",
): Promise<string[]> {
  const minter = new SessionManager<AppFields>({
    cookieSecret: SECRET,
    cacheSize: 0,
    now: () => T0 - OLD,
  });
  return await inBatches(
    count,
    async (i) =>
      kind === "cookie"
        ? sealOf(await minter.createSession(input(i)))
        : await minter.sealToken(input(i)),
  );
}

/**
 * Creates `DEFAULT_CACHE_SIZE` other sessions, so the manager's cache is
 * full, as on a server in steady state.
 *
 * @param manager The manager to fill.
 */
export async function fillCache(
  manager: SessionManager<AppFields>,
): Promise<void> {
  await inBatches(
    DEFAULT_CACHE_SIZE,
    (i) => manager.createSession(input(DISTINCT + i)),
  );
}

/** The target manager with default options and the fixed clock. */
export function hotManager(
  extra: Partial<ConstructorParameters<typeof SessionManager>[0]> = {},
): SessionManager<AppFields> {
  return new SessionManager<AppFields>({
    cookieSecret: SECRET,
    now: clock,
    ...extra,
  });
}

/**
 * Builds every scenario. Minting the distinct seals takes a second or so.
 *
 * @returns The scenarios, in report order.
 */
export async function buildScenarios(): Promise<Scenario[]> {
  const original = new OriginalSessionManager({
    cookieSecret: SECRET,
    sessionTtl: TTL_SECONDS,
  });
  const floor = new CryptoFloor(SECRET, TTL_SECONDS * 1000);
  // A busy server: the default cache already holds DEFAULT_CACHE_SIZE other
  // sessions, as it does in steady state.
  const busy = hotManager();
  await fillCache(busy);
  const cold = hotManager({ cacheSize: COLD_CACHE_SIZE });
  const creator = hotManager();

  // Hot: one fresh session, answered from the cache without re-sealing.
  const hotSeal = sealOf(await busy.createSession(input(0)));
  const hotRequest = request(hotSeal);
  const hotResult = await busy.getSessionFromRequest(hotRequest);
  check(
    hotResult.error === null &&
      hotResult.setCookieHeader.startsWith(`sid=${hotSeal};`),
    "hot request is answered with the same seal",
  );

  // Cold: distinct old seals through a cache too small to hold them.
  const oldCookies = await mintOldSeals(DISTINCT, "cookie");
  const coldRequests = oldCookies.map(request);
  const coldResult = await cold.getSessionFromRequest(coldRequests[0]!);
  check(
    coldResult.error === null &&
      !coldResult.setCookieHeader.startsWith(`sid=${oldCookies[0]};`),
    "cold request is re-sealed",
  );
  const originalResult = await original.getSessionFromRequest(
    coldRequests[1]!,
  );
  check(originalResult.data?.did === input(1).did, "original reads our seal");

  // Bearer tokens: one cached token, and distinct old ones.
  const hotToken = await busy.sealToken(input(0));
  const hotAuthorization = `Bearer ${hotToken}`;
  const bearerRequest = new Request("https://api.example/feed", {
    headers: { authorization: hotAuthorization },
  });

  // The physical limits: the same requests, one Map.get each.
  const limitEntry: LimitEntry = { expiresAt: T0 + TTL_SECONDS * 1000 };
  const limitCache = new Map<string, LimitEntry>([
    [encodeURIComponent(hotSeal), limitEntry],
    [hotToken, limitEntry],
  ]);
  const cookieAtLimit = cookieLimit(
    "sid",
    "; Path=/; HttpOnly; Secure; SameSite=Lax",
    limitCache,
    clock,
  );
  const bearerAtLimit = bearerLimit(limitCache, clock);
  check(
    (await cookieAtLimit(hotRequest)) !== null &&
      (await bearerAtLimit(bearerRequest)) !== null,
    "the limits find their entries",
  );
  const oldTokens = await mintOldSeals(DISTINCT, "token");
  const oldAuthorizations = oldTokens.map((token) => `Bearer ${token}`);
  check(
    (await cold.validateBearerToken(oldAuthorizations[0]!)).error === null &&
      (await original.validateBearerToken(oldAuthorizations[0]!)) !== null,
    "tokens validate",
  );

  // Concurrent: 64 signed-in users, all fresh, all cached.
  const concurrentSeals = await inBatches(
    CONCURRENCY,
    async (i) => sealOf(await busy.createSession(input(i))),
  );
  const concurrentRequests = concurrentSeals.map(request);

  let created = 0;
  return [
    {
      id: "hot",
      title: "getSessionFromRequest, hot (same cookie, defaults, cache full)",
      requestsPerOp: 1,
      impls: [
        ["target", () => busy.getSessionFromRequest(hotRequest)],
        ["limit", () => cookieAtLimit(hotRequest)],
        ["original", () => original.getSessionFromRequest(hotRequest)],
      ],
      ratios: [
        { kind: "slowdown", against: "limit", goal: 1.5 },
        { kind: "speedup", against: "original" },
      ],
    },
    {
      id: "bearer-hot",
      title:
        'validateBearerToken(request.headers.get("authorization")), hot (same token, cache full)',
      requestsPerOp: 1,
      impls: [
        [
          "target",
          () =>
            busy.validateBearerToken(
              bearerRequest.headers.get("authorization"),
            ),
        ],
        ["limit", () => bearerAtLimit(bearerRequest)],
        ["original", () => original.validateBearerToken(hotAuthorization)],
      ],
      ratios: [
        { kind: "slowdown", against: "limit", goal: 1.5 },
        { kind: "speedup", against: "original" },
      ],
    },
    {
      id: "cold",
      title:
        `getSessionFromRequest, cold (${DISTINCT} distinct cookies, refresh due, cache miss)`,
      requestsPerOp: 1,
      impls: [
        ["target", cycle(coldRequests, (r) => cold.getSessionFromRequest(r))],
        [
          "original",
          cycle(coldRequests, (r) => original.getSessionFromRequest(r)),
        ],
        ["floor", cycle(oldCookies, (seal) => floor.request(seal, true))],
      ],
      ratios: [
        { kind: "slowdown", against: "floor", goal: 1.1 },
        { kind: "speedup", against: "original" },
      ],
    },
    {
      id: "create",
      title: "createSession",
      requestsPerOp: 1,
      impls: [
        ["target", () => creator.createSession(input(created++ % DISTINCT))],
        ["original", () => original.createSession(input(created++ % DISTINCT))],
        [
          "floor",
          () => floor.seal({ ...input(0), createdAt: T0, lastAccessed: T0 }),
        ],
      ],
      ratios: [
        { kind: "slowdown", against: "floor", goal: 1.1 },
        { kind: "speedup", against: "original" },
      ],
    },
    {
      id: "bearer-distinct",
      title: `validateBearerToken, ${DISTINCT} distinct tokens (cache miss)`,
      requestsPerOp: 1,
      impls: [
        [
          "target",
          cycle(oldAuthorizations, (a) => cold.validateBearerToken(a)),
        ],
        [
          "original",
          cycle(oldAuthorizations, (a) => original.validateBearerToken(a)),
        ],
        ["floor", cycle(oldTokens, (token) => floor.open(token))],
      ],
      ratios: [
        { kind: "slowdown", against: "floor", goal: 1.1 },
        { kind: "speedup", against: "original" },
      ],
    },
    {
      id: "concurrent",
      title:
        `${CONCURRENCY} concurrent getSessionFromRequest (hot, cache full)`,
      requestsPerOp: CONCURRENCY,
      impls: [
        [
          "target",
          () =>
            Promise.all(
              concurrentRequests.map((r) => busy.getSessionFromRequest(r)),
            ),
        ],
        [
          "original",
          () =>
            Promise.all(
              concurrentRequests.map((r) => original.getSessionFromRequest(r)),
            ),
        ],
        [
          "floor",
          () =>
            Promise.all(
              concurrentSeals.map((seal) => floor.request(seal, false)),
            ),
        ],
      ],
      ratios: [{ kind: "speedup", against: "original" }],
    },
  ];
}
