/**
 * `SessionManagerDevices`: the device list and revocation (the
 * store-backed management API), the second of three layers of
 * `SessionManager`. The work is done in `_session_admin.ts`.
 *
 * @module
 */

import { contextOf, type ManagerContext } from "./_context.ts";
import { SessionAdmin } from "./_session_admin.ts";
import { SessionManagerCore } from "./session_manager_core.ts";
import type { SessionRecord, SessionRecordUpdate } from "./store.ts";
import type { SessionManagerOptions } from "./options.ts";

/**
 * The device-management methods of {@linkcode SessionManager}: list a
 * user's sessions (browsers and phones alike), update, revoke one or all,
 * and revoke legacy Bearer tokens. Every method needs a store. Construct a
 * `SessionManager`, which extends this class.
 *
 * @typeParam T Extra fields the app keeps in its sessions.
 *
 * @example A "your devices" page
 * ```ts
 * import { SessionManager } from "@tijs/atproto-sessions";
 * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
 * import assert from "node:assert/strict";
 *
 * const sessions = new SessionManager({
 *   cookieSecret: "a-secret-of-at-least-32-characters!",
 *   store: new MemorySessionStore(),
 * });
 * const did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
 * await sessions.createSession({ did }, { userAgent: "Firefox" });
 * await sessions.sealToken({ did }, { label: "Alice's iPhone" });
 * const devices = await sessions.listSessions(did);
 * assert.deepEqual(devices.map((d) => d.kind).sort(), ["cookie", "token"]);
 * ```
 */
export class SessionManagerDevices<T extends object = Record<never, never>>
  extends SessionManagerCore<T> {
  readonly #admin: SessionAdmin;

  /**
   * Creates a manager. All validation happens here, once.
   *
   * @param options The secret and optional settings.
   * @throws {ConfigurationError} When an option is invalid.
   */
  constructor(options: SessionManagerOptions) {
    super(options);
    this.#admin = new SessionAdmin(contextOf(this) as ManagerContext);
  }

  /**
   * Returns an active session record (cookie or token) by id; see
   * `listSessions` for an example.
   *
   * @param sessionId The session id (`data.sessionId`).
   * @returns The record, or null when missing, expired or revoked.
   * @throws {ConfigurationError} Without a store.
   * @throws {StoreError} When the store fails or misses `storeTimeout`.
   */
  getSession(sessionId: string): Promise<SessionRecord | null> {
    return this.#admin.getSession(sessionId);
  }

  /**
   * Lists a DID's active sessions, browsers and phones alike, newest
   * first: the "your devices" page.
   *
   * @param did The user's DID.
   * @returns The active records (`kind` tells cookies from tokens).
   * @throws {ConfigurationError} Without a store.
   * @throws {StoreError} When the store fails or misses `storeTimeout`.
   *
   * @example
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({ cookieSecret: "a-secret-of-at-least-32-characters!", store: new MemorySessionStore() });
   * await sessions.createSession({ did: "did:web:example.com" }, { userAgent: "Firefox" });
   * await sessions.sealToken({ did: "did:web:example.com" }, { label: "Alice's iPhone" });
   * const devices = await sessions.listSessions("did:web:example.com");
   * assert.deepEqual(devices.map((d) => d.kind).sort(), ["cookie", "token"]);
   * ```
   */
  listSessions(did: string): Promise<readonly SessionRecord[]> {
    return this.#admin.listSessions(did);
  }

  /**
   * Updates a session record: merges `metadata`, and may move
   * `lastAccessed` or `expiresAt`.
   *
   * @param sessionId The session id.
   * @param update The fields to change.
   * @returns The updated record, or null when the session is not active.
   * @throws {ConfigurationError} Without a store.
   * @throws {TypeError} When `lastAccessed` or `expiresAt` is not finite.
   * @throws {StoreError} When the store fails or misses `storeTimeout`.
   */
  updateSession(
    sessionId: string,
    update: SessionRecordUpdate,
  ): Promise<SessionRecord | null> {
    return this.#admin.updateSession(sessionId, update);
  }

  /**
   * Revokes one session, cookie or token: it is rejected on the very next
   * request, on every server, whatever their caches hold.
   *
   * @param sessionId The session id.
   * @param did When given, revoke only if the session belongs to this DID.
   * Pass the signed-in user's DID whenever the id comes from a request.
   * @returns Whether a session was revoked.
   * @throws {ConfigurationError} Without a store.
   * @throws {StoreError} When the store fails or misses `storeTimeout`.
   *
   * @example
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({ cookieSecret: "a-secret-of-at-least-32-characters!", store: new MemorySessionStore() });
   * assert.equal(await sessions.revokeSession("no-such-id"), false);
   * ```
   */
  revokeSession(sessionId: string, did?: string): Promise<boolean> {
    return this.#admin.revokeSession(sessionId, did);
  }

  /**
   * Revokes every session of a DID, cookies and tokens ("sign out
   * everywhere").
   *
   * @param did The user's DID.
   * @returns How many sessions were revoked.
   * @throws {ConfigurationError} Without a store.
   * @throws {StoreError} When the store fails or misses `storeTimeout`.
   *
   * @example
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({ cookieSecret: "a-secret-of-at-least-32-characters!", store: new MemorySessionStore() });
   * await sessions.createSession({ did: "did:web:example.com" });
   * await sessions.sealToken({ did: "did:web:example.com" });
   * assert.equal(await sessions.revokeAllSessions("did:web:example.com"), 2);
   * ```
   */
  revokeAllSessions(did: string): Promise<number> {
    return this.#admin.revokeAllSessions(did);
  }

  /**
   * Revokes a token that has no session record (sealed by version 0.1, or
   * before a store was configured) by its `jti`, until `expiresAt` (plus
   * `clockSkew`). Tokens with a record are revoked with `revokeSession`.
   *
   * @param jti The token id.
   * @param expiresAt When the token expires: a Date or milliseconds.
   * @throws {ConfigurationError} Without a store.
   * @throws {TypeError} When `expiresAt` is not a valid time.
   * @throws {StoreError} When the store fails or misses `storeTimeout`.
   *
   * @example
   * ```ts
   * import { SessionManager } from "@tijs/atproto-sessions";
   * import { MemorySessionStore } from "@tijs/atproto-sessions/stores/memory";
   * import assert from "node:assert/strict";
   *
   * const sessions = new SessionManager({ cookieSecret: "a-secret-of-at-least-32-characters!", store: new MemorySessionStore() });
   * await sessions.revokeToken("jti-of-an-old-token", Date.now() + 60_000);
   * assert.equal(await sessions.isTokenRevoked("jti-of-an-old-token"), true);
   * ```
   */
  revokeToken(jti: string, expiresAt: Date | number): Promise<void> {
    return this.#admin.revokeToken(jti, expiresAt);
  }

  /**
   * Tells whether a token id was revoked with `revokeToken` (example
   * there).
   *
   * @param jti The token id.
   * @returns Whether it is revoked.
   * @throws {ConfigurationError} Without a store.
   * @throws {StoreError} When the store fails or misses `storeTimeout`.
   */
  isTokenRevoked(jti: string): Promise<boolean> {
    return this.#admin.isTokenRevoked(jti);
  }
}
