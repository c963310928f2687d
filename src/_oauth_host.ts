/**
 * The manager side of the AT Protocol OAuth bridge: builds the
 * {@linkcode OAuthHost} that `src/oauth/` runs against from a manager and
 * its internals.
 *
 * @module
 */

import type { ManagerContext } from "./_context.ts";
import { settleWithin, StoreTimeoutError } from "./_store_calls.ts";
import type { OAuthHost } from "./oauth/_host.ts";
import type { SessionManagerDevices } from "./session_manager_devices.ts";

/** Values the bridge keeps at rest are sealed for this purpose only. */
const OAUTH_VALUE_PURPOSE = "oauth";

/**
 * The manager as the OAuth bridge sees it.
 *
 * @param manager The manager (its public methods).
 * @param context Its internals.
 * @returns The host.
 */
export function oauthHostOf<T extends object>(
  manager: SessionManagerDevices<T>,
  context: ManagerContext,
): OAuthHost<T> {
  const options = context.options;
  return {
    store: context.store,
    logger: context.logger,
    now: () => context.now(),
    generateId: () => context.newId(),
    sealValue: (value, ttlMs) =>
      context.sealValue(OAUTH_VALUE_PURPOSE, value, ttlMs),
    async openValue(sealed) {
      try {
        const value = await context.openValue(OAUTH_VALUE_PURPOSE, sealed);
        return value === undefined ? null : value;
      } catch {
        return null;
      }
    },
    async withDeadline(promise, ms) {
      const outcome = await settleWithin("oauth", () => promise, ms);
      if (outcome.ok) return outcome.value;
      if (outcome.error instanceof StoreTimeoutError) {
        const timeout = new Error(`Did not settle within ${ms} ms`);
        timeout.name = "TimeoutError";
        throw timeout;
      }
      throw outcome.error;
    },
    storeTimeoutMs: options.storeTimeoutMs,
    oauthTimeoutMs: options.oauthTimeoutMs,
    getSessionFromRequest: (request) => manager.getSessionFromRequest(request),
    validateBearerToken: (header) => manager.validateBearerToken(header),
    sealToken: (data, metadata) => manager.sealToken(data, metadata),
    revokeSession: (id, did) => manager.revokeSession(id, did),
    revokeAllSessions: (did) => manager.revokeAllSessions(did),
    listSessions: (did) => manager.listSessions(did),
    getClearCookieHeader: () => manager.getClearCookieHeader(),
  };
}
