/**
 * Creating session records (for `createSession`, `sealToken` and
 * `rotateSession`): the store write bounded by `storeTimeout`, eviction
 * logs and events, and a compensating delete when the write's outcome is
 * unknown.
 *
 * ## A lost reply
 *
 * When `createSession` on the store fails or misses its deadline, the
 * record may have been written anyway (the connection dropped after Redis
 * ran the script). The manager then deletes the record by id, bounded by
 * the same deadline, before throwing `StoreError`, so no session exists
 * that nobody holds a credential for. What can still happen: if the delete
 * fails too, or the create lands after the delete (a black-holed
 * connection that delivers late, on another connection), the record stays
 * until it expires (`sessionTtl` / `tokenTtl`), listed and counted by
 * `maxSessionsPerUser`, though no cookie or token for it was ever handed
 * out; and any session the lost create evicted stays evicted.
 *
 * @module
 */

import type { ManagerContext } from "./_context.ts";
import { describeStoreError, settleWithin } from "./_store_calls.ts";
import type { SessionRecord } from "./store.ts";

/** Which event announces the new record. */
export type CreationEvent =
  | { readonly type: "session.created" }
  | { readonly type: "session.rotated"; readonly previousSessionId: string };

/**
 * Writes a new record with the cap (and the session it replaces).
 *
 * @param context The manager's internals (with a store).
 * @param record The record.
 * @param now The manager's clock.
 * @param announce The event to emit once written.
 * @param replaces The session deleted in the same step.
 * @throws {StoreError} When the store fails or misses the deadline.
 */
export async function createRecord(
  context: ManagerContext,
  record: SessionRecord,
  now: number,
  announce: CreationEvent,
  replaces?: string,
): Promise<void> {
  const store = context.requireStore("createSession");
  const options = { maxSessionsPerUser: context.options.maxSessionsPerUser };
  let evicted: readonly SessionRecord[];
  try {
    evicted = await context.storeCall(
      "createSession",
      () =>
        store.createSession(
          record,
          replaces === undefined ? options : { ...options, replaces },
          now,
        ),
    );
  } catch (error) {
    await compensate(context, record.id);
    throw error;
  }
  const base = { did: record.did, kind: record.kind, at: now };
  if (evicted.length > 0) {
    context.logger.info("Evicted oldest sessions over maxSessionsPerUser", {
      count: evicted.length,
    });
    for (const old of evicted) {
      context.emit({
        type: "session.evicted",
        did: old.did,
        kind: old.kind,
        sessionId: old.id,
        at: now,
      });
    }
  }
  if (announce.type === "session.created") {
    context.emit({
      ...base,
      type: "session.created",
      sessionId: record.id,
      metadata: record.metadata,
    });
  } else {
    context.emit({
      ...base,
      type: "session.rotated",
      sessionId: record.id,
      previousSessionId: announce.previousSessionId,
    });
  }
}

async function compensate(context: ManagerContext, id: string): Promise<void> {
  const store = context.store;
  if (store === undefined) return;
  const outcome = await settleWithin(
    "deleteSession",
    () => store.deleteSession(id),
    context.options.storeTimeoutMs,
  );
  if (!outcome.ok) {
    context.logger.warn(
      "Could not remove a session whose creation failed; it stays until it expires",
      { operation: "deleteSession", error: describeStoreError(outcome.error) },
    );
  } else if (outcome.value !== null) {
    context.logger.warn(
      "Removed a session whose creation reply was lost",
      { operation: "createSession" },
    );
  }
}
