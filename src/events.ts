/**
 * Typed events the manager emits through its `onEvent` option, for
 * "new sign-in" alerts and audit logs. Events carry ids and metadata, never
 * a secret, a seal or a token.
 *
 * @module
 */

import type { SessionKind, SessionMetadata } from "./store.ts";

/**
 * What every event carries.
 *
 * @example
 * ```ts
 * import type { SessionEventBase } from "@tijs/atproto-sessions";
 *
 * const base: SessionEventBase = {
 *   did: "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
 *   sessionId: "0b7c9f4e-2f57-4c8e-9d1b-3f2f6f1f0a11",
 *   kind: "token",
 *   at: 1_767_225_600_000,
 * };
 * ```
 */
export interface SessionEventBase {
  /** The user's DID. */
  readonly did: string;
  /** The session's id; null for cookies and tokens without a store. */
  readonly sessionId: string | null;
  /** A browser cookie or a Bearer token. */
  readonly kind: SessionKind;
  /** When it happened, on the manager's clock (milliseconds). */
  readonly at: number;
}

/**
 * Why a session was revoked.
 *
 * - `revoked`: `revokeSession`.
 * - `revoked_all`: `revokeAllSessions` ("sign out everywhere").
 * - `token_reuse`: a rotated-away Bearer token was presented outside
 *   `tokenReuseGrace` (see `token.reuse_detected`).
 *
 * @example
 * ```ts
 * import type { RevocationReason } from "@tijs/atproto-sessions";
 *
 * const reason: RevocationReason = "revoked_all";
 * ```
 */
export type RevocationReason = "revoked" | "revoked_all" | "token_reuse";

/**
 * An event from the manager, discriminated by `type`:
 *
 * - `session.created`: `createSession`, `sealToken` or `rotateSession`
 *   signed a device in; `metadata` is what the app recorded about it.
 * - `session.revoked`: a session ended before its time, with a `reason`.
 * - `session.evicted`: `maxSessionsPerUser` pushed out an older session.
 * - `session.rotated`: `rotateSession` replaced `previousSessionId`.
 * - `token.rotated`: `refreshBearerToken` moved a token to `generation`.
 * - `token.reuse_detected`: a token of `presentedGeneration`, rotated away
 *   more than `tokenReuseGrace` ago, was presented; the session is revoked.
 *
 * @example An audit log
 * ```ts
 * import type { SessionEvent } from "@tijs/atproto-sessions";
 *
 * function audit(event: SessionEvent): string {
 *   switch (event.type) {
 *     case "session.created":
 *       return `new sign-in on ${event.metadata.label ?? event.kind}`;
 *     case "token.reuse_detected":
 *       return `possible token theft for ${event.did}`;
 *     default:
 *       return event.type;
 *   }
 * }
 * ```
 */
export type SessionEvent =
  | SessionEventBase & {
    readonly type: "session.created";
    readonly metadata: SessionMetadata;
  }
  | SessionEventBase & {
    readonly type: "session.revoked";
    readonly reason: RevocationReason;
  }
  | SessionEventBase & { readonly type: "session.evicted" }
  | SessionEventBase & {
    readonly type: "session.rotated";
    readonly previousSessionId: string | null;
  }
  | SessionEventBase & {
    readonly type: "token.rotated";
    readonly generation: number;
  }
  | SessionEventBase & {
    readonly type: "token.reuse_detected";
    readonly generation: number;
    readonly presentedGeneration: number;
  };

/**
 * The `onEvent` option: called without being awaited, so neither a throw
 * nor a slow promise reaches the request.
 *
 * @example Alerting on new sign-ins
 * ```ts
 * import type { SessionEventHandler } from "@tijs/atproto-sessions";
 *
 * const onEvent: SessionEventHandler = (event) => {
 *   if (event.type === "session.created") {
 *     // queue a "new sign-in" e-mail for event.did
 *   }
 * };
 * ```
 */
export type SessionEventHandler = (
  event: SessionEvent,
) => void | Promise<void>;
