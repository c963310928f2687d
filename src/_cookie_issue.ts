/**
 * Issuing session cookies: `createSession` and `rotateSession`, with their
 * records, events and the 4096-byte browser limit; and the Set-Cookie
 * line every cookie response uses.
 *
 * @module
 */

import { MAX_SET_COOKIE_BYTES } from "./_cookie.ts";
import type { ManagerContext } from "./_context.ts";
import { buildPayload } from "./_payload.ts";
import { createRecord } from "./_record_writes.ts";
import { copyMetadata } from "./_session_record.ts";
import { CookieError } from "./errors.ts";
import type { SessionMetadata, SessionRecord } from "./store.ts";
import type { SessionData, SessionInput } from "./types.ts";

/**
 * A Set-Cookie value carrying a seal.
 *
 * @param context The manager's internals.
 * @param seal The seal.
 * @param remainingMs Its remaining lifetime (the Max-Age).
 * @returns The header value.
 */
export function setCookieHeader(
  context: ManagerContext,
  seal: string,
  remainingMs: number,
): string {
  const { cookieName, cookieAttributes } = context.options;
  const maxAge = Math.max(0, Math.floor(remainingMs / 1000));
  return `${cookieName}=${seal}; Max-Age=${maxAge}${cookieAttributes}`;
}

/** Creates and rotates cookie sessions. */
export class CookieIssuer<T extends object> {
  readonly #context: ManagerContext;

  /** @param context The manager's internals. */
  constructor(context: ManagerContext) {
    this.#context = context;
  }

  /**
   * Creates a session and returns its Set-Cookie header.
   *
   * @param input The session data.
   * @param metadata With a store: what to record about the device.
   * @returns The header.
   */
  async create(
    input: SessionInput<T>,
    metadata: SessionMetadata,
  ): Promise<string> {
    const context = this.#context;
    const now = context.now();
    return await this.#issue(buildPayload(input, now), metadata, now);
  }

  /**
   * Re-issues a session under a new id (after a privilege change); with a
   * store, the old record is deleted in the same atomic step.
   *
   * @param data The session data (as read, possibly changed).
   * @param metadata What to record; by default the old record's.
   * @returns The header.
   */
  async rotate(
    data: SessionData & T,
    metadata: SessionMetadata | undefined,
  ): Promise<string> {
    const context = this.#context;
    const now = context.now();
    const payload = buildPayload(data, now);
    payload.lastAccessed = now;
    const store = context.store;
    const previous = typeof data?.sessionId === "string"
      ? data.sessionId
      : undefined;
    let recorded = metadata;
    if (
      recorded === undefined && store !== undefined && previous !== undefined
    ) {
      const old = await context.storeCall(
        "getSession",
        () => store.getSession(previous, now),
      );
      recorded = old !== null && old.did === payload.did ? old.metadata : {};
    }
    return await this.#issue(payload, recorded ?? {}, now, previous ?? null);
  }

  async #issue(
    payload: SessionData,
    metadata: SessionMetadata,
    now: number,
    previous?: string | null,
  ): Promise<string> {
    const context = this.#context;
    const { options, sealer, store } = context;
    const expiresAt = sealer.requireExpiry(
      payload.createdAt,
      now,
      options.sessionTtlMs,
    );
    if (store !== undefined) {
      payload.sessionId = context.newSessionId(payload.did);
    }
    const seal = await sealer.seal(payload, "cookie", expiresAt, now);
    const header = setCookieHeader(context, seal, expiresAt - now);
    if (header.length > MAX_SET_COOKIE_BYTES) {
      throw new CookieError(
        `Cannot create session: the Set-Cookie header would be ${header.length} bytes, over the ${MAX_SET_COOKIE_BYTES}-byte limit browsers enforce (they drop larger cookies silently); keep less data in the session`,
      );
    }
    if (store !== undefined && payload.sessionId !== undefined) {
      const record: SessionRecord = {
        id: payload.sessionId,
        did: payload.did,
        kind: "cookie",
        createdAt: payload.createdAt,
        lastAccessed: payload.lastAccessed,
        expiresAt,
        authenticatedAt: payload.authenticatedAt,
        generation: 0,
        rotatedAt: null,
        successor: null,
        metadata: copyMetadata(metadata),
      };
      await createRecord(
        context,
        record,
        now,
        previous === undefined || previous === null
          ? { type: "session.created" }
          : { type: "session.rotated", previousSessionId: previous },
        previous ?? undefined,
      );
    } else if (previous !== undefined) {
      context.emit({
        type: "session.rotated",
        did: payload.did,
        sessionId: null,
        kind: "cookie",
        at: now,
        previousSessionId: previous,
      });
    } else {
      context.emit({
        type: "session.created",
        did: payload.did,
        sessionId: null,
        kind: "cookie",
        at: now,
        metadata: copyMetadata(metadata),
      });
    }
    context.logger.debug(
      previous === undefined ? "Session created" : "Session rotated",
    );
    return header;
  }
}
