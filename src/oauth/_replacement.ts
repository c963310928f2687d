/**
 * Tells an OAuth session that ended from one that a new sign-in replaced.
 *
 * `@atproto/oauth-client` 0.8's `callback()` does, in order:
 * `stateStore.get(state)`, `stateStore.del(state)`, the code exchange, then
 * `revoke(did)` on the DID's existing session (`sessionStore.del(did)`,
 * then `onSessionDeleted(did, TokenRevokedError)`; for a DID with no stored
 * session, `onSessionDeleted(did, TokenRefreshError)` with nothing
 * deleted), and only then `sessionStore.set(did, newSession)`. So the hook
 * for a replacement fires *before* the replacement is stored, inside a
 * callback that consumed a state on this process, and the new session is
 * stored with the DPoP key that state held.
 *
 * The tracker therefore records each consumed state's DPoP key (public
 * part only) as a callback in flight. A deletion with no callback in flight
 * on this process is final at once. A deletion during a callback is
 * pending: it is a replacement if `sessionStore.set(did)` follows, and final
 * once every callback in flight has stored its session for other DIDs, or
 * after {@linkcode CALLBACK_WINDOW_MS}.
 *
 * @module
 */

/** How long a consumed state counts as a callback in flight. */
export const CALLBACK_WINDOW_MS = 60_000;

/** What the hook should do with a deletion. */
export type DeletionVerdict =
  /** `signOut` is revoking this DID and ends the app sessions itself. */
  | { readonly kind: "sign-out" }
  /** No sign-in in flight: the OAuth session ended. */
  | { readonly kind: "ended" }
  /** A sign-in is in flight: decided later through `onDecided`. */
  | { readonly kind: "pending" };

interface Pending {
  readonly timer: ReturnType<typeof setTimeout>;
}

/** The in-process bookkeeping behind `onOAuthSessionDeleted`. */
export class ReplacementTracker {
  /** DPoP key fingerprint → when its state was consumed (monotonic ms). */
  readonly #callbacks = new Map<string, number>();
  readonly #pending = new Map<string, Pending>();
  readonly #signingOut = new Map<string, number>();
  readonly #onDecided: (did: string, replaced: boolean) => void;

  /**
   * @param onDecided Called once per pending deletion with the verdict:
   * `replaced` true when a new sign-in stored a session for the DID.
   */
  constructor(onDecided: (did: string, replaced: boolean) => void) {
    this.#onDecided = onDecided;
  }

  /** The state store saw a state consumed: a callback is in flight. */
  callbackStarted(stateValue: unknown): void {
    this.#prune();
    this.#callbacks.set(dpopFingerprint(stateValue), performance.now());
  }

  /** The session store is about to store a session for `did`. */
  sessionStored(did: string, sessionValue: unknown): void {
    const concluded = this.#callbacks.delete(dpopFingerprint(sessionValue));
    this.#decide(did, true);
    this.#prune();
    if (concluded && this.#callbacks.size === 0) {
      for (const other of [...this.#pending.keys()]) this.#decide(other, false);
    }
  }

  /** The client reported the DID's OAuth session deleted. */
  deleted(did: string): DeletionVerdict {
    if ((this.#signingOut.get(did) ?? 0) > 0) return { kind: "sign-out" };
    this.#prune();
    if (this.#callbacks.size === 0) return { kind: "ended" };
    if (!this.#pending.has(did)) {
      const timer = setTimeout(
        () => this.#decide(did, false),
        CALLBACK_WINDOW_MS,
      );
      this.#pending.set(did, { timer });
    }
    return { kind: "pending" };
  }

  /** Whether a deletion of `did` awaits a sign-in's replacement. */
  isPending(did: string): boolean {
    return this.#pending.has(did);
  }

  /**
   * Marks `did` as being signed out by `signOut` until `settled` settles,
   * so the deletion hook leaves its app sessions to `signOut`.
   */
  signingOut(did: string, settled: Promise<unknown>): void {
    this.#signingOut.set(did, (this.#signingOut.get(did) ?? 0) + 1);
    const done = (): void => {
      const count = (this.#signingOut.get(did) ?? 1) - 1;
      if (count <= 0) this.#signingOut.delete(did);
      else this.#signingOut.set(did, count);
    };
    settled.then(done, done);
  }

  #decide(did: string, replaced: boolean): void {
    const pending = this.#pending.get(did);
    if (pending === undefined) return;
    clearTimeout(pending.timer);
    this.#pending.delete(did);
    this.#onDecided(did, replaced);
  }

  #prune(): void {
    const cutoff = performance.now() - CALLBACK_WINDOW_MS;
    for (const [key, started] of this.#callbacks) {
      if (started < cutoff) this.#callbacks.delete(key);
    }
  }
}

/**
 * The public part of the DPoP key a state or session holds: `dpopJwk`
 * (`@atproto/oauth-client-node`) or `dpopKey` (`@atcute`). Unknown shapes
 * share one fingerprint, so they still count as a callback in flight.
 */
function dpopFingerprint(value: unknown): string {
  if (value === null || typeof value !== "object") return "?";
  const record = value as Record<string, unknown>;
  const jwk = record["dpopJwk"] ?? record["dpopKey"];
  if (jwk === null || typeof jwk !== "object") return "?";
  const { kty, crv, x, y, n } = jwk as Record<string, unknown>;
  return JSON.stringify([kty, crv, x, y, n]);
}
