/**
 * Session management for AT Protocol (Bluesky) apps: Iron-sealed cookies for
 * browsers and Bearer tokens for mobile clients, read from standard Web
 * `Request`s, with optional server-side sessions (device lists, revocation,
 * per-user limits) in memory, Deno KV or Redis.
 *
 * Runs anywhere Web Crypto does: Deno, Node, Bun, workers and browsers.
 *
 * @example Sign in, then read the session on later requests
 * ```ts
 * import { SessionManager } from "@tijs/atproto-sessions";
 * import assert from "node:assert/strict";
 *
 * const sessions = new SessionManager({
 *   cookieSecret: "a-secret-of-at-least-32-characters!", // use an env var
 * });
 *
 * // In the OAuth callback, once you know the user's DID:
 * const setCookie = await sessions.createSession({ did: "did:plc:ewvi7nxzyoun6zhxrhs64oiz" });
 *
 * // On every later request:
 * const request = new Request("http://localhost/", {
 *   headers: { cookie: setCookie.split(";")[0]! },
 * });
 * const { data, error } = await sessions.getSessionFromRequest(request);
 * assert.equal(error, null);
 * assert.equal(data?.did, "did:plc:ewvi7nxzyoun6zhxrhs64oiz");
 * ```
 *
 * @module
 */

export { SessionManager } from "./src/session_manager.ts";
export { SessionManagerCore } from "./src/session_manager_core.ts";
export { SessionManagerDevices } from "./src/session_manager_devices.ts";
export { RequestLockError } from "./src/oauth/request_lock.ts";
export type {
  HandoffCode,
  OAuthBearerErrorType,
  OAuthBearerResult,
  OAuthClientLike,
  OAuthSessionErrorType,
  OAuthSessionLike,
  OAuthSessionResult,
  OAuthStores,
  OAuthStoresOptions,
  OAuthValueStore,
  RequestLock,
  SignOutOptions,
} from "./src/oauth/types.ts";
export { authenticatedWithin } from "./src/freshness.ts";
export type { KeyIdUsage, KeyUsageReport } from "./src/_key_usage.ts";
export { isValidDid } from "./src/did.ts";
export {
  checkOrigin,
  compileTrustedOrigins,
  type OriginCheckReason,
  type OriginCheckRequest,
  type OriginCheckResult,
} from "./src/origin_check.ts";
export { type Logger, noopLogger } from "./src/logger.ts";
export {
  ConfigurationError,
  CookieError,
  SessionDataError,
  SessionsError,
  type SessionsErrorCode,
  StoreError,
} from "./src/errors.ts";
export type {
  BearerErrorType,
  BearerResult,
  SessionData,
  SessionErrorInfo,
  SessionErrorType,
  SessionInput,
  SessionResult,
} from "./src/types.ts";
export type {
  CookieOptions,
  CookieSecret,
  SessionManagerOptions,
} from "./src/options.ts";
export type {
  RevocationReason,
  SessionEvent,
  SessionEventBase,
  SessionEventHandler,
} from "./src/events.ts";
export type {
  CreateSessionOptions,
  KeyValueStore,
  RotationResult,
  SessionKind,
  SessionMetadata,
  SessionRecord,
  SessionRecordUpdate,
  SessionStore,
  TokenRotation,
  ValueNamespace,
} from "./src/store.ts";
