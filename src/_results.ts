/**
 * Building the typed results of the request path, and logging rejections
 * at the level they deserve (never with a seal or token).
 *
 * @module
 */

import type { Logger } from "./logger.ts";
import type {
  BearerErrorType,
  BearerResult,
  SessionErrorType,
  SessionResult,
} from "./types.ts";

/**
 * A failed session result.
 *
 * @param type The error type.
 * @param message A short explanation.
 * @param setCookieHeader The header clearing the cookie, or null to keep it.
 * @returns The result.
 */
export function sessionError<T extends object>(
  type: SessionErrorType,
  message: string,
  setCookieHeader: string | null,
): SessionResult<T> {
  return { data: null, setCookieHeader, error: { type, message } };
}

/**
 * A failed Bearer result.
 *
 * @param type The error type.
 * @param message A short explanation.
 * @returns The result.
 */
export function bearerError<T extends object>(
  type: BearerErrorType,
  message: string,
): BearerResult<T> {
  return { data: null, error: { type, message } };
}

/**
 * Logs a rejection: tampering and unknown keys as `warn`, revocations as
 * `info`, the rest as `debug`.
 *
 * @param logger The guarded logger.
 * @param type The error type.
 * @param message The log line.
 */
export function logRejection(
  logger: Logger,
  type: SessionErrorType | BearerErrorType,
  message: string,
): void {
  if (type === "TAMPERED" || type === "UNKNOWN_KEY") {
    logger.warn(message, { type });
  } else if (type === "SESSION_REVOKED" || type === "TOKEN_REVOKED") {
    logger.info(message, { type });
  } else logger.debug(message, { type });
}

/**
 * Logs what a request-path guard caught: the error's name only.
 *
 * @param logger The guarded logger.
 * @param error What was thrown.
 */
export function logUnexpected(logger: Logger, error: unknown): void {
  logger.error("Unexpected error while reading a session", {
    error: error instanceof Error ? error.name : typeof error,
  });
}

/**
 * The explanation of a verification failure.
 *
 * @param reason TAMPERED or UNKNOWN_KEY.
 * @returns The message.
 */
export function describeFailure(reason: "TAMPERED" | "UNKNOWN_KEY"): string {
  return reason === "TAMPERED"
    ? "Seal failed verification (tampered, or sealed with another secret)"
    : "Seal names a secret id that is not configured";
}
