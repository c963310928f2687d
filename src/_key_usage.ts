/**
 * Which secret ids are still in use: per key id, how many cookies and
 * tokens it opened (verified cryptographically), how many requests carried
 * one of its seals, how many values at rest it opened, and when it was last
 * seen; counted since the manager started, read with
 * `sessions.keyUsage()`. Secret rotation finishes when the old id's counts
 * stop growing and its `lastSeenAt` is older than the longest seal
 * lifetime still accepted.
 *
 * @module
 */

/**
 * How one secret id has been used since the manager started.
 *
 * @example
 * ```ts
 * import type { KeyIdUsage } from "@tijs/atproto-sessions";
 *
 * function stillNeeded(usage: KeyIdUsage, since: number): boolean {
 *   return usage.current || (usage.lastSeenAt ?? 0) >= since;
 * }
 * ```
 */
export interface KeyIdUsage {
  /** The id, as in `cookieSecret` (`"default"` for seals without an id). */
  readonly keyId: string;
  /** Whether new seals are made under this id (the highest). */
  readonly current: boolean;
  /**
   * Cookies and Bearer tokens under this id whose MAC was verified and
   * payload decrypted (each distinct seal once while the verified-seal
   * cache holds it). Seals the manager minted itself are not counted.
   */
  readonly opened: number;
  /**
   * Requests that carried an accepted cookie or token under this id,
   * answered from the cache or not.
   */
  readonly seen: number;
  /**
   * Values at rest opened under this id: rotated tokens' successors and
   * AT Protocol OAuth sessions kept in the store.
   */
  readonly valuesOpened: number;
  /**
   * When (by the manager's clock) a cookie, token or value under this id
   * was last accepted, or null when never since the manager started.
   */
  readonly lastSeenAt: number | null;
}

/**
 * What `sessions.keyUsage()` returns: every configured secret id (and
 * `"default"` once a seal without an id was seen), newest id first.
 *
 * @example
 * ```ts
 * import type { KeyUsageReport } from "@tijs/atproto-sessions";
 *
 * function oldIdsInUse(report: KeyUsageReport): string[] {
 *   return report.keys
 *     .filter((key) => !key.current && key.seen > 0)
 *     .map((key) => key.keyId);
 * }
 * ```
 */
export interface KeyUsageReport {
  /** The id new seals are made under. */
  readonly currentKeyId: string;
  /** Per id, newest first. */
  readonly keys: readonly KeyIdUsage[];
}

/** One id's live counters (mutable; the report copies them). */
export interface KeyCounter {
  readonly keyId: string;
  opened: number;
  seen: number;
  valuesOpened: number;
  lastSeenAt: number | null;
}

/** The id seals without one are opened with. */
const DEFAULT_ID = "default";

/** The counters of every secret id, created once at construction. */
export class KeyUsageCounters {
  readonly #counters = new Map<string, KeyCounter>();
  readonly #currentId: string;

  /**
   * @param ids Every id the keyring opens seals with (`"default"` too).
   * @param currentId The id new seals are made under.
   */
  constructor(ids: readonly string[], currentId: string) {
    this.#currentId = currentId;
    for (const keyId of ids) {
      this.#counters.set(keyId, {
        keyId,
        opened: 0,
        seen: 0,
        valuesOpened: 0,
        lastSeenAt: null,
      });
    }
  }

  /** The id new seals are made under. */
  get currentId(): string {
    return this.#currentId;
  }

  /**
   * The counters of the id a seal was opened with (the empty id of a plain
   * Iron seal is `"default"`).
   *
   * @param passwordId The seal's password id field.
   * @returns Its counters (one shared object per id).
   */
  counter(passwordId: string): KeyCounter {
    const keyId = passwordId === "" ? DEFAULT_ID : passwordId;
    let counter = this.#counters.get(keyId);
    if (counter === undefined) {
      // Unreachable for ids the keyring does not open; kept total anyway.
      counter = {
        keyId,
        opened: 0,
        seen: 0,
        valuesOpened: 0,
        lastSeenAt: null,
      };
      this.#counters.set(keyId, counter);
    }
    return counter;
  }

  /**
   * A snapshot of every counter. `"default"` is listed when it was
   * configured explicitly or a seal without an id was seen.
   *
   * @param explicitDefault Whether `"default"` is a configured id.
   * @returns The report, newest id first.
   */
  report(explicitDefault: boolean): KeyUsageReport {
    const keys: KeyIdUsage[] = [];
    for (const counter of this.#counters.values()) {
      if (
        counter.keyId === DEFAULT_ID && !explicitDefault &&
        counter.lastSeenAt === null
      ) continue;
      keys.push(Object.freeze({
        keyId: counter.keyId,
        current: counter.keyId === this.#currentId,
        opened: counter.opened,
        seen: counter.seen,
        valuesOpened: counter.valuesOpened,
        lastSeenAt: counter.lastSeenAt,
      }));
    }
    keys.sort((a, b) => idOrder(b.keyId) - idOrder(a.keyId));
    return Object.freeze({
      currentKeyId: this.#currentId,
      keys: Object.freeze(keys),
    });
  }
}

/** Numeric ids by value; `"default"` last. */
function idOrder(keyId: string): number {
  return keyId === DEFAULT_ID ? -1 : Number(keyId);
}
