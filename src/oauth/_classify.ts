/**
 * Tells a terminal OAuth failure (the session is over: sign in again) from a
 * transient one (the PDS is slow or down: try again), from what
 * `@atproto/oauth-client` 0.8 and `@atcute/oauth-node-client` 2 actually
 * throw. `@atproto`'s classes do not set `name` (it reads `"Error"`), so
 * they are told apart by `constructor.name`, by the OAuth error code on the
 * error or its causes, and by HTTP status; never by `instanceof`, which
 * would need the client as a runtime dependency.
 *
 * @module
 */

/** What a failed `restore()` means for the app session. */
export type OAuthFailure = "ENDED" | "UNAVAILABLE";

/**
 * Errors after which the stored OAuth session is gone or unusable. The
 * client deletes its stored session for each of them (its
 * `isExpectedSessionError`), except `InvalidDidError`, which a DID no OAuth
 * session can exist for raises.
 *
 * - `TokenRefreshError`: the refresh was refused with `invalid_grant`
 *   (revoked, expired, or reused), the stored session is missing ("deleted
 *   by another process"), has no refresh token, or names another DID.
 * - `TokenRevokedError`: `client.revoke(did)` or `session.signOut()` ran.
 * - `TokenInvalidError`: the PDS refused a freshly refreshed access token.
 * - `AuthMethodUnsatisfiableError`: the client's key for this session was
 *   removed from its keyset.
 */
const TERMINAL_CLASSES: ReadonlySet<string> = new Set([
  "TokenRefreshError",
  "TokenRevokedError",
  "TokenInvalidError",
  "AuthMethodUnsatisfiableError",
  "InvalidDidError",
]);

/** OAuth error codes (RFC 6749 §5.2) that end a grant. */
const TERMINAL_CODES: ReadonlySet<string> = new Set(["invalid_grant"]);

/** How deep to follow `cause` and `AggregateError.errors`. */
const MAX_DEPTH = 6;

/**
 * What is safe to log about a client error: class names and the OAuth
 * error code, never a message (messages may echo URLs or DIDs).
 */
export type OAuthErrorSummary = {
  /** The error's class, e.g. `TokenRefreshError` or `FetchRequestError`. */
  readonly error: string;
  /** The OAuth `error` code found on it or a cause, e.g. `invalid_grant`. */
  readonly code?: string;
  /** The HTTP status found on it or a cause. */
  readonly status?: number;
};

/**
 * Classifies an error thrown by `client.restore(did)` (or anything the
 * bridge awaits for it). Anything not known to be terminal is transient:
 * if the client did delete the session, the next `restore()` throws
 * `TokenRefreshError` ("deleted by another process"), which is terminal, so
 * a wrong guess costs one 503, never a sign-out.
 *
 * @param error What was thrown.
 * @returns `"ENDED"` or `"UNAVAILABLE"`.
 */
export function classifyOAuthError(error: unknown): OAuthFailure {
  let ended = false;
  visit(error, (node) => {
    if (TERMINAL_CLASSES.has(className(node))) ended = true;
    const code = oauthCode(node);
    if (code !== undefined && TERMINAL_CODES.has(code)) ended = true;
  });
  return ended ? "ENDED" : "UNAVAILABLE";
}

/**
 * Summarises an error for a log line.
 *
 * @param error What was thrown.
 * @returns The class name, and the first OAuth code and status found.
 */
export function summarizeOAuthError(error: unknown): OAuthErrorSummary {
  let code: string | undefined;
  let status: number | undefined;
  visit(error, (node) => {
    code ??= oauthCode(node);
    status ??= httpStatus(node);
  });
  return {
    error: className(error),
    ...(code === undefined ? {} : { code }),
    ...(status === undefined ? {} : { status }),
  };
}

/** Calls `fn` on the error, its `cause` chain and aggregated errors. */
function visit(error: unknown, fn: (node: object) => void): void {
  const seen = new Set<unknown>();
  const queue: Array<{ node: unknown; depth: number }> = [{
    node: error,
    depth: 0,
  }];
  while (queue.length > 0) {
    const { node, depth } = queue.shift()!;
    if (
      node === null || typeof node !== "object" || seen.has(node) ||
      depth > MAX_DEPTH
    ) continue;
    seen.add(node);
    fn(node);
    const cause = readField(node, "cause");
    if (cause !== undefined) queue.push({ node: cause, depth: depth + 1 });
    const errors = readField(node, "errors");
    if (Array.isArray(errors)) {
      for (const inner of errors.slice(0, 4)) {
        queue.push({ node: inner, depth: depth + 1 });
      }
    }
  }
}

/**
 * The class name: `name` when a class sets it (atcute does), else the
 * constructor's name (`@atproto`'s classes leave `name` as `"Error"`).
 */
function className(value: unknown): string {
  if (value === null || typeof value !== "object") return typeof value;
  const name = readField(value, "name");
  if (typeof name === "string" && name !== "Error" && name.length > 0) {
    return name;
  }
  const ctor = readField(value, "constructor");
  const ctorName = typeof ctor === "function" ? ctor.name : undefined;
  return typeof ctorName === "string" && ctorName.length > 0
    ? ctorName
    : "Error";
}

/**
 * The OAuth error code: `OAuthResponseError.error` on both clients (a
 * string), or the `error` field of its JSON `payload`.
 */
function oauthCode(node: object): string | undefined {
  const direct = readField(node, "error");
  if (typeof direct === "string" && direct.length > 0) return direct;
  const payload = readField(node, "payload");
  if (payload !== null && typeof payload === "object") {
    const nested = readField(payload, "error");
    if (typeof nested === "string" && nested.length > 0) return nested;
  }
  return undefined;
}

/** The HTTP status: `status` (OAuthResponseError) or `statusCode` (fetch). */
function httpStatus(node: object): number | undefined {
  for (const field of ["status", "statusCode"]) {
    const value = readField(node, field);
    if (typeof value === "number" && Number.isInteger(value)) return value;
  }
  return undefined;
}

/** Reads a property without letting a throwing getter escape. */
function readField(value: object, field: string): unknown {
  try {
    return (value as Record<string, unknown>)[field];
  } catch {
    return undefined;
  }
}
