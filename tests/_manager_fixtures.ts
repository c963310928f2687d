/**
 * Fixtures for the manager's store-backed tests: a store wrapper that
 * counts calls and can be made to fail or hang per method, the store
 * harnesses every behaviour runs against (memory, Deno KV, real Redis),
 * and a manager fixture.
 *
 * @module
 */

import { createClient } from "npm:redis@4";
import type { SessionEvent } from "../src/events.ts";
import { SessionManager } from "../src/session_manager.ts";
import type {
  CreateSessionOptions,
  RotationResult,
  SessionMetadata,
  SessionRecord,
  SessionRecordUpdate,
  SessionStore,
  TokenRotation,
} from "../src/store.ts";
import { DenoKvSessionStore } from "../src/stores/deno_kv.ts";
import { MemorySessionStore } from "../src/stores/memory.ts";
import { RedisSessionStore } from "../src/stores/redis.ts";
import type { SessionManagerOptions } from "../src/options.ts";
import {
  capturingLogger,
  cookiePair,
  DID,
  type LogLine,
  requestWithCookie,
  SECRET,
  TestClock,
} from "./_fixtures.ts";
import { redisServerPath, startRedisServer } from "./_redis_server.ts";
import type { StoreHarness } from "./stores/store_contract.ts";

type Method = Exclude<keyof SessionStore, "sessionIdFor">;

/**
 * How a wrapped method behaves: pass through, reject, never settle, reject
 * after {@linkcode ControlledStore.lateMs}, or run the call and then reject
 * (a reply lost after the write) or never answer (after the write).
 */
export type Mode =
  | "pass"
  | "fail"
  | "hang"
  | "late-fail"
  | "write-then-fail"
  | "write-then-hang";

/**
 * Wraps a store: counts calls per method, and can make any method reject
 * (the way an unreachable or write-refusing backend does) or never settle
 * (a paused server).
 */
export class ControlledStore implements SessionStore {
  /** Per-method behaviour; "all" applies to every method. */
  modes: Partial<Record<Method | "all", Mode>> = {};
  /** The error failing calls reject with. */
  error: Error = new Error("connect ECONNREFUSED 127.0.0.1:6379");
  /** Calls per method. */
  readonly calls: Record<string, number> = {};
  /** How late a `late-fail` call rejects, in milliseconds. */
  lateMs = 50;
  /** `late-fail` calls not yet settled. */
  readonly pending: Promise<unknown>[] = [];
  readonly #inner: SessionStore;
  readonly sessionIdFor?: (did: string, id: string) => string;

  constructor(inner: SessionStore) {
    this.#inner = inner;
    if (inner.sessionIdFor !== undefined) {
      this.sessionIdFor = (did, id) => inner.sessionIdFor!(did, id);
    }
  }

  /** Total calls so far. */
  get total(): number {
    return Object.values(this.calls).reduce((a, b) => a + b, 0);
  }

  #run<R>(method: Method, call: () => Promise<R>): Promise<R> {
    this.calls[method] = (this.calls[method] ?? 0) + 1;
    const mode = this.modes[method] ?? this.modes.all ?? "pass";
    switch (mode) {
      case "fail":
        return Promise.reject(this.error);
      case "hang":
        return new Promise<R>(() => {});
      case "late-fail": {
        const late = new Promise<R>((_, reject) =>
          setTimeout(() => reject(this.error), this.lateMs)
        );
        this.pending.push(late.catch(() => {}));
        return late;
      }
      case "write-then-fail":
        return call().then(() => Promise.reject(this.error));
      case "write-then-hang":
        return call().then(() => new Promise<R>(() => {}));
      default:
        return call();
    }
  }

  createSession(
    record: SessionRecord,
    options: CreateSessionOptions,
    now: number,
  ): Promise<readonly SessionRecord[]> {
    return this.#run(
      "createSession",
      () => this.#inner.createSession(record, options, now),
    );
  }
  getSession(id: string, now: number): Promise<SessionRecord | null> {
    return this.#run("getSession", () => this.#inner.getSession(id, now));
  }
  updateSession(
    id: string,
    update: SessionRecordUpdate,
    now: number,
  ): Promise<SessionRecord | null> {
    return this.#run(
      "updateSession",
      () => this.#inner.updateSession(id, update, now),
    );
  }
  rotateToken(
    id: string,
    generation: number,
    rotation: TokenRotation,
    now: number,
  ): Promise<RotationResult> {
    return this.#run(
      "rotateToken",
      () => this.#inner.rotateToken(id, generation, rotation, now),
    );
  }
  listSessions(did: string, now: number): Promise<readonly SessionRecord[]> {
    return this.#run("listSessions", () => this.#inner.listSessions(did, now));
  }
  deleteSession(id: string): Promise<SessionRecord | null> {
    return this.#run("deleteSession", () => this.#inner.deleteSession(id));
  }
  deleteAllSessions(did: string): Promise<readonly SessionRecord[]> {
    return this.#run(
      "deleteAllSessions",
      () => this.#inner.deleteAllSessions(did),
    );
  }
  revokeToken(jti: string, expiresAt: number, now: number): Promise<void> {
    return this.#run(
      "revokeToken",
      () => this.#inner.revokeToken(jti, expiresAt, now),
    );
  }
  isTokenRevoked(jti: string, now: number): Promise<boolean> {
    return this.#run(
      "isTokenRevoked",
      () => this.#inner.isTokenRevoked(jti, now),
    );
  }
}

