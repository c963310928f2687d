/**
 * Public types of the AT Protocol OAuth bridge: the stores and lock handed
 * to an OAuth client, the shape of the client the bridge calls, and the
 * results of `getOAuthSession` and its Bearer twin. Everything is
 * structural: nothing here imports `@atproto/*` or `@atcute/*`.
 *
 * @module
 */

import type {
  BearerErrorType,
  SessionData,
  SessionErrorInfo,
  SessionErrorType,
} from "../types.ts";

/**
 * A string-keyed store of JSON values that satisfies both
 * `@atproto/oauth-client`'s `SimpleStore` (`get`, `set`, `del`, `clear`) and
 * `@atcute/oauth-node-client`'s `Store` (`get`, `set`, `delete`, `clear`).
 *
 * @example Passing the same store to either client
 * ```ts
 * import type { OAuthValueStore } from "@tijs/atproto-sessions";
 *
 * async function roundTrip(store: OAuthValueStore): Promise<unknown> {
 *   await store.set("key", { a: 1 });
 *   const value = await store.get("key");
 *   await store.del("key"); // @atproto/oauth-client's name
 *   await store.delete("key"); // @atcute/oauth-node-client's name
 *   return value;
 * }
 * ```
 */
export interface OAuthValueStore {
  /**
   * Returns the live value, or `undefined` when absent or expired.
   *
   * @typeParam V The value type the client stores (its own state or
   * session shape); the store holds whatever JSON the client gave it.
   */
  get<V = unknown>(
    key: string,
    options?: { signal?: AbortSignal },
  ): Promise<V | undefined>;
  /** Stores a JSON value (sealed at rest). */
  set<V = unknown>(key: string, value: V): Promise<void>;
  /** Deletes a value (`@atproto/oauth-client`'s name). */
  del(key: string): Promise<void>;
  /** Deletes a value (`@atcute/oauth-node-client`'s name). */
  delete(key: string): Promise<void>;
  /** Deletes every value of this store. */
  clear(): Promise<void>;
}

/**
 * The lock both OAuth clients accept as `requestLock`: runs `fn` while
 * holding the lease `name` across every process sharing the store, and
 * rejects (without running `fn`) when the lease cannot be taken in time.
 *
 * @example
 * ```ts
 * import type { RequestLock } from "@tijs/atproto-sessions";
 *
 * async function once(lock: RequestLock): Promise<number> {
 *   return await lock("my-lock", () => 42);
 * }
 * ```
 */
export type RequestLock = <R>(
  name: string,
  fn: () => R | PromiseLike<R>,
) => Promise<R>;

/**
 * What `sessions.oauthStores()` returns: pass all three to
 * `new NodeOAuthClient({ stateStore, sessionStore, requestLock, ... })`, or
 * `stores: { states: stateStore, sessions: sessionStore }` and
 * `requestLock` to `@atcute/oauth-node-client`'s `OAuthClient`.
 *
 * @example
 * ```ts
 * import type { OAuthStores } from "@tijs/atproto-sessions";
 *
 * function keys(stores: OAuthStores): string[] {
 *   return Object.keys(stores).sort();
 * }
 * ```
 */
export interface OAuthStores {
  /** Authorization state, keyed by `state`; entries expire (10 min). */
  readonly stateStore: OAuthValueStore;
  /** OAuth sessions (DPoP key, tokens), keyed by DID, sealed at rest. */
  readonly sessionStore: OAuthValueStore;
  /** The cross-process refresh lock. */
  readonly requestLock: RequestLock;
}

/**
 * Options of `sessions.oauthStores(options)`. Times are in seconds.
 *
 * @example
 * ```ts
 * import type { OAuthStoresOptions } from "@tijs/atproto-sessions";
 *
 * const options: OAuthStoresOptions = { stateTtl: 300, lockWait: 5 };
 * ```
 */
