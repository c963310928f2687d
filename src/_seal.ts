/**
 * Iron seals: structural parsing before any cryptography, sealing under the
 * current secret id, and verification that reports why a seal failed.
 *
 * @module
 */

import { defaults, seal, unseal } from "iron-webcrypto";
import { ConfigurationError } from "./errors.ts";
import type { CookieSecret } from "./options.ts";

/** The iron-session 8 version suffix, appended to every seal we mint. */
const SEAL_VERSION_SUFFIX = "~2";

/** The longest seal accepted; longer input is rejected before any crypto. */
export const MAX_SEAL_LENGTH = 8192;

/** The shortest secret Iron accepts, in characters. */
const MIN_SECRET_LENGTH = 32;

// Fe26.2*<passwordId>*<encSalt hex>*<iv b64url>*<ciphertext b64url>*<expiration>*<hmacSalt hex>*<hmac b64url>
const SEAL_PATTERN =
  /^Fe26\.2\*(\w*)\*[0-9a-f]+\*([A-Za-z0-9_-]+)\*([A-Za-z0-9_-]+)\*([1-9]\d{0,14})?\*[0-9a-f]+\*([A-Za-z0-9_-]+)$/;

const BASE64URL_ALPHABET =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * Tells whether an unpadded base64url string is canonical: a length that is
 * not 1 mod 4 and zero bits in its last character's unused low bits. Without
 * this, several strings decode to the same bytes, so a seal with an altered
 * last character could still verify.
 */
function isCanonicalBase64url(value: string): boolean {
  const remainder = value.length % 4;
  if (remainder === 0) return true;
  if (remainder === 1) return false;
  const last = BASE64URL_ALPHABET.indexOf(value.charAt(value.length - 1));
  return last % (remainder === 2 ? 16 : 4) === 0;
}

const ROTATION_ID_PATTERN = /^[1-9]\d{0,8}$/;
const DEFAULT_ID = "default";

// Iron checks expiry before the MAC, with a 60 s grace. An infinite skew
// turns that check off so we can verify first and compare exactly ourselves.
const UNSEAL_OPTIONS = Object.freeze({
  ...defaults,
  timestampSkewSec: Infinity,
});

/** A seal that passed the structural checks; nothing about it is verified. */
export interface ParsedSeal {
  /** The Iron seal without the version suffix. */
  readonly seal: string;
  /** The password id field; empty for plain Iron seals. */
  readonly passwordId: string;
  /** The expiration field in milliseconds, or null when the seal has none. */
  readonly expiration: number | null;
}

/**
 * Checks that a value has the shape of an Iron seal (optionally with the
 * iron-session `~2` suffix) without doing any cryptography.
 *
 * @param value A cookie value or Bearer token.
 * @param maxLength The longest value considered (values sealed at rest
 * may be longer than a cookie or token).
 * @returns The parsed parts, or null when the value is not a seal.
 */
export function parseSeal(
  value: string,
  maxLength: number = MAX_SEAL_LENGTH,
): ParsedSeal | null {
  if (value.length > maxLength) return null;
  const seal = value.endsWith(SEAL_VERSION_SUFFIX)
    ? value.slice(0, -SEAL_VERSION_SUFFIX.length)
    : value;
  const match = SEAL_PATTERN.exec(seal);
  if (match === null) return null;
  const [, passwordId = "", iv = "", ciphertext = "", expiration, hmac = ""] =
    match;
  if (
    !isCanonicalBase64url(iv) || !isCanonicalBase64url(ciphertext) ||
    !isCanonicalBase64url(hmac)
  ) return null;
  return {
    seal,
    passwordId,
    expiration: expiration === undefined ? null : Number(expiration),
  };
}

/** The outcome of verifying a parsed seal. */
export type OpenedSeal =
  | { readonly ok: true; readonly payload: unknown }
  | { readonly ok: false; readonly type: "TAMPERED" | "UNKNOWN_KEY" };

/**
 * The configured secrets: seals under the current (highest) id and opens
 * seals under any configured id.
 */
export class SealKeyring {
  readonly #secrets = new Map<string, string>();
  readonly #currentId: string;
  readonly #currentSecret: string;
  readonly #explicitDefault: boolean;

