/**
 * The hot read between the manager and the stores shipped here: how a
 * store lets the manager read a session record in the one promise
 * reaction that receives the store's reply.
 *
 * `getSession` returns a promise of the decoded record, so the manager's
 * answer is built a reaction after the store's own (two promises and two
 * microtasks per request beyond the client's). A store that carries a
 * {@linkcode HotReader} hands the manager its raw reply instead and
 * decodes it synchronously when asked: one promise and one reaction fewer
 * on every request with a store. `getSession` stays the contract (every
 * other caller, and every other store, uses it); a reader must answer
 * exactly as `getSession` does, which each store guarantees by building
 * its `getSession` from its reader.
 *
 * The reader is attached under a registered symbol (`Symbol.for`), so a
 * store and a manager loaded from two copies of the package still find
 * each other, and it is not part of any public type. It names the
 * `getSession` method it stands for, and the manager uses it only while
 * the store's `getSession` is still that method (checked on every
 * request): a subclass, a proxy or a patch that overrides `getSession`
 * (to log, to count, to decorate) is read through its override.
 *
 * @module
 */

import type { SessionRecord, SessionStore } from "./store.ts";

/** A store's hot read, in two halves around its round trip. */
export interface HotReader {
  /**
   * What one read of a session id needs (the store's own handle, passed
   * back to {@linkcode start} and {@linkcode finish}).
   *
   * @param id The session id.
   * @returns The handle.
   */
  open(id: string): unknown;
  /**
   * Sends the read.
   *
   * @param handle What {@linkcode open} returned.
   * @returns The store's raw reply.
   */
  start(handle: unknown): Promise<unknown>;
  /**
   * Decodes a reply of {@linkcode start}, as `getSession` would answer it.
   *
   * @param handle What {@linkcode open} returned.
   * @param reply What `start` resolved to.
   * @param now The manager's clock (a record expired by then is null).
   * @returns The live record, or null.
   * @throws {StoreError} When the stored record is unreadable (as
   * `getSession` would reject).
   */
  finish(handle: unknown, reply: unknown, now: number): SessionRecord | null;
}

const HOT_READER: unique symbol = Symbol.for(
  "atproto-sessions.hot-reader",
) as never;

interface Attached {
  readonly reader: HotReader;
  /** The `getSession` method the reader answers for. */
  readonly getSession: unknown;
}

interface Carrier {
  readonly [HOT_READER]?: Attached;
}

/**
 * Attaches a store's hot reader (not enumerable, not writable).
 *
 * @param store The store.
 * @param reader Its reader.
 * @param getSession The method it answers for: the class's own
 * (`MyStore.prototype.getSession`), not `this.getSession`, which is
 * already a subclass's override when a constructor runs.
 */
export function attachHotReader(
  store: SessionStore,
  reader: HotReader,
  getSession: SessionStore["getSession"],
): void {
  const attached: Attached = Object.freeze({ reader, getSession });
  Object.defineProperty(store, HOT_READER, { value: attached });
}

/**
 * The hot reader a store carries, if any.
 *
 * @param store The manager's store.
 * @returns Its reader, or undefined (the manager uses `getSession`).
 */
export function hotReaderOf(store: SessionStore): HotReader | undefined {
  const attached = (store as Carrier)[HOT_READER];
  return attached !== undefined && attached.getSession === store.getSession
    ? attached.reader
    : undefined;
}
