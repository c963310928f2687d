/**
 * The logging interface the session manager writes to.
 *
 * @module
 */

/**
 * A logger with four levels. `console` satisfies it, as do most structured
 * loggers. The session manager never passes a secret, a seal or a token to
 * it: messages carry error types and short reasons only.
 *
 * @example Routing logs to the console
 * ```ts
 * import { SessionManager } from "@tijs/atproto-sessions";
 * import type { Logger } from "@tijs/atproto-sessions";
 *
 * const logger: Logger = console;
 * const sessions = new SessionManager({
 *   cookieSecret: "x".repeat(32),
 *   logger,
 * });
 * ```
 */
export interface Logger {
  /** Routine events: a request without a session cookie. */
  debug(message: string, context?: Record<string, unknown>): void;
  /** Notable events: a session created or revoked. */
  info(message: string, context?: Record<string, unknown>): void;
  /** Suspicious or degraded events: a tampered seal, the store unreachable. */
  warn(message: string, context?: Record<string, unknown>): void;
  /** Failures the operator must look at. */
  error(message: string, context?: Record<string, unknown>): void;
}

/**
 * A logger that discards everything; the default.
 *
 * @example Silencing a manager explicitly
 * ```ts
 * import { noopLogger, SessionManager } from "@tijs/atproto-sessions";
 *
 * const sessions = new SessionManager({
 *   cookieSecret: "x".repeat(32),
 *   logger: noopLogger,
 * });
 * ```
 */
export const noopLogger: Logger = Object.freeze({
  debug(): void {},
  info(): void {},
  warn(): void {},
  error(): void {},
});
