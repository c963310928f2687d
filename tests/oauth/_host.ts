/**
 * Builds the {@linkcode OAuthHost} of a real `SessionManager` through the
 * manager's own wiring (`oauthHostOf`), so the bridge under test is the
 * bridge `SessionManager`'s OAuth methods run. The `SealKeyring` with the
 * same secret lets tests seal values by hand.
 *
 * @module
 */

import { SessionManager } from "../../src/session_manager.ts";
import { SealKeyring } from "../../src/_seal.ts";
import type { Logger } from "../../src/logger.ts";
import type { SessionStore } from "../../src/store.ts";
import type { CookieSecret } from "../../src/options.ts";
import type { OAuthHost } from "../../src/oauth/_host.ts";
import { OAuthBridge } from "../../src/oauth/bridge.ts";
import { contextOf, type ManagerContext } from "../../src/_context.ts";
import { oauthHostOf } from "../../src/_oauth_host.ts";

/** One captured log line. */
export interface LogLine {
  readonly level: "debug" | "info" | "warn" | "error";
  readonly message: string;
  readonly context: Record<string, unknown> | undefined;
}

/** A logger that keeps every line, to assert on levels and on leaks. */
export class CapturingLogger implements Logger {
  readonly lines: LogLine[] = [];
  debug(message: string, context?: Record<string, unknown>): void {
    this.lines.push({ level: "debug", message, context });
  }
  info(message: string, context?: Record<string, unknown>): void {
    this.lines.push({ level: "info", message, context });
  }
  warn(message: string, context?: Record<string, unknown>): void {
    this.lines.push({ level: "warn", message, context });
  }
  error(message: string, context?: Record<string, unknown>): void {
    this.lines.push({ level: "error", message, context });
  }
  /** Every line as one string, for "contains no secret" assertions. */
  text(): string {
    return JSON.stringify(this.lines);
  }
}

/** Options of {@linkcode createTestHost}. */
export interface TestHostOptions {
  store?: SessionStore | undefined;
  cookieSecret?: CookieSecret;
  now?: () => number;
  oauthTimeoutMs?: number;
  storeTimeoutMs?: number;
  sessionTtl?: number;
}

/** A manager, its host view and the bridge over it. */
export interface TestHost {
  readonly manager: SessionManager;
  readonly host: OAuthHost;
  readonly bridge: OAuthBridge;
  readonly logger: CapturingLogger;
  readonly keyring: SealKeyring;
}

export const TEST_SECRET = "a-test-secret-of-at-least-32-characters!!";

/**
 * Rejects after `ms` with an error named `TimeoutError`, as the manager's
 * deadline helper does; the timer is cleared when `promise` settles.
 */
export function withDeadline<R>(promise: Promise<R>, ms: number): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    const timer = setTimeout(() => {
      const error = new Error(`Did not settle within ${ms} ms`);
      error.name = "TimeoutError";
      reject(error);
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * Creates the manager, the host adapter and the bridge.
 *
 * @param options The store, secret, clock and deadlines.
 * @returns The pieces.
 */
export function createTestHost(options: TestHostOptions = {}): TestHost {
  const logger = new CapturingLogger();
  const cookieSecret = options.cookieSecret ?? TEST_SECRET;
  const now = options.now ?? Date.now;
  const manager = new SessionManager({
    cookieSecret,
    logger,
    now,
    storeTimeout: options.storeTimeoutMs ?? 5000,
    oauthTimeout: (options.oauthTimeoutMs ?? 10_000) / 1000,
    ...(options.store === undefined ? {} : { store: options.store }),
    ...(options.sessionTtl === undefined
      ? {}
      : { sessionTtl: options.sessionTtl }),
  });
  const keyring = new SealKeyring(cookieSecret);
  // The manager's own wiring: the bridge under test is the one it runs.
  const host: OAuthHost = oauthHostOf(
    manager,
    contextOf(manager) as ManagerContext,
  );
  const bridge = new OAuthBridge(host);
  return { manager, host, bridge, logger, keyring };
}

/** The `name=value` part of a `Set-Cookie` header, for a request. */
export function cookieOf(setCookie: string): string {
  return setCookie.slice(0, setCookie.indexOf(";"));
}

/** A request carrying the cookie from `setCookie`. */
export function requestWith(setCookie: string): Request {
  return new Request("http://localhost/", {
    headers: { cookie: cookieOf(setCookie) },
  });
}
