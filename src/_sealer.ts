/**
 * Minting seals: session cookies and Bearer tokens (with their kind inside
 * what the MAC covers), and values kept at rest in a store (a rotated
 * token's successor, OAuth sessions), each bound to a purpose so that one
 * can never be presented as another.
 *
 * @module
 */

import type { KeyUsageCounters } from "./_key_usage.ts";
import { sealablePayload } from "./_payload.ts";
import { MAX_SEAL_LENGTH, parseSeal, type SealKeyring } from "./_seal.ts";
import type { VerifiedSeal, Verifier } from "./_verifier.ts";
import { SessionDataError } from "./errors.ts";
import type { SessionKind } from "./store.ts";
import type { SessionData } from "./types.ts";

/** The kind marker of values sealed at rest (never a cookie or token). */
const VALUE_KIND = "value";

/** The longest value sealed at rest that is opened (1 MiB). */
const MAX_VALUE_SEAL_LENGTH = 1 << 20;

/** Seals session data and values at rest under the current secret. */
export class Sealer {
  readonly #keyring: SealKeyring;
  readonly #verifier: Verifier;
  readonly #maxSessionAgeMs: number;
  readonly #usage: KeyUsageCounters;

  /**
   * @param keyring The configured secrets.
   * @param verifier Where minted seals are remembered.
   * @param maxSessionAgeMs The absolute lifetime.
   * @param usage The per-key-id usage counters (values opened).
   */
  constructor(
    keyring: SealKeyring,
    verifier: Verifier,
    maxSessionAgeMs: number,
    usage: KeyUsageCounters,
  ) {
    this.#keyring = keyring;
    this.#verifier = verifier;
    this.#maxSessionAgeMs = maxSessionAgeMs;
    this.#usage = usage;
  }

  /** The secret id new seals are made under. */
  get currentKeyId(): string {
    return this.#keyring.currentId;
  }

  /**
   * When a session sealed now expires: `now + ttlMs`, capped by
   * `maxSessionAge` counted from `createdAt`.
   *
   * @param createdAt When the session began.
   * @param now The current time.
   * @param ttlMs The TTL.
   * @returns The expiry.
   */
  expiryFrom(createdAt: number, now: number, ttlMs: number): number {
    return Math.min(now + ttlMs, createdAt + this.#maxSessionAgeMs);
  }

  /**
   * Like {@linkcode expiryFrom}, for a new seal the caller asked for.
   *
   * @throws {SessionDataError} When less than a second would be left.
   */
  requireExpiry(createdAt: number, now: number, ttlMs: number): number {
    const expiresAt = this.expiryFrom(createdAt, now, ttlMs);
    if (expiresAt - now < 1000) {
      throw new SessionDataError(
        "INVALID_SESSION_DATA",
        "Cannot seal session: createdAt is older than maxSessionAge allows, so the session would already be expired",
      );
    }
    return expiresAt;
  }

  /**
   * Seals session data in a role and remembers the seal as verified.
   *
   * @param data The session data.
   * @param kind The role: cookie or token.
   * @param expiresAt The expiry.
   * @param now The current time.
   * @param generation A record-backed token's generation.
   * @returns The seal.
   * @throws {SessionDataError} When the data is not JSON-serialisable or a
   * token would be too long to be read back.
   */
  async seal(
    data: SessionData,
    kind: SessionKind,
    expiresAt: number,
    now: number,
    generation?: number,
  ): Promise<string> {
    return (await this.sealVerified(data, kind, expiresAt, now, generation))
      .value;
  }

  /**
   * Like {@linkcode seal}, also returning what the verifier now knows of
   * the seal.
   *
   * @param data The session data.
   * @param kind The role: cookie or token.
   * @param expiresAt The expiry.
   * @param now The current time.
   * @param generation A record-backed token's generation.
   * @returns The seal and its cache entry.
   * @throws {SessionDataError} As {@linkcode seal}.
   */
  async sealVerified(
    data: SessionData,
    kind: SessionKind,
    expiresAt: number,
    now: number,
    generation?: number,
  ): Promise<{ readonly value: string; readonly seal: VerifiedSeal }> {
    let sealed: string;
    try {
      sealed = await this.#keyring.seal(
        sealablePayload(data, kind, generation),
        expiresAt - now,
        now,
      );
    } catch (error) {
      throw new SessionDataError(
        "INVALID_SESSION_DATA",
        "Cannot seal session data: it must be JSON-serialisable (plain objects, arrays, strings, finite numbers, booleans, null)",
        { cause: error },
      );
    }
    if (kind === "token" && sealed.length > MAX_SEAL_LENGTH) {
      throw new SessionDataError(
        "INVALID_SESSION_DATA",
        `Cannot seal token: it would be ${sealed.length} characters, over the ${MAX_SEAL_LENGTH}-character limit Bearer tokens are read with; keep less data in the session`,
      );
    }
    const seal = this.#verifier.remember(
      sealed,
      kind,
      data,
      expiresAt,
      generation,
    );
    return { value: sealed, seal };
  }

  /**
   * Seals a value to keep at rest (in a store), bound to a purpose.
   *
   * @param purpose What the value is for, such as `"successor"`.
   * @param value A JSON-serialisable value.
   * @param ttlMs Its lifetime, or null for none.
   * @param now The current time.
   * @returns The sealed value.
   */
  async sealValue(
    purpose: string,
    value: unknown,
    ttlMs: number | null,
    now: number,
  ): Promise<string> {
    return await this.#keyring.seal(
      { typ: VALUE_KIND, purpose, value },
      ttlMs === null ? 0 : Math.max(1, ttlMs),
      now,
    );
  }

  /**
   * Opens a value sealed by {@linkcode sealValue} for the same purpose.
   *
   * @param purpose The purpose it was sealed for.
   * @param sealed The sealed value.
   * @param now The current time.
   * @returns The value, or undefined when it is not authentic, is sealed
   * for another purpose, or has expired.
   */
  async openValue(
    purpose: string,
    sealed: string,
    now: number,
  ): Promise<unknown> {
    const parsed = typeof sealed === "string"
      ? parseSeal(sealed, MAX_VALUE_SEAL_LENGTH)
      : null;
    if (parsed === null) return undefined;
    if (parsed.expiration !== null && now >= parsed.expiration) {
      return undefined;
    }
    const opened = await this.#keyring.open(parsed);
    if (!opened.ok) return undefined;
    const payload = opened.payload as Record<string, unknown> | null;
    if (
      payload === null || typeof payload !== "object" ||
      payload.typ !== VALUE_KIND || payload.purpose !== purpose
    ) return undefined;
    const key = this.#usage.counter(parsed.passwordId);
    key.valuesOpened++;
    if (key.lastSeenAt === null || now > key.lastSeenAt) key.lastSeenAt = now;
    return payload.value;
  }
}
