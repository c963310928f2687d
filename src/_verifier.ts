/**
 * Verifying seals: the verified-seal cache first, else structure, MAC,
 * payload shape and kind; then the exact expiry, on hits as on misses.
 *
 * ## Expiry
 *
 * A seal expires at the earliest of its Iron expiration field, its
 * `lastAccessed` plus the configured TTL (`sessionTtl` for cookies,
 * `tokenTtl` for tokens) and its `createdAt` plus `maxSessionAge`, so
 * lowering a TTL shortens seals already issued too. A seal with neither an
 * expiration field nor timestamps (`@hapi/iron` defaults, iron-session
 * `ttl: 0` without our fields) cannot show when it was made and is treated
 * as expired. The cache answers for the cryptography only: every store
 * check still runs.
 *
 * ## The cache
 *
 * It keeps the verified payload parsed, and hands out a shallow copy on
 * every hit (a parse of its JSON when it holds objects or arrays, which a
 * shallow copy would share): nothing a caller does to a result reaches
 * the cache. {@linkcode Verifier.lookup} answers a hit synchronously. Each
 * entry points at the usage counters of the secret id it was sealed under
 * (`sessions.keyUsage()`).
 *
 * @module
 */

import type { KeyCounter, KeyUsageCounters } from "./_key_usage.ts";
import type { SealCache } from "./_seal_cache.ts";
import { readPayload } from "./_payload.ts";
import { type ParsedSeal, parseSeal, type SealKeyring } from "./_seal.ts";
import type { Logger } from "./logger.ts";
import type { SessionKind } from "./store.ts";
import type { SessionData } from "./types.ts";

/** A seal whose MAC verified, as the cache remembers it. */
export interface VerifiedSeal {
  /** The role the seal was issued for. */
  readonly kind: SessionKind;
  /**
   * The data, parsed once. Never handed out: callers get
   * {@linkcode copyData}, so nothing they do reaches the cache.
   */
  readonly data: Readonly<SessionData>;
  /**
   * The data as JSON when it holds objects or arrays (a shallow copy would
   * share them with the cache), else undefined.
   */
  readonly json: string | undefined;
  readonly createdAt: number;
  readonly lastAccessed: number;
  /** Effective expiry (see the module documentation). */
  readonly expiresAt: number;
  readonly sessionId: string | undefined;
  readonly jti: string | undefined;
  /** A record-backed token's generation. */
  readonly generation: number | undefined;
  /** The usage counters of the secret id it was sealed under. */
  readonly key: KeyCounter;
  /**
   * The hot path's last Set-Cookie line for this seal, and the Max-Age it
   * carries (-1 before the first): a request in the same second reuses it.
   */
  servedMaxAge: number;
  servedLine: string;
}

/**
 * A fresh copy of a verified seal's data that the caller may change: a
 * shallow copy of flat data, a parse of the JSON otherwise.
 *
 * @param seal The verified seal.
 * @returns The copy.
 */
export function copyData(seal: VerifiedSeal): SessionData {
  return seal.json === undefined
    ? { ...seal.data }
    : JSON.parse(seal.json) as SessionData;
}

/** A value JSON keeps as it is: a string, boolean, null or finite number. */
function isJsonScalar(value: unknown): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    default:
      return value === null;
  }
}

/**
 * The cached form of session data: a new object without `expiresAt`, and
 * its JSON when a shallow copy would not isolate callers from it (nested
 * objects or arrays, or an own `__proto__` key).
 */
function cacheable(
  data: SessionData,
): { data: SessionData; json: string | undefined } {
  const source = data as unknown as Record<string, unknown>;
  const flat: Record<string, unknown> = {};
  let nested = false;
  for (const key of Object.keys(source)) {
    if (key === "expiresAt") continue;
    const value = source[key];
    // JSON drops undefined: so does the copy.
    if (value === undefined) continue;
    if (key === "__proto__" || !isJsonScalar(value)) {
      nested = true;
      break;
    }
    flat[key] = value;
  }
  if (!nested) return { data: flat as unknown as SessionData, json: undefined };
  const copy: Record<string, unknown> = { ...source };
  delete copy.expiresAt;
  const json = JSON.stringify(copy);
  return { data: JSON.parse(json) as SessionData, json };
}

