/**
 * `OAuthBridge`: everything the `SessionManager` offers for AT Protocol
 * OAuth, behind one object the manager creates once and delegates to
 * (`oauthStores`, `getOAuthSession`, `getOAuthSessionFromBearer`,
 * `onOAuthSessionDeleted`, `signOut`, `createHandoffCode`,
 * `redeemHandoffCode`).
 *
 * @module
 */

import { isValidDid } from "../did.ts";
import type { SessionMetadata } from "../store.ts";
import type { SessionInput } from "../types.ts";
import { summarizeOAuthError } from "./_classify.ts";
import type { OAuthHost } from "./_host.ts";
import { ReplacementTracker } from "./_replacement.ts";
import {
  createHandoffCode,
  DEFAULT_HANDOFF_TTL_MS,
  redeemHandoffCode,
} from "./handoff.ts";
import { createOAuthStores } from "./oauth_stores.ts";
import { getOAuthSession, getOAuthSessionFromBearer } from "./oauth_session.ts";
import { signOut } from "./sign_out.ts";
import type {
  HandoffCode,
  OAuthBearerResult,
  OAuthClientLike,
  OAuthSessionLike,
  OAuthSessionResult,
  OAuthStores,
  OAuthStoresOptions,
  SignOutOptions,
} from "./types.ts";

/** Options of {@linkcode OAuthBridge}. */
export interface OAuthBridgeOptions {
  /**
   * How long a hand-off code lives, in milliseconds.
   * @default {60000}
   */
  handoffTtlMs?: number;
}

/**
 * The OAuth half of a `SessionManager`, written against {@linkcode OAuthHost}
 * so it has no dependency on the manager's internals.
 *
 * @typeParam T The app's extra session fields.
 */
export class OAuthBridge<T extends object = Record<never, never>> {
  readonly #host: OAuthHost<T>;
  readonly #tracker: ReplacementTracker;
  readonly #handoffTtlMs: number;
  readonly #background = new Set<Promise<void>>();