  /**
   * Validates and indexes the secrets.
   *
   * @param secret One secret, or a map of numeric ids to secrets.
   * @throws {ConfigurationError} When a secret or an id is invalid.
   */
  constructor(secret: CookieSecret) {
    if (typeof secret === "string") {
      assertSecret(secret, "cookieSecret");
      // iron-session 8 normalises a string password to { 1: password }, so
      // sealing under id "1" keeps our seals readable by its unsealData.
      this.#currentId = "1";
      this.#currentSecret = secret;
      this.#secrets.set("1", secret);
      this.#secrets.set(DEFAULT_ID, secret);
      this.#explicitDefault = false;
      return;
    }
    if (
      secret === null || typeof secret !== "object" || Array.isArray(secret)
    ) {
      throw new ConfigurationError(
        `Cannot create SessionManager: cookieSecret must be a string of at least ${MIN_SECRET_LENGTH} characters or a map of numeric ids to such strings: received ${
          secret === null ? "null" : typeof secret
        }`,
      );
    }
    let currentId: string | undefined;
    for (const [id, value] of Object.entries(secret)) {
      if (id !== DEFAULT_ID && !ROTATION_ID_PATTERN.test(id)) {
        throw new ConfigurationError(
          `Cannot create SessionManager: cookieSecret ids must be positive integers such as "1" and "2" (or "default" for seals without an id): received an id of ${id.length} characters`,
        );
      }
      assertSecret(value, `cookieSecret[${JSON.stringify(id)}]`);
      this.#secrets.set(id, value);
      if (
        id !== DEFAULT_ID &&
        (currentId === undefined || Number(id) > Number(currentId))
      ) currentId = id;
    }
    if (currentId === undefined) {
      throw new ConfigurationError(
        `Cannot create SessionManager: cookieSecret needs at least one numeric id to seal with, such as { "1": secret }: received ids ${
          JSON.stringify(Object.keys(secret))
        }`,
      );
    }
    this.#currentId = currentId;
    this.#currentSecret = this.#secrets.get(currentId) as string;
    this.#explicitDefault = this.#secrets.has(DEFAULT_ID);
    // Plain Iron seals carry no id: open them with "default" when given,
    // otherwise with the current secret.
    if (!this.#secrets.has(DEFAULT_ID)) {
      this.#secrets.set(DEFAULT_ID, this.#currentSecret);
    }
  }

  /** The id new seals are made under. */
  get currentId(): string {
    return this.#currentId;
  }

  /** Every id seals are opened with, `"default"` included. */
  get ids(): readonly string[] {
    return [...this.#secrets.keys()];
  }

  /** Whether `"default"` was configured rather than implied. */
  get explicitDefault(): boolean {
    return this.#explicitDefault;
  }

  /**
   * Seals a JSON payload under the current secret, expiring `ttlMs` after
   * `now`, in iron-session 8's format (`Fe26.2*<id>*...~2`).
   *
   * @param payload JSON-serialisable data.
   * @param ttlMs Lifetime in milliseconds.
   * @param now The current time in milliseconds.
   * @returns The seal.
   */
  async seal(payload: unknown, ttlMs: number, now: number): Promise<string> {
    const sealed = await seal(
      payload,
      { id: this.#currentId, secret: this.#currentSecret },
      // Iron computes the expiration from its own Date.now() plus this
      // offset, so the field can land 1 ms after now + ttlMs when the
      // millisecond ticks in between; the manager's cache holds the exact
      // expiry of seals it mints.
      { ...defaults, ttl: ttlMs, localtimeOffsetMsec: now - Date.now() },
    );
    return sealed + SEAL_VERSION_SUFFIX;
  }

  /**
   * Verifies the MAC of a parsed seal and decrypts it. Expiry is not checked
   * here: the caller compares `parsed.expiration`, which is authentic once
   * this resolves with `ok: true`.
   *
   * @param parsed A structurally valid seal.
   * @returns The payload, or why it could not be opened.
   */
  async open(parsed: ParsedSeal): Promise<OpenedSeal> {
    const secret = this.#secrets.get(parsed.passwordId || DEFAULT_ID);
    if (secret === undefined) return { ok: false, type: "UNKNOWN_KEY" };
    try {
      return {
        ok: true,
        payload: await unseal(parsed.seal, secret, UNSEAL_OPTIONS),
      };
    } catch {
      return { ok: false, type: "TAMPERED" };
    }
  }
}

function assertSecret(value: unknown, label: string): asserts value is string {
  if (typeof value !== "string" || value.length < MIN_SECRET_LENGTH) {
    const received = typeof value === "string"
      ? `a string of ${value.length} characters`
      : typeof value;
    throw new ConfigurationError(
      `Cannot create SessionManager: ${label} must be a string of at least ${MIN_SECRET_LENGTH} characters (generate one with \`openssl rand -base64 48\`): received ${received}`,
    );
  }
}