/** Why a seal was not accepted. */
export type VerifyFailure =
  | "MALFORMED"
  | "TAMPERED"
  | "UNKNOWN_KEY"
  | "EXPIRED"
  | "WRONG_KIND";

/** The outcome of {@linkcode Verifier.verify}. */
export type Verification =
  | {
    readonly ok: true;
    readonly seal: VerifiedSeal;
    /** A fresh copy the caller may change. */
    readonly data: SessionData;
  }
  | { readonly ok: false; readonly reason: VerifyFailure };

/** The lifetimes a verifier enforces, in milliseconds. */
export interface Lifetimes {
  readonly sessionTtlMs: number;
  readonly tokenTtlMs: number;
  readonly maxSessionAgeMs: number;
  readonly clockSkewMs: number;
}

/** Verifies seals and remembers the ones that verified. */
export class Verifier {
  readonly #keyring: SealKeyring;
  readonly #cache: SealCache<VerifiedSeal>;
  readonly #lifetimes: Lifetimes;
  readonly #logger: Logger;
  readonly #usage: KeyUsageCounters;
  readonly #clockSkewMs: number;

  /**
   * @param keyring The configured secrets.
   * @param cache The verified-seal cache.
   * @param lifetimes The TTLs and grace.
   * @param logger The guarded logger.
   * @param usage The per-key-id usage counters.
   */
  constructor(
    keyring: SealKeyring,
    cache: SealCache<VerifiedSeal>,
    lifetimes: Lifetimes,
    logger: Logger,
    usage: KeyUsageCounters,
  ) {
    this.#keyring = keyring;
    this.#cache = cache;
    this.#lifetimes = lifetimes;
    this.#clockSkewMs = lifetimes.clockSkewMs;
    this.#logger = logger;
    this.#usage = usage;
  }

  /**
   * Whether a seal is in the cache (verifying it costs no cryptography).
   *
   * @param value The exact seal.
   * @returns Whether it is cached.
   */
  isCached(value: string): boolean {
    return this.#cache.get(value) !== undefined;
  }

  /**
   * Answers from the cache alone, synchronously: the request path's fast
   * path. Only a cached seal in its own role and not expired (the exact
   * expiry, as on a miss) is answered; anything else is left to
   * {@linkcode verify}, which reports why.
   *
   * @param value The seal.
   * @param kind The role it is presented in.
   * @param now The current time.
   * @returns The accepted seal and a fresh copy of its data, or undefined.
   */
  lookup(
    value: string,
    kind: SessionKind,
    now: number,
  ): Extract<Verification, { ok: true }> | undefined {
    const seal = this.peek(value, kind, now);
    return seal === undefined
      ? undefined
      : { ok: true, seal, data: copyData(seal) };
  }

  /**
   * Like {@linkcode lookup}, without copying the data (take a copy with
   * {@linkcode copyData} before handing it out). Counts the seal as seen.
   *
   * @param value The seal.
   * @param kind The role it is presented in.
   * @param now The current time.
   * @returns The cached, live seal in its role, or undefined.
   */
  peek(
    value: string,
    kind: SessionKind,
    now: number,
  ): VerifiedSeal | undefined {
    const seal = this.#cache.get(value);
    if (
      seal === undefined || seal.kind !== kind ||
      now >= seal.expiresAt + this.#clockSkewMs
    ) return undefined;
    const key = seal.key;
    key.seen++;
    if (key.lastSeenAt === null || now > key.lastSeenAt) key.lastSeenAt = now;
    return seal;
  }