export interface OAuthStoresOptions {
  /**
   * How long an authorization state lives: the time a user has to finish
   * signing in at their PDS.
   * @default {600}
   */
  stateTtl?: number;
  /**
   * How long a stored OAuth session is kept after its last write (each
   * token refresh writes it). Longer than any refresh token lives (public
   * clients: 14 days; confidential: up to 2 years with activity), so the
   * PDS, not this store, decides when a session ends; it only bounds what
   * an abandoned session costs.
   * @default {63072000}
   */
  sessionTtl?: number;
  /**
   * The lock's lease: how long a crashed holder blocks others. Renewed
   * every third of it while `fn` runs.
   * @default {10}
   */
  lockLease?: number;
  /**
   * How long `requestLock` waits for a held lease before it throws.
   * @default {15}
   */
  lockWait?: number;
}

/**
 * The part of an OAuth session the bridge hands back: `@atproto`'s
 * `OAuthSession` and `@atcute`'s `OAuthSession` both fit.
 *
 * @example
 * ```ts
 * import type { OAuthSessionLike } from "@tijs/atproto-sessions";
 *
 * function didOf(session: OAuthSessionLike): string {
 *   return session.did;
 * }
 * ```
 */
export interface OAuthSessionLike {
  /** The account's DID. */
  readonly did: string;
}

/**
 * The calls the bridge makes on an OAuth client. `NodeOAuthClient` from
 * `@atproto/oauth-client-node` and `OAuthClient` from
 * `@atcute/oauth-node-client` both satisfy it.
 *
 * @typeParam S The client's session type.
 *
 * @example
 * ```ts
 * import type { OAuthClientLike, OAuthSessionLike } from "@tijs/atproto-sessions";
 *
 * const client: OAuthClientLike<OAuthSessionLike> = {
 *   restore: (did) => Promise.resolve({ did }),
 *   revoke: () => Promise.resolve(),
 * };
 * ```
 */
export interface OAuthClientLike<S extends OAuthSessionLike> {
  /** Loads (and refreshes when due) the DID's stored OAuth session. */
  restore(did: string): Promise<S>;
  /** Revokes the DID's OAuth session at its PDS and deletes it. */
  revoke(did: string): Promise<void>;
}

/**
 * Why `getOAuthSession` returned no OAuth session: the cookie's own error
 * types, plus
 *
 * - `OAUTH_SESSION_ENDED`: terminal. The PDS revoked the grant
 *   (`invalid_grant`), the refresh token expired, or the stored OAuth
 *   session is gone. Every app session of the DID was revoked and
 *   `setCookieHeader` clears the cookie: sign the user in again (401).
 * - `OAUTH_UNAVAILABLE`: transient. The PDS or its directory did not answer
 *   in time, answered 5xx, or the lock or store was unavailable. The cookie
 *   is kept (`setCookieHeader` is null, so it is not refreshed either) and
 *   `data` still says who the user is: answer 503 and let them retry.
 *
 * @example
 * ```ts
 * import type { OAuthSessionErrorType } from "@tijs/atproto-sessions";
 *
 * function status(type: OAuthSessionErrorType): number {
 *   return type === "OAUTH_UNAVAILABLE" || type === "STORE_UNAVAILABLE" ? 503 : 401;
 * }
 * ```
 */
export type OAuthSessionErrorType =
  | SessionErrorType
  | "OAUTH_SESSION_ENDED"
  | "OAUTH_UNAVAILABLE";

/**
 * Why `getOAuthSessionFromBearer` returned no OAuth session: the Bearer
 * token's error types plus `OAUTH_SESSION_ENDED` and `OAUTH_UNAVAILABLE`
 * (see {@linkcode OAuthSessionErrorType}).
 *
 * @example
 * ```ts
 * import type { OAuthBearerErrorType } from "@tijs/atproto-sessions";
 *
 * const type: OAuthBearerErrorType = "OAUTH_SESSION_ENDED";
 * ```
 */
export type OAuthBearerErrorType =
  | BearerErrorType
  | "OAUTH_SESSION_ENDED"
  | "OAUTH_UNAVAILABLE";

