/**
 * The cost of the cryptography alone: raw iron-webcrypto `unseal`, and
 * `seal` when a refresh is due. No cookie parsing, no payload checks, no
 * header building. The seals carry iron-session's `~2` suffix, which is
 * sliced off as the only non-crypto step.
 *
 * @module
 */

import { defaults, seal, unseal } from "iron-webcrypto";

const SUFFIX = "~2";

/** Iron with the package's secret and TTL, and nothing else. */
export class CryptoFloor {
  readonly #secret: string;
  readonly #password: { id: string; secret: string };
  readonly #sealOptions: typeof defaults;

  /**
   * @param secret The sealing secret.
   * @param ttlMs Seal lifetime in milliseconds.
   */
  constructor(secret: string, ttlMs: number) {
    this.#secret = secret;
    this.#password = { id: "1", secret };
    this.#sealOptions = { ...defaults, ttl: ttlMs };
  }

  /**
   * Unseals a seal (with or without the `~2` suffix).
   *
   * @param value The seal.
   * @returns The payload.
   */
  async open(value: string): Promise<unknown> {
    const sealed = value.endsWith(SUFFIX)
      ? value.slice(0, -SUFFIX.length)
      : value;
    return await unseal(sealed, this.#secret, defaults);
  }

  /**
   * Seals a payload.
   *
   * @param payload The payload.
   * @returns The seal with the `~2` suffix.
   */
  async seal(payload: unknown): Promise<string> {
    return await seal(payload, this.#password, this.#sealOptions) + SUFFIX;
  }

  /**
   * One request's worth of crypto: unseal, then re-seal when a refresh is
   * due (with `lastAccessed` moved, so the JSON work matches).
   *
   * @param value The seal.
   * @param refresh Whether a refresh is due.
   * @returns The new seal, or the same one.
   */
  async request(value: string, refresh: boolean): Promise<string> {
    const payload = await this.open(value) as Record<string, unknown>;
    if (!refresh) return value;
    payload.lastAccessed = Date.now();
    return await this.seal(payload);
  }
}
