/**
 * The state store, session store and request lock an AT Protocol OAuth
 * client needs, over the manager's {@linkcode KeyValueStore}: values sealed
 * at rest with the manager's secret, state entries that expire, and a lease
 * lock that works across processes.
 *
 * @module
 */

import { ConfigurationError, StoreError } from "../errors.ts";
import {
  KEY_VALUE_METHODS,
  type KeyValueStore,
  type SessionStore,
  type ValueNamespace,
} from "../store.ts";
import type { OAuthHost } from "./_host.ts";
import { storageKey } from "./_keys.ts";
import type { ReplacementTracker } from "./_replacement.ts";
import { createRequestLock } from "./request_lock.ts";
import type {
  OAuthStores,
  OAuthStoresOptions,
  OAuthValueStore,
} from "./types.ts";

/** The defaults of {@linkcode OAuthStoresOptions}, in seconds. */
export const OAUTH_STORES_DEFAULTS: Readonly<Required<OAuthStoresOptions>> =
  Object.freeze({
    // The client's own authorization state lives 10 minutes (atcute sets
    // `expiresAt` to now + 10 min): ample to sign in and consent.
    stateTtl: 10 * 60,
    // Two years: confidential clients' refresh tokens last that long with
    // use, public clients' 14 days; the PDS ends sessions, not this bound.
    sessionTtl: 2 * 365 * 24 * 60 * 60,
    // A refresh is a few round trips; a crashed holder blocks others this
    // long at most. Renewed every third while the holder runs.
    lockLease: 10,
    // Longer than one slow refresh by another holder, shorter than the
    // client's own 30 s bound on a session fetch.
    lockWait: 15,
  });

/**
 * Returns the manager's store as a {@linkcode KeyValueStore}, or throws a
 * `ConfigurationError` saying what to pass.
 *
 * @param store The manager's store.
 * @param method The method that needs it, for the message.
 * @returns The store.
 * @throws {ConfigurationError} Without a store, or with one that does not
 * implement `KeyValueStore`.
 */
export function requireKeyValueStore(
  store: SessionStore | undefined,
  method: string,
): SessionStore & KeyValueStore {
  if (store === undefined) {
    throw new ConfigurationError(
      `${method}() needs a store shared by every server process: pass one to the constructor, such as new SessionManager({ cookieSecret, store: new RedisSessionStore(redis) }) (MemorySessionStore for a single process)`,
    );
  }
  const missing = KEY_VALUE_METHODS.filter((name) =>
    typeof (store as unknown as Record<string, unknown>)[name] !== "function"
  );
  if (missing.length > 0) {
    throw new ConfigurationError(
      `${method}() needs a store that implements KeyValueStore (as every shipped store does): the store passed lacks ${
        missing.join(", ")
      }`,
    );
  }
  return store as SessionStore & KeyValueStore;
}

/**
 * Builds the three pieces over the host's store.
 *
 * @param host The manager.
 * @param tracker Watches state and session writes to recognise a sign-in
 * that replaces a DID's OAuth session.
 * @param options Lifetimes and lock timings, in seconds.
 * @returns `{ stateStore, sessionStore, requestLock }`.
 * @throws {ConfigurationError} Without a `KeyValueStore`, or with an
 * option that is not a positive finite number.
 */
export function createOAuthStores(
  host: OAuthHost<object>,
  tracker: ReplacementTracker,
  options: OAuthStoresOptions = {},
): OAuthStores {
  const store = requireKeyValueStore(host.store, "oauthStores");
  const resolved = resolveStoresOptions(options);
  const stateStore = new SealedValueStore(host, store, {
    namespace: "oauth_state",
    kind: "state",
    ttlMs: resolved.stateTtl * 1000,
    onTake: (value) => tracker.callbackStarted(value),
  });
  const sessionStore = new SealedValueStore(host, store, {
    namespace: "oauth_session",
    kind: "session",
    ttlMs: resolved.sessionTtl * 1000,
    onSet: (key, value) => tracker.sessionStored(key, value),
  });
  const requestLock = createRequestLock({
    store,
    leaseMs: resolved.lockLease * 1000,
    waitMs: resolved.lockWait * 1000,
    storeTimeoutMs: host.storeTimeoutMs,
    now: () => host.now(),
    generateId: () => host.generateId(),
    withDeadline: (promise, ms) => host.withDeadline(promise, ms),
    logger: host.logger,
  });
  return Object.freeze({ stateStore, sessionStore, requestLock });
}

