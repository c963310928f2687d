/**
 * The manager's internals, built once from the options and shared by the
 * cookie path, the token path and the management API; and the small
 * interface other internal modules (the AT Protocol OAuth glue) use:
 * the store, sealing for values at rest, the guarded logger, the clock,
 * deadline-bounded store calls and the event emitter.
 *
 * @module
 */

import { KeyUsageCounters, type KeyUsageReport } from "./_key_usage.ts";
import { SealCache } from "./_seal_cache.ts";
import { type ResolvedOptions, resolveOptions } from "./_options.ts";
import { Sealer } from "./_sealer.ts";
import { StoreCalls, type StoreOutcome } from "./_store_calls.ts";
import { EventEmitter } from "./_events.ts";
import { type VerifiedSeal, Verifier } from "./_verifier.ts";
import { ConfigurationError } from "./errors.ts";
import type { SessionEvent } from "./events.ts";
import type { Logger } from "./logger.ts";
import {
  KEY_VALUE_METHODS,
  type KeyValueStore,
  type SessionStore,
} from "./store.ts";
import type { SessionManagerOptions } from "./options.ts";

const NO_STORE_MESSAGE =
  "needs a store: pass one to the constructor, such as new SessionManager({ cookieSecret, store: new MemorySessionStore() })";

/**
 * What internal modules outside the manager (such as `src/oauth/`) may use.
 * Not part of the public API; obtain it with {@linkcode contextOf}.
 */
export interface InternalContext {
  /** The configured store, if any. */
  readonly store: SessionStore | undefined;
  /** The store as a {@linkcode KeyValueStore}, when it implements one. */
  readonly valueStore: KeyValueStore | undefined;
  /** The caller's logger, guarded so that it never throws. */
  readonly logger: Logger;
  /** The store-call deadline in milliseconds (`storeTimeout`). */
  readonly storeTimeoutMs: number;
  /**
   * Reads the clock.
   *
   * @throws {ConfigurationError} When it returns a non-finite value.
   */
  now(): number;
  /**
   * Seals a value to keep at rest, bound to `purpose`, with the manager's
   * secrets (the highest id seals; every configured id opens).
   */
  sealValue(
    purpose: string,
    value: unknown,
    ttlMs: number | null,
  ): Promise<string>;
  /** Opens a value sealed for `purpose`; undefined when it cannot. */
  openValue(purpose: string, sealed: string): Promise<unknown>;
  /**
   * A request-path store call bounded by `storeTimeout`: never rejects,
   * logs a `warn` on failure.
   */
  requestStoreCall<R>(
    operation: string,
    call: () => Promise<R>,
  ): Promise<StoreOutcome<R>>;
  /**
   * A management store call bounded by `storeTimeout`.
   *
   * @throws {StoreError} When the store fails or misses the deadline.
   */
  storeCall<R>(operation: string, call: () => Promise<R>): Promise<R>;
  /** Emits an event to `onEvent` without waiting for it. */
  emit(event: SessionEvent): void;
}

/** The manager's internals; see {@linkcode InternalContext}. */
export class ManagerContext implements InternalContext {
  /** The validated options. */
  readonly options: ResolvedOptions;
  /** The configured store, if any. */
  readonly store: SessionStore | undefined;
  /** The guarded logger. */
  readonly logger: Logger;
  /** Verifies seals, through the cache. */
  readonly verifier: Verifier;
  /** Mints seals. */
  readonly sealer: Sealer;
  /** Deadline-bounded store calls. */
  readonly storeCalls: StoreCalls;
  /** The `onEvent` emitter. */
  readonly events: EventEmitter;
  /** Per secret id: what it opened and when it was last seen. */
  readonly keyUsageCounters: KeyUsageCounters;

  /**
   * Validates the options and builds the internals.
   *
   * @param options The caller's options.
   * @throws {ConfigurationError} When an option is invalid.
   */
  constructor(options: SessionManagerOptions) {
    const resolved = resolveOptions(options);
    this.options = resolved;
    this.store = resolved.store;
    this.logger = resolved.logger;
    const keyring = resolved.keyring;
    this.keyUsageCounters = new KeyUsageCounters(
      keyring.ids,
      keyring.currentId,
    );
    this.verifier = new Verifier(
      keyring,
      new SealCache<VerifiedSeal>(resolved.cacheSize),
      resolved,
      resolved.logger,
      this.keyUsageCounters,
    );
    this.sealer = new Sealer(
      keyring,
      this.verifier,
      resolved.maxSessionAgeMs,
      this.keyUsageCounters,
    );
    this.storeCalls = new StoreCalls(resolved.storeTimeoutMs, resolved.logger);
    this.events = new EventEmitter(resolved.onEvent, resolved.logger);
  }