/** A manager over a controlled store, with a test clock and logger. */
export interface Fixture {
  sessions: SessionManager;
  store: ControlledStore;
  clock: TestClock;
  lines: LogLine[];
  events: SessionEvent[];
  login(did?: string, metadata?: SessionMetadata): Promise<string>;
  read(cookie: string): ReturnType<SessionManager["getSessionFromRequest"]>;
  bearer(token: string): ReturnType<SessionManager["validateBearerToken"]>;
  refresh(token: string): Promise<string | null>;
}

/**
 * Builds a manager over `inner` wrapped in a {@linkcode ControlledStore}.
 *
 * @param inner The store.
 * @param options Options to override.
 * @param clock A clock to share between managers.
 * @returns The fixture.
 */
export function fixture(
  inner: SessionStore,
  options: Partial<SessionManagerOptions> = {},
  clock: TestClock = new TestClock(),
): Fixture {
  const { logger, lines } = capturingLogger();
  const events: SessionEvent[] = [];
  const store = new ControlledStore(inner);
  const sessions = new SessionManager({
    cookieSecret: SECRET,
    store,
    now: clock.now,
    logger,
    onEvent: (event) => {
      events.push(event);
    },
    ...options,
  });
  return {
    sessions,
    store,
    clock,
    lines,
    events,
    login: async (did = DID, metadata = {}) =>
      cookiePair(await sessions.createSession({ did }, metadata)),
    read: (cookie) => sessions.getSessionFromRequest(requestWithCookie(cookie)),
    bearer: (token) => sessions.validateBearerToken(`Bearer ${token}`),
    refresh: (token) => sessions.refreshBearerToken(`Bearer ${token}`),
  };
}

/** Lets queued microtasks (event deliveries) run. */
export const settle = (): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, 0));

/** One store the suites run against. */
export interface StoreFactory {
  readonly name: string;
  setup(): Promise<StoreHarness>;
}

/** The in-memory store. */
export const memoryFactory: StoreFactory = {
  name: "MemorySessionStore",
  setup: () =>
    Promise.resolve({
      create: () => new MemorySessionStore(),
      close: () => Promise.resolve(),
    }),
};

/** Deno KV, one `:memory:` database with a prefix per store. */
export const denoKvFactory: StoreFactory = {
  name: "DenoKvSessionStore",
  async setup() {
    const kv = await Deno.openKv(":memory:");
    let next = 0;
    return {
      create: () => new DenoKvSessionStore(kv, { prefix: ["manager", next++] }),
      close: () => Promise.resolve(kv.close()),
    };
  },
};

/** A real redis-server started for the suite, a prefix per store. */
export const redisFactory: StoreFactory = {
  name: "RedisSessionStore",
  async setup() {
    const server = await startRedisServer();
    const client = createClient({ url: server.url, disableOfflineQueue: true });
    client.on("error", () => {});
    await client.connect();
    let next = 0;
    return {
      create: () =>
        new RedisSessionStore({
          command: (args) => client.sendCommand(args),
          prefix: `manager${next++}:`,
        }),
      async close() {
        await client.quit();
        await server.close();
      },
    };
  },
};

/**
 * The stores every manager behaviour is tested on: memory, Deno KV, and
 * Redis when redis-server is installed (see `redisAvailable` for CI).
 */
export const storeFactories: readonly StoreFactory[] = [
  memoryFactory,
  denoKvFactory,
  ...(redisServerPath === null ? [] : [redisFactory]),
];