/**
 * The result of `getOAuthSession(request, client)`.
 *
 * - Success: `data`, the restored `oauthSession` and the cookie's
 *   `setCookieHeader` (send it back, as with `getSessionFromRequest`).
 * - `OAUTH_UNAVAILABLE`: `data` is the app session, `oauthSession` and
 *   `setCookieHeader` are null.
 * - Every other error: `data` and `oauthSession` are null and
 *   `setCookieHeader` clears a rejected cookie (or is null).
 *
 * @typeParam T The app's extra session fields.
 * @typeParam S The client's session type.
 *
 * @example Answering from the result
 * ```ts
 * import type { OAuthSessionLike, OAuthSessionResult } from "@tijs/atproto-sessions";
 *
 * function status(result: OAuthSessionResult<Record<never, never>, OAuthSessionLike>): number {
 *   if (result.error === null) return 200;
 *   return result.error.type === "OAUTH_UNAVAILABLE" ? 503 : 401;
 * }
 * ```
 */
export type OAuthSessionResult<T extends object, S extends OAuthSessionLike> =
  | {
    readonly data: SessionData & T;
    readonly oauthSession: S;
    readonly setCookieHeader: string;
    readonly error: null;
  }
  | {
    readonly data: SessionData & T;
    readonly oauthSession: null;
    readonly setCookieHeader: null;
    readonly error: SessionErrorInfo<"OAUTH_UNAVAILABLE">;
  }
  | {
    readonly data: null;
    readonly oauthSession: null;
    readonly setCookieHeader: string | null;
    readonly error: SessionErrorInfo<
      Exclude<OAuthSessionErrorType, "OAUTH_UNAVAILABLE">
    >;
  };

/**
 * The result of `getOAuthSessionFromBearer(header, client)`: as
 * {@linkcode OAuthSessionResult}, without cookies.
 *
 * @typeParam T The app's extra session fields.
 * @typeParam S The client's session type.
 *
 * @example
 * ```ts
 * import type { OAuthBearerResult, OAuthSessionLike } from "@tijs/atproto-sessions";
 *
 * function didOf(result: OAuthBearerResult<Record<never, never>, OAuthSessionLike>): string | null {
 *   return result.oauthSession?.did ?? null;
 * }
 * ```
 */
export type OAuthBearerResult<T extends object, S extends OAuthSessionLike> =
  | {
    readonly data: SessionData & T;
    readonly oauthSession: S;
    readonly error: null;
  }
  | {
    readonly data: SessionData & T;
    readonly oauthSession: null;
    readonly error: SessionErrorInfo<"OAUTH_UNAVAILABLE">;
  }
  | {
    readonly data: null;
    readonly oauthSession: null;
    readonly error: SessionErrorInfo<
      Exclude<OAuthBearerErrorType, "OAUTH_UNAVAILABLE">
    >;
  };

/**
 * Options of `sessions.signOut(request, client, options)`.
 *
 * @example
 * ```ts
 * import type { SignOutOptions } from "@tijs/atproto-sessions";
 *
 * const options: SignOutOptions = { everywhere: true };
 * ```
 */
export interface SignOutOptions {
  /**
   * End every app session of the user (all browsers and phones) and revoke
   * the OAuth session at the PDS. Without it only this device signs out,
   * and the PDS is told only when it was the user's last app session.
   * @default {false}
   */
  everywhere?: boolean;
}

/**
 * A mobile hand-off code from `sessions.createHandoffCode(data)`.
 *
 * @example
 * ```ts
 * import type { HandoffCode } from "@tijs/atproto-sessions";
 *
 * function redirectTo(handoff: HandoffCode): string {
 *   return `myapp://signed-in?code=${encodeURIComponent(handoff.code)}`;
 * }
 * ```
 */
export interface HandoffCode {
  /** The single-use code (43 base64url characters) for the app's URL. */
  readonly code: string;
  /** When the code stops working, in milliseconds since the epoch. */
  readonly expiresAt: number;
}
