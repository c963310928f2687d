/**
 * Delivers events to the `onEvent` option without letting the handler
 * break or delay the caller: it runs in a later microtask, and a throw or a
 * rejection is logged (by type only) and dropped.
 *
 * @module
 */

import type { SessionEvent, SessionEventHandler } from "./events.ts";
import type { Logger } from "./logger.ts";

/** Sends events to the app's handler, if it gave one. */
export class EventEmitter {
  readonly #handler: SessionEventHandler | undefined;
  readonly #logger: Logger;

  /**
   * @param handler The `onEvent` option.
   * @param logger The guarded logger, for handler failures.
   */
  constructor(handler: SessionEventHandler | undefined, logger: Logger) {
    this.#handler = handler;
    this.#logger = logger;
  }

  /** Whether anyone listens (skip building events when not). */
  get enabled(): boolean {
    return this.#handler !== undefined;
  }

  /**
   * Queues an event for the handler and returns at once.
   *
   * @param event The event; frozen before it is handed over.
   */
  emit(event: SessionEvent): void {
    const handler = this.#handler;
    if (handler === undefined) return;
    const frozen = Object.freeze(event);
    Promise.resolve(frozen).then(handler).then(undefined, (error: unknown) => {
      this.#logger.error("onEvent handler failed", {
        event: frozen.type,
        error: error instanceof Error ? error.name : typeof error,
      });
    });
  }
}