function resolveStoresOptions(
  options: OAuthStoresOptions,
): Required<OAuthStoresOptions> {
  const resolved = { ...OAUTH_STORES_DEFAULTS };
  for (
    const name of Object.keys(OAUTH_STORES_DEFAULTS) as Array<
      keyof OAuthStoresOptions
    >
  ) {
    const value = options?.[name];
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
      throw new ConfigurationError(
        `Cannot create oauthStores: ${name} must be a positive number of seconds: received ${
          typeof value === "number" ? String(value) : typeof value
        }`,
      );
    }
    resolved[name] = value;
  }
  return resolved;
}

interface SealedValueStoreOptions {
  readonly namespace: ValueNamespace;
  readonly kind: "state" | "session";
  readonly ttlMs: number;
  /** Called when a value is read for deletion (a consumed state). */
  readonly onTake?: (value: unknown) => void;
  /** Called synchronously when `set` is entered. */
  readonly onSet?: (key: string, value: unknown) => void;
}

/**
 * A namespace of the key-value store seen as a client's store: JSON values
 * sealed with the manager's secret, expiring `ttlMs` after each write
 * (checked on read, through the store's `now` and the seal's own expiry).
 */
class SealedValueStore implements OAuthValueStore {
  readonly #host: OAuthHost<object>;
  readonly #store: KeyValueStore;
  readonly #options: SealedValueStoreOptions;
  /** Values read on this process, so a consumed state need not be reread. */
  readonly #lastRead = new Map<string, unknown>();

  constructor(
    host: OAuthHost<object>,
    store: KeyValueStore,
    options: SealedValueStoreOptions,
  ) {
    this.#host = host;
    this.#store = store;
    this.#options = options;
  }

  async get<V = unknown>(
    key: string,
    options?: { signal?: AbortSignal },
  ): Promise<V | undefined> {
    options?.signal?.throwIfAborted();
    const { namespace, kind } = this.#options;
    const sealed = await this.#call(
      "getValue",
      async () =>
        this.#store.getValue(
          namespace,
          await storageKey(kind, key),
          this.#host.now(),
        ),
    );
    if (sealed === null) return undefined;
    const value = await this.#host.openValue(sealed);
    if (value === null || typeof value !== "object") {
      this.#host.logger.warn(
        "Stored OAuth value could not be opened; treating it as missing",
        { namespace },
      );
      return undefined;
    }
    if (this.#options.onTake !== undefined) {
      this.#lastRead.set(key, value);
      if (this.#lastRead.size > 1000) {
        this.#lastRead.delete(this.#lastRead.keys().next().value as string);
      }
    }
    return value as V;
  }

  async set<V = unknown>(key: string, value: V): Promise<void> {
    this.#options.onSet?.(key, value);
    const { namespace, kind, ttlMs } = this.#options;
    let sealed: string;
    try {
      sealed = await this.#host.sealValue(value, ttlMs);
    } catch (error) {
      throw new TypeError(
        `Cannot store the OAuth ${kind}: it must be JSON-serialisable`,
        { cause: error },
      );
    }
    await this.#call("setValue", async () => {
      const now = this.#host.now();
      await this.#store.setValue(
        namespace,
        await storageKey(kind, key),
        sealed,
        now + ttlMs,
        now,
      );
    });
  }

  async del(key: string): Promise<void> {
    const { namespace, kind, onTake } = this.#options;
    if (onTake !== undefined) {
      const read = this.#lastRead.get(key);
      this.#lastRead.delete(key);
      if (read !== undefined) onTake(read);
    }
    await this.#call(
      "deleteValue",
      async () =>
        this.#store.deleteValue(
          namespace,
          await storageKey(kind, key),
          this.#host.now(),
        ),
    );
  }

  delete(key: string): Promise<void> {
    return this.del(key);
  }

  async clear(): Promise<void> {
    this.#lastRead.clear();
    await this.#call(
      "clearValues",
      () => this.#store.clearValues(this.#options.namespace),
    );
  }

  /** Bounds a store call; a failure becomes a `StoreError` for the client. */
  async #call<R>(operation: string, call: () => Promise<R>): Promise<R> {
    try {
      return await this.#host.withDeadline(call(), this.#host.storeTimeoutMs);
    } catch (error) {
      this.#host.logger.warn("Session store unavailable", {
        operation,
        namespace: this.#options.namespace,
      });
      throw new StoreError(
        `Session store failed during ${operation} for an OAuth ${this.#options.kind}`,
        { cause: error },
      );
    }
  }
}
