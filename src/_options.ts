/**
 * Validation of `SessionManager` options, done once at construction.
 *
 * @module
 */

import { compileTrustedOrigins } from "./origin_check.ts";
import {
  renderCookieAttributes,
  resolveCookieOptions,
  type ResolvedCookieOptions,
} from "./_cookie.ts";
import { describeValue as describe } from "./_describe.ts";
import { safeLogger } from "./_safe_logger.ts";
import { SealKeyring } from "./_seal.ts";
import { ConfigurationError } from "./errors.ts";
import type { SessionEventHandler } from "./events.ts";
import { type Logger, noopLogger } from "./logger.ts";
import type { SessionStore } from "./store.ts";
import type { SessionManagerOptions } from "./options.ts";

/** Browsers cap cookie lifetimes at 400 days. */
const MAX_COOKIE_LIFETIME_SECONDS = 400 * 24 * 60 * 60;

/** The defaults of every optional setting. */
const DEFAULT_OPTIONS: Readonly<{
  cookieName: string;
  sessionTtl: number;
  clockSkew: number;
  refreshAfter: number;
  cacheSize: number;
  storeTimeout: number;
  tokenReuseGrace: number;
  oauthTimeout: number;
  handoffTtl: number;
}> = Object.freeze({
  cookieName: "sid",
  sessionTtl: 7 * 24 * 60 * 60,
  clockSkew: 0,
  refreshAfter: 60,
  cacheSize: 5000,
  // Far above a healthy round trip (well under 10 ms on Redis or Deno KV,
  // with room for Deno KV's bounded lock-contention retries), far below the
  // 30-60 s after which proxies and load balancers give up on a request.
  storeTimeout: 5000,
  // Covers a mobile client whose refresh reply was lost and that retries
  // after a typical HTTP timeout; Okta's refresh-token grace defaults to
  // 30 s too. Short, because within it the old token yields the live one.
  tokenReuseGrace: 30,
  // A token refresh is about three round trips to the PDS, each well under
  // a second when it is healthy; the OAuth client bounds identity
  // resolution at 10 s as well.
  oauthTimeout: 10,
  handoffTtl: 60,
});

const STORE_METHODS = [
  "createSession",
  "getSession",
  "updateSession",
  "rotateToken",
  "listSessions",
  "deleteSession",
  "deleteAllSessions",
  "revokeToken",
  "isTokenRevoked",
] as const;

/** Options after validation, with times in milliseconds. */
export interface ResolvedOptions {
  readonly keyring: SealKeyring;
  readonly cookieName: string;
  readonly cookie: ResolvedCookieOptions;
  /** `; Path=/; HttpOnly; ...`, appended to every Set-Cookie line. */
  readonly cookieAttributes: string;
  readonly sessionTtlMs: number;
  readonly tokenTtlMs: number;
  readonly maxSessionAgeMs: number;
  readonly clockSkewMs: number;
  readonly refreshAfterMs: number;
  readonly cacheSize: number;
  readonly storeTimeoutMs: number;
  readonly tokenReuseGraceMs: number;
  /** The caller's logger wrapped so that nothing it throws escapes. */
  readonly logger: Logger;
  readonly store: SessionStore | undefined;
  readonly maxSessionsPerUser: number | undefined;
  readonly onEvent: SessionEventHandler | undefined;
  readonly trustedOrigins: readonly string[];
  readonly oauthTimeoutMs: number;
  readonly handoffTtlMs: number;
  readonly now: () => number;
  readonly generateId: () => string;
}

function fail(message: string): never {
  throw new ConfigurationError(`Cannot create SessionManager: ${message}`);
}

function seconds(
  name: string,
  value: unknown,
  { min, max, integer }: { min: number; max: number; integer: boolean },
): number {
  if (
    typeof value !== "number" || !Number.isFinite(value) || value < min ||
    value > max || (integer && !Number.isInteger(value))
  ) {
    fail(
      `${name} must be ${
        integer ? "an integer" : "a number"
      } of seconds from ${min} to ${max}: received ${describe(value)}`,
    );
  }
  return value;
}

/**
 * Validates options and applies defaults.
 *
 * @param options The caller's options.
 * @returns The resolved options.
 * @throws {ConfigurationError} With a message that says what to fix.
 */
