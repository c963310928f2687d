/**
 * Wraps the caller's logger once, at construction, so that nothing it does
 * (Deno's `console` throws BrokenPipe when stdout is a closed pipe; an
 * async logger may reject) can change a result or escape.
 *
 * @module
 */

import { type Logger, noopLogger } from "./logger.ts";

const LEVELS = ["debug", "info", "warn", "error"] as const;

function ignore(): void {}

/**
 * Returns a logger whose methods never throw and never leave a rejected
 * promise unhandled. The caller's methods are looked up at each call, so a
 * logger reconfigured later still receives lines.
 *
 * @param logger The caller's logger (already checked to have the methods).
 * @returns The guarded logger.
 */
export function safeLogger(logger: Logger): Logger {
  if (logger === noopLogger) return noopLogger;
  const guarded = {} as Record<(typeof LEVELS)[number], Logger["debug"]>;
  for (const level of LEVELS) {
    guarded[level] = (message, context): void => {
      try {
        const result: unknown = logger[level](message, context);
        if (
          result !== null && typeof result === "object" &&
          typeof (result as PromiseLike<unknown>).then === "function"
        ) {
          (result as PromiseLike<unknown>).then(undefined, ignore);
        }
      } catch {
        // A logger failure must never change what the caller gets.
      }
    };
  }
  return Object.freeze(guarded);
}
