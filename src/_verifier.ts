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
 * @module
 */

import type { LruCache } from "./_lru_cache.ts";
import { readPayload } from "./_payload.ts";
import { type ParsedSeal, parseSeal, type SealKeyring } from "./_seal.ts";
import type { Logger } from "./logger.ts";
import type { SessionKind } from "./store.ts";
import type { SessionData } from "./types.ts";

/** A seal whose MAC verified, as the cache remembers it. */
export interface VerifiedSeal {
  /** The role the seal was issued for. */
  readonly kind: SessionKind;
  /** The data as JSON, so no caller can mutate what the cache holds. */
  readonly json: string;
  readonly createdAt: number;
  readonly lastAccessed: number;
  /** Effective expiry (see the module documentation). */
  readonly expiresAt: number;
  readonly sessionId: string | undefined;
  readonly jti: string | undefined;
  /** A record-backed token's generation. */
  readonly generation: number | undefined;
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
  readonly #cache: LruCache<string, VerifiedSeal>;
  readonly #lifetimes: Lifetimes;
  readonly #logger: Logger;

  /**
   * @param keyring The configured secrets.
   * @param cache The verified-seal cache.
   * @param lifetimes The TTLs and grace.
   * @param logger The guarded logger.
   */
  constructor(
    keyring: SealKeyring,
    cache: LruCache<string, VerifiedSeal>,
    lifetimes: Lifetimes,
    logger: Logger,
  ) {
    this.#keyring = keyring;
    this.#cache = cache;
    this.#lifetimes = lifetimes;
    this.#logger = logger;
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
    let seal = this.#cache.get(value);
    if (seal === undefined) {
      const structure = parsed ?? parseSeal(value);
      if (structure === null) return { ok: false, reason: "MALFORMED" };
      const opened = await this.#keyring.open(structure);
      if (!opened.ok) return { ok: false, reason: opened.type };
      const verified = this.#read(value, structure, opened.payload, kind, now);
      if (typeof verified === "string") return { ok: false, reason: verified };
      seal = verified;
    }
    if (seal.kind !== kind) {
      this.#logger.warn("Authentic seal presented in the wrong role", {
        kind: seal.kind,
        presentedAs: kind,
      });
      return { ok: false, reason: "WRONG_KIND" };
    }
    if (now >= seal.expiresAt + this.#lifetimes.clockSkewMs) {
      return { ok: false, reason: "EXPIRED" };
    }
    return { ok: true, seal, data: JSON.parse(seal.json) };
  }

  /**
   * Caches a seal the manager just minted, so its first request is a hit.
   *
   * @param value The seal.
   * @param kind Its role.
   * @param data Its data.
   * @param expiresAt Its expiry.
   * @param generation A record-backed token's generation.
   * @returns What the cache holds.
   */
  remember(
    value: string,
    kind: SessionKind,
    data: SessionData,
    expiresAt: number,
    generation?: number,
  ): VerifiedSeal {
    const copy: Record<string, unknown> = { ...data };
    delete copy.expiresAt;
    const seal: VerifiedSeal = {
      kind,
      json: JSON.stringify(copy),
      createdAt: data.createdAt,
      lastAccessed: data.lastAccessed,
      expiresAt,
      sessionId: data.sessionId,
      jti: data.jti,
      generation,
    };
    this.#cache.set(value, seal);
    return seal;
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
    return this.remember(value, read.kind, data, expiresAt, read.generation);
  }
}