export function resolveOptions(
  options: SessionManagerOptions,
): ResolvedOptions {
  if (options === null || typeof options !== "object") {
    fail(
      `options must be an object with a cookieSecret: received ${
        describe(options)
      }`,
    );
  }
  const keyring = new SealKeyring(options.cookieSecret);
  const cookieName = options.cookieName ?? DEFAULT_OPTIONS.cookieName;
  const cookie = resolveCookieOptions(cookieName, options.cookie);
  const sessionTtl = seconds(
    "sessionTtl",
    options.sessionTtl ?? DEFAULT_OPTIONS.sessionTtl,
    { min: 1, max: MAX_COOKIE_LIFETIME_SECONDS, integer: true },
  );
  const tokenTtl = seconds("tokenTtl", options.tokenTtl ?? sessionTtl, {
    min: 1,
    max: 10 * 365 * 24 * 60 * 60,
    integer: true,
  });
  const maxSessionAge = options.maxSessionAge === undefined
    ? Infinity
    : seconds("maxSessionAge", options.maxSessionAge, {
      min: 1,
      max: Number.MAX_SAFE_INTEGER / 1000,
      integer: true,
    });
  const clockSkew = seconds(
    "clockSkew",
    options.clockSkew ?? DEFAULT_OPTIONS.clockSkew,
    {
      min: 0,
      max: 3600,
      integer: false,
    },
  );
  const refreshAfter = options.refreshAfter ??
    Math.min(DEFAULT_OPTIONS.refreshAfter, sessionTtl / 2);
  if (
    typeof refreshAfter !== "number" || !(refreshAfter >= 0) ||
    !(refreshAfter < sessionTtl)
  ) {
    fail(
      `refreshAfter must be a number of seconds from 0 up to, not including, sessionTtl (${sessionTtl}): received ${
        describe(refreshAfter)
      }`,
    );
  }
  const cacheSize = options.cacheSize ?? DEFAULT_OPTIONS.cacheSize;
  if (!Number.isSafeInteger(cacheSize) || cacheSize < 0) {
    fail(
      `cacheSize must be a non-negative integer (0 disables the cache): received ${
        describe(cacheSize)
      }`,
    );
  }
  const logger = options.logger ?? noopLogger;
  for (const level of ["debug", "info", "warn", "error"] as const) {
    if (typeof logger?.[level] !== "function") {
      fail(
        `logger must have debug, info, warn and error methods: ${level} is ${
          describe(logger?.[level])
        }`,
      );
    }
  }
  const store = options.store;
  if (store !== undefined) {
    for (const method of STORE_METHODS) {
      if (typeof store?.[method] !== "function") {
        fail(
          `store must implement the SessionStore interface: ${method} is ${
            describe(store?.[method])
          }`,
        );
      }
    }
  }
  let maxSessionsPerUser: number | undefined;
  if (options.maxSessionsPerUser !== undefined) {
    if (store === undefined) {
      fail(
        "maxSessionsPerUser needs a store: pass store, such as new MemorySessionStore()",
      );
    }
    if (
      !Number.isSafeInteger(options.maxSessionsPerUser) ||
      options.maxSessionsPerUser < 1
    ) {
      fail(
        `maxSessionsPerUser must be a positive integer: received ${
          describe(options.maxSessionsPerUser)
        }`,
      );
    }
    maxSessionsPerUser = options.maxSessionsPerUser;
  }
  const storeTimeout = options.storeTimeout ?? DEFAULT_OPTIONS.storeTimeout;
  if (
    !Number.isSafeInteger(storeTimeout) || storeTimeout < 1 ||
    storeTimeout > 600_000
  ) {
    fail(
      `storeTimeout must be an integer of milliseconds from 1 to 600000: received ${
        describe(storeTimeout)
      }`,
    );
  }
  const tokenReuseGrace = seconds(
    "tokenReuseGrace",
    options.tokenReuseGrace ?? DEFAULT_OPTIONS.tokenReuseGrace,
    { min: 0, max: 3600, integer: false },
  );
  const onEvent = options.onEvent;
  if (onEvent !== undefined && typeof onEvent !== "function") {
    fail(
      `onEvent must be a function that receives events: received ${
        describe(onEvent)
      }`,
    );
  }
  // Read Date.now at every call, so fake timers installed later apply.
  const now = options.now ?? (() => Date.now());
  if (typeof now !== "function") {
    fail(
      `now must be a function returning milliseconds: received ${
        describe(now)
      }`,
    );
  }
  const generateId = options.generateId ?? (() => crypto.randomUUID());
  if (typeof generateId !== "function") {
    fail(
      `generateId must be a function returning a string: received ${
        describe(generateId)
      }`,
    );
  }
  return {
    keyring,
    cookieName,
    cookie,
    cookieAttributes: renderCookieAttributes(cookie),
    sessionTtlMs: sessionTtl * 1000,
    tokenTtlMs: tokenTtl * 1000,
    maxSessionAgeMs: maxSessionAge * 1000,
    clockSkewMs: clockSkew * 1000,
    refreshAfterMs: refreshAfter * 1000,
    cacheSize,
    storeTimeoutMs: storeTimeout,
    tokenReuseGraceMs: tokenReuseGrace * 1000,
    logger: safeLogger(logger),
    store,
    maxSessionsPerUser,
    onEvent,
    trustedOrigins: compileTrustedOrigins(options.trustedOrigins),
    oauthTimeoutMs: seconds(
      "oauthTimeout",
      options.oauthTimeout ?? DEFAULT_OPTIONS.oauthTimeout,
      { min: 0.001, max: 600, integer: false },
    ) * 1000,
    handoffTtlMs: seconds(
      "handoffTtl",
      options.handoffTtl ?? DEFAULT_OPTIONS.handoffTtl,
      { min: 1, max: 3600, integer: true },
    ) * 1000,
    now,
    generateId,
  };
}
