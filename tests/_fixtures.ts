/**
 * Shared test fixtures: secrets, DIDs, request builders and a capturing
 * logger.
 *
 * @module
 */

import type { Logger } from "../src/logger.ts";

/** A secret used across tests. */
export const SECRET = "test-secret-that-is-at-least-32-characters-long";
/** A second secret, for rotation and wrong-key tests. */
export const OTHER_SECRET = "another-secret-that-is-at-least-32-characters";
/** A valid did:plc. */
export const DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
/** A fixed start time for tests with an injected clock. */
export const T0 = 1_767_225_600_000;

/** A clock the test moves by hand. */
export class TestClock {
  /** The current time in milliseconds. */
  time: number;

  /** @param time The start time. */
  constructor(time: number = T0) {
    this.time = time;
  }

  /** The clock function to pass as the `now` option. */
  readonly now = (): number => this.time;

  /**
   * Moves the clock forward.
   *
   * @param seconds How far.
   */
  advance(seconds: number): void {
    this.time += seconds * 1000;
  }
}

/**
 * Builds a request carrying a Cookie header.
 *
 * @param cookie The header value.
 * @returns The request.
 */
export function requestWithCookie(cookie: string): Request {
  return new Request("http://localhost/", { headers: { cookie } });
}

/**
 * Returns the `name=value` pair of a Set-Cookie header, as a browser would
 * send it back.
 *
 * @param setCookie A Set-Cookie header value.
 * @returns The cookie pair.
 */
export function cookiePair(setCookie: string): string {
  return setCookie.slice(0, setCookie.indexOf(";"));
}

/**
 * Returns the value of a Set-Cookie header.
 *
 * @param setCookie A Set-Cookie header value.
 * @returns The cookie value.
 */
export function cookieValue(setCookie: string): string {
  const pair = cookiePair(setCookie);
  return pair.slice(pair.indexOf("=") + 1);
}

/** One captured log line. */
export interface LogLine {
  level: keyof Logger;
  message: string;
  context: Record<string, unknown> | undefined;
}

/**
 * A logger that records every line.
 *
 * @returns The logger and the lines it captured.
 */
export function capturingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const record =
    (level: keyof Logger) =>
    (message: string, context?: Record<string, unknown>): void => {
      lines.push({ level, message, context });
    };
  return {
    lines,
    logger: {
      debug: record("debug"),
      info: record("info"),
      warn: record("warn"),
      error: record("error"),
    },
  };
}