  /**
   * @param host The manager.
   * @param options Hand-off lifetime.
   */
  constructor(host: OAuthHost<T>, options: OAuthBridgeOptions = {}) {
    this.#host = host;
    this.#handoffTtlMs = options.handoffTtlMs ?? DEFAULT_HANDOFF_TTL_MS;
    this.#tracker = new ReplacementTracker((did, replaced) => {
      if (replaced) {
        host.logger.info(
          "OAuth session replaced by a new sign-in; app sessions kept",
        );
        return;
      }
      this.#track(this.#endAppSessions(did));
    });
  }

  /**
   * `sessions.oauthStores(options)`.
   *
   * @param options Lifetimes and lock timings, in seconds.
   * @returns `{ stateStore, sessionStore, requestLock }`.
   * @throws {ConfigurationError} Without a `KeyValueStore`.
   */
  oauthStores(options?: OAuthStoresOptions): OAuthStores {
    return createOAuthStores(this.#host, this.#tracker, options);
  }

  /**
   * `sessions.getOAuthSession(request, client)`.
   *
   * @param request The request with the session cookie.
   * @param client The OAuth client.
   * @returns The app session and the restored OAuth session, or a typed
   * error; never throws on client input.
   */
  getOAuthSession<S extends OAuthSessionLike>(
    request: { readonly headers: Pick<Headers, "get"> },
    client: OAuthClientLike<S>,
  ): Promise<OAuthSessionResult<T, S>> {
    return getOAuthSession(
      this.#host,
      request,
      client,
      (did) => this.#endUnlessReplacing(did),
    );
  }

  /**
   * `sessions.getOAuthSessionFromBearer(header, client)`.
   *
   * @param authorizationHeader The `Authorization` header value.
   * @param client The OAuth client.
   * @returns The token's session and the restored OAuth session, or a
   * typed error; never throws on client input.
   */
  getOAuthSessionFromBearer<S extends OAuthSessionLike>(
    authorizationHeader: string | null | undefined,
    client: OAuthClientLike<S>,
  ): Promise<OAuthBearerResult<T, S>> {
    return getOAuthSessionFromBearer(
      this.#host,
      authorizationHeader,
      client,
      (did) => this.#endUnlessReplacing(did),
    );
  }

  /**
   * `sessions.onOAuthSessionDeleted(did, cause)`: pass it as the client's
   * `onSessionDeleted` hook (atcute: from a `deleted` event listener). Ends
   * every app session of the DID when its OAuth session ended, except when
   * the deletion is a new sign-in (`callback()`) replacing it, or
   * `signOut` revoking it. Never rejects.
   *
   * @param did The DID whose OAuth session was deleted.
   * @param cause What the client gave as the reason.
   */
  async onOAuthSessionDeleted(did: string, cause?: unknown): Promise<void> {
    if (!isValidDid(did)) return;
    const verdict = this.#tracker.deleted(did);
    const summary = summarizeOAuthError(cause);
    switch (verdict.kind) {
      case "sign-out":
        this.#host.logger.debug("OAuth session deleted by signOut", summary);
        return;
      case "pending":
        this.#host.logger.debug(
          "OAuth session deleted during a sign-in; waiting for its replacement",
          summary,
        );
        return;
      case "ended":
        this.#host.logger.info(
          "OAuth session ended; revoking the app sessions",
          summary,
        );
        await this.#endAppSessions(did);
    }
  }

  /**
   * `sessions.signOut(request, client, options)`.
   *
   * @param request The request with the session cookie.
   * @param client The OAuth client.
   * @param options `everywhere` to end every app session of the user.
   * @returns The clearing `Set-Cookie` header.
   * @throws {ConfigurationError} Without a store.
   * @throws {StoreError} When the store fails.
   */
  signOut<S extends OAuthSessionLike>(
    request: { readonly headers: Pick<Headers, "get"> },
    client: OAuthClientLike<S>,
    options?: SignOutOptions,
  ): Promise<string> {
    return signOut(this.#host, this.#tracker, request, client, options);
  }

  /**
   * `sessions.createHandoffCode(data, metadata)`.
   *
   * @param data The session the token will carry.
   * @param metadata What to record about the device.
   * @returns The single-use code and its expiry.
   * @throws {ConfigurationError} Without a `KeyValueStore`.
   * @throws {SessionDataError} When the data cannot become a session.
   * @throws {StoreError} When the store fails.
   */
  createHandoffCode(
    data: SessionInput<T>,
    metadata?: SessionMetadata,
  ): Promise<HandoffCode> {
    return createHandoffCode(this.#host, data, metadata, this.#handoffTtlMs);
  }

  /**
   * `sessions.redeemHandoffCode(code, metadata)`.
   *
   * @param code The code the app POSTed.
   * @param metadata What the app reports about itself.
   * @returns A Bearer token, or null.
   * @throws {ConfigurationError} Without a `KeyValueStore`.
   */
  redeemHandoffCode(
    code: string,
    metadata?: SessionMetadata,
  ): Promise<string | null> {
    return redeemHandoffCode(this.#host, code, metadata);
  }

  /**
   * Resolves once every app-session revocation the deletion hook started in
   * the background has finished (for tests and graceful shutdown).
   */
  async settled(): Promise<void> {
    while (this.#background.size > 0) {
      await Promise.all([...this.#background]);
    }
  }

  /** A restore found the session ended; defer if a sign-in is replacing it. */
  async #endUnlessReplacing(did: string): Promise<"ended" | "replacing"> {
    if (this.#tracker.isPending(did)) return "replacing";
    await this.#endAppSessions(did);
    return "ended";
  }

  async #endAppSessions(did: string): Promise<void> {
    try {
      const count = await this.#host.revokeAllSessions(did);
      this.#host.logger.info("App sessions of an ended OAuth session revoked", {
        count,
      });
    } catch (error) {
      this.#host.logger.warn(
        "App sessions of an ended OAuth session could not be revoked",
        summarizeOAuthError(error),
      );
    }
  }

  #track(work: Promise<void>): void {
    this.#background.add(work);
    work.finally(() => this.#background.delete(work));
  }
}