  /**
   * Verifies a seal for a role at `now` (one clock reading per request).
   *
   * @param value The seal.
   * @param kind The role it is presented in.
   * @param now The current time.
   * @param parsed The value already parsed, when the caller did.
   * @returns The seal and a fresh copy of its data, or why it failed.
   */
  async verify(
    value: string,
    kind: SessionKind,
    now: number,
    parsed?: ParsedSeal,
  ): Promise<Verification> {
    const cached = this.#cache.get(value);
    if (cached !== undefined) return this.#check(cached, kind, now);
    const structure = parsed ?? parseSeal(value);
    if (structure === null) return { ok: false, reason: "MALFORMED" };
    const opened = await this.#keyring.open(structure);
    if (!opened.ok) return { ok: false, reason: opened.type };
    const verified = this.#read(value, structure, opened.payload, kind, now);
    if (typeof verified === "string") return { ok: false, reason: verified };
    verified.key.opened++;
    return this.#check(verified, kind, now);
  }

  /**
   * Caches a seal the manager just minted, so its first request is a hit.
   *
   * @param value The seal.
   * @param kind Its role.
   * @param data Its data.
   * @param expiresAt Its expiry.
   * @param generation A record-backed token's generation.
   * @param key The counters of its secret id (by default the current id).
   * @returns What the cache holds.
   */
  remember(
    value: string,
    kind: SessionKind,
    data: SessionData,
    expiresAt: number,
    generation?: number,
    key: KeyCounter = this.#usage.counter(this.#keyring.currentId),
  ): VerifiedSeal {
    const stored = cacheable(data);
    const seal: VerifiedSeal = {
      kind,
      data: stored.data,
      json: stored.json,
      createdAt: data.createdAt,
      lastAccessed: data.lastAccessed,
      expiresAt,
      sessionId: data.sessionId,
      jti: data.jti,
      generation,
      key,
      servedMaxAge: -1,
      servedLine: "",
    };
    this.#cache.set(value, seal);
    return seal;
  }

  #check(seal: VerifiedSeal, kind: SessionKind, now: number): Verification {
    if (seal.kind !== kind) {
      this.#logger.warn("Authentic seal presented in the wrong role", {
        kind: seal.kind,
        presentedAs: kind,
      });
      return { ok: false, reason: "WRONG_KIND" };
    }
    if (now >= seal.expiresAt + this.#clockSkewMs) {
      return { ok: false, reason: "EXPIRED" };
    }
    return this.#accept(seal, now);
  }

  #accept(
    seal: VerifiedSeal,
    now: number,
  ): Extract<Verification, { ok: true }> {
    const key = seal.key;
    key.seen++;
    if (key.lastSeenAt === null || now > key.lastSeenAt) key.lastSeenAt = now;
    return { ok: true, seal, data: copyData(seal) };
  }

  #read(
    value: string,
    parsed: ParsedSeal,
    payload: unknown,
    presentedAs: SessionKind,
    now: number,
  ): VerifiedSeal | VerifyFailure {
    const lifetimes = this.#lifetimes;
    // The role is not known before reading the payload; estimate with the
    // TTL of the role presented, then recompute with the seal's own.
    const estimateTtl = presentedAs === "cookie"
      ? lifetimes.sessionTtlMs
      : lifetimes.tokenTtlMs;
    const estimate = parsed.expiration === null
      ? now
      : Math.min(now, parsed.expiration - estimateTtl);
    const read = readPayload(payload, estimate);
    if (read === null) {
      this.#logger.warn("Authentic seal does not hold session data", {
        kind: presentedAs,
      });
      return "MALFORMED";
    }
    if (parsed.expiration === null && !read.timestamped) {
      this.#logger.info("Seal without expiration or timestamps refused", {
        kind: read.kind,
      });
      return "EXPIRED";
    }
    const ttl = read.kind === "cookie"
      ? lifetimes.sessionTtlMs
      : lifetimes.tokenTtlMs;
    const { data } = read;
    const expiresAt = Math.min(
      parsed.expiration ?? Infinity,
      data.lastAccessed + ttl,
      data.createdAt + lifetimes.maxSessionAgeMs,
    );
    return this.remember(
      value,
      read.kind,
      data,
      expiresAt,
      read.generation,
      this.#usage.counter(parsed.passwordId),
    );
  }
}