  /**
   * What each secret id opened since the manager started
   * (`sessions.keyUsage()`).
   *
   * @returns A snapshot, newest id first.
   */
  keyUsage(): KeyUsageReport {
    return this.keyUsageCounters.report(this.options.keyring.explicitDefault);
  }

  /** {@inheritDoc InternalContext.valueStore} */
  get valueStore(): KeyValueStore | undefined {
    const store = this.store as Partial<KeyValueStore> | undefined;
    return KEY_VALUE_METHODS.every((method) =>
        typeof store?.[method] === "function"
      )
      ? store as KeyValueStore
      : undefined;
  }

  /** The store-call deadline in milliseconds. */
  get storeTimeoutMs(): number {
    return this.options.storeTimeoutMs;
  }

  /**
   * Reads the clock once.
   *
   * @returns Milliseconds since the epoch.
   * @throws {ConfigurationError} When the clock returns a non-finite value
   * (request-path methods catch it and fail closed).
   */
  now(): number {
    const time = this.options.now();
    if (typeof time !== "number" || !Number.isFinite(time)) {
      throw new ConfigurationError(
        `The now option returned ${
          typeof time === "number" ? String(time) : typeof time
        }: it must return finite milliseconds since the epoch, such as Date.now()`,
      );
    }
    return time;
  }

  /**
   * A new session id for `did`: `generateId`, then the store's
   * `sessionIdFor` when it has one.
   *
   * @param did The owner.
   * @returns The id to store and seal.
   */
  newSessionId(did: string): string {
    const id = this.newId();
    const store = this.store;
    if (store?.sessionIdFor === undefined) return id;
    const mapped = store.sessionIdFor(did, id);
    if (typeof mapped !== "string" || mapped.length === 0) {
      throw new ConfigurationError(
        `store.sessionIdFor must return a non-empty string: received ${typeof mapped}`,
      );
    }
    return mapped;
  }

  /**
   * A new id from `generateId`.
   *
   * @returns The id.
   * @throws {ConfigurationError} When `generateId` returns no string.
   */
  newId(): string {
    const id = this.options.generateId();
    if (typeof id !== "string" || id.length === 0) {
      throw new ConfigurationError(
        `generateId must return a non-empty string: received ${typeof id}`,
      );
    }
    return id;
  }

  /**
   * The store, for a management method that needs one.
   *
   * @param method The public method's name, for the message.
   * @returns The store.
   * @throws {ConfigurationError} Without a store.
   */
  requireStore(method: string): SessionStore {
    const store = this.store;
    if (store === undefined) {
      throw new ConfigurationError(`${method}() ${NO_STORE_MESSAGE}`);
    }
    return store;
  }

  /** {@inheritDoc InternalContext.sealValue} */
  async sealValue(
    purpose: string,
    value: unknown,
    ttlMs: number | null,
  ): Promise<string> {
    return await this.sealer.sealValue(purpose, value, ttlMs, this.now());
  }

  /** {@inheritDoc InternalContext.openValue} */
  async openValue(purpose: string, sealed: string): Promise<unknown> {
    return await this.sealer.openValue(purpose, sealed, this.now());
  }

  /** {@inheritDoc InternalContext.requestStoreCall} */
  requestStoreCall<R>(
    operation: string,
    call: () => Promise<R>,
  ): Promise<StoreOutcome<R>> {
    return this.storeCalls.request(operation, call);
  }

  /** {@inheritDoc InternalContext.storeCall} */
  storeCall<R>(operation: string, call: () => Promise<R>): Promise<R> {
    return this.storeCalls.manage(operation, call);
  }

  /** {@inheritDoc InternalContext.emit} */
  emit(event: SessionEvent): void {
    this.events.emit(event);
  }
}

const contexts = new WeakMap<object, InternalContext>();

/**
 * Links a manager to its internals (called by its constructor).
 *
 * @param manager The manager.
 * @param context Its internals.
 */
export function registerContext(
  manager: object,
  context: InternalContext,
): void {
  contexts.set(manager, context);
}

/**
 * The internals of a manager, for internal modules such as `src/oauth/`.
 *
 * @param manager A `SessionManager`.
 * @returns Its internal context.
 * @throws {TypeError} When `manager` is not a `SessionManager`.
 */
export function contextOf(manager: object): InternalContext {
  const context = contexts.get(manager);
  if (context === undefined) {
    throw new TypeError("Expected a SessionManager");
  }
  return context;
}
