/**
 * The options of `new SessionManager(options)`: the secret, the cookie's
 * attributes and every optional setting, with their defaults.
 *
 * @module
 */

import type { SessionEventHandler } from "./events.ts";
import type { Logger } from "./logger.ts";
import type { SessionStore } from "./store.ts";

/**
 * `Set-Cookie` attributes for the session cookie.
 *
 * @example A cookie scoped to a sub-path, sent cross-site
 * ```ts
 * import type { CookieOptions } from "@tijs/atproto-sessions";
 *
 * const cookie: CookieOptions = { path: "/app", sameSite: "None", secure: true };
 * ```
 */
export interface CookieOptions {
  /**
   * The `Path` attribute. Must start with `/`.
   * @default {"/"}
   */
  path?: string;
  /**
   * The `Domain` attribute; omitted by default, which keeps the cookie on
   * the exact host. Not allowed with a `__Host-` cookie name.
   */
  domain?: string;
  /**
   * The `SameSite` attribute. `"None"` requires `secure`.
   * @default {"Lax"}
   */
  sameSite?: "Strict" | "Lax" | "None" | "strict" | "lax" | "none";
  /**
   * The `Secure` attribute. Browsers treat `http://localhost` as secure, so
   * keep it on in development too.
   * @default {true}
   */
  secure?: boolean;
  /**
   * The `HttpOnly` attribute: scripts cannot read the cookie.
   * @default {true}
   */
  httpOnly?: boolean;
  /**
   * The `Partitioned` attribute (CHIPS). Requires `secure`.
   * @default {false}
   */
  partitioned?: boolean;
}

/**
 * The secret that seals sessions: one string of at least 32 characters, or a
 * map of numeric ids to such strings for rotation. The highest id seals;
 * every id unseals. An optional `default` entry unseals seals that carry no
 * id (plain Iron seals, as `@hapi/iron` makes them).
 *
 * @example Rotating in a new secret
 * ```ts
 * import type { CookieSecret } from "@tijs/atproto-sessions";
 *
 * const cookieSecret: CookieSecret = {
 *   "1": "the-old-secret-at-least-32-characters",
 *   "2": "the-new-secret-at-least-32-characters",
 * };
 * ```
 */
export type CookieSecret = string | Readonly<Record<string, string>>;

/**
 * Options for `new SessionManager(options)`.
 *
 * @example
 * ```ts
 * import type { SessionManagerOptions } from "@tijs/atproto-sessions";
 *
 * const options: SessionManagerOptions = {
 *   cookieSecret: "x".repeat(32),
 *   sessionTtl: 60 * 60 * 24,
 * };
 * ```
 */
export interface SessionManagerOptions {
  /** The sealing secret (at least 32 characters) or a rotation map. */
  cookieSecret: CookieSecret;
  /**
   * The session cookie's name; an RFC 6265 token. `__Host-` and `__Secure-`
   * prefixes are honoured and their rules enforced.
   * @default {"sid"}
   */
  cookieName?: string;
  /**
   * How long a session lives after its last refresh, in seconds. Also the
   * cookie's `Max-Age`. At most 400 days (the browsers' cap).
   * @default {604800}
   */
  sessionTtl?: number;
  /**
   * How long a Bearer token lives after it was sealed, in seconds.
   * @default {sessionTtl}
   */
  tokenTtl?: number;
  /**
   * An absolute lifetime in seconds, counted from `createdAt`, that sliding
   * refresh never extends. Unset means no absolute limit.
   */
  maxSessionAge?: number;
  /**
   * How long a rotated-away Bearer token may be presented to
   * `refreshBearerToken` again, in seconds, by a client retrying a refresh
   * whose reply it lost: within it the retry receives the same new token;
   * after it, presenting the old token is reuse and revokes the session.
   * @default {30}
   */
  tokenReuseGrace?: number;
  /**
   * Seconds of clock skew tolerated when checking expiry, for fleets of
   * servers whose clocks disagree. A seal is rejected once
   * `now > expiry + clockSkew`.
   * @default {0}
   */
  clockSkew?: number;
  /**
   * Seconds after which a session seen on a request is re-sealed (sliding
   * refresh). Younger seals are answered without any cryptography, and
   * `lastAccessed` is accurate to within this many seconds. `0` re-seals on
   * every request, as the original package did.
   * @default {60}
   */
  refreshAfter?: number;
  /**
   * How many verified seals to remember (an LRU keyed by the exact seal), so
   * a returning browser costs a map lookup. `0` disables the cache.
   * @default {5000}
   */
  cacheSize?: number;
  /** `Set-Cookie` attributes. */
  cookie?: CookieOptions;
  /** Where to send log lines. The default discards them. */
  logger?: Logger;
  /**
   * A server-side session store. With one, every cookie and Bearer token
   * has a session record: sessions can be listed and revoked, and token
   * refresh is a single-use rotation.
   */
  store?: SessionStore;
  /**
   * With a store: the most sessions (cookies and tokens) one DID may hold;
   * creating one more evicts the oldest. Unset means no cap.
   */
  maxSessionsPerUser?: number;
  /**
   * With a store: the most milliseconds any one store call may take. On the
   * request path a call that has not settled by then yields
   * `STORE_UNAVAILABLE`; management calls throw `StoreError`.
   * @default {5000}
   */
  storeTimeout?: number;
  /**
   * Seconds each AT Protocol OAuth client call (`client.restore`,
   * `client.revoke`) may take on the request path before
   * `getOAuthSession` answers `OAUTH_UNAVAILABLE`. A token refresh is about
   * three round trips to the PDS; the OAuth client bounds identity
   * resolution at 10 s too.
   * @default {10}
   */
  oauthTimeout?: number;
  /**
   * Seconds a mobile hand-off code (`createHandoffCode`) stays redeemable.
   * @default {60}
   */
  handoffTtl?: number;
  /**
   * Origins besides the request's own that `checkOrigin` accepts on
   * state-changing requests, each exact (`https://app.example.com`: scheme,
   * host, a non-default port; no path). Behind a proxy that terminates TLS
   * or rewrites the host, list the public origin here.
   * @default {[]}
   */
  trustedOrigins?: readonly string[];
  /**
   * Receives typed events (`session.created`, `session.revoked`,
   * `session.evicted`, `session.rotated`, `token.rotated`,
   * `token.reuse_detected`) for sign-in alerts and audit logs. It is called
   * without being awaited; what it throws or rejects with is logged and
   * never reaches the request.
   */
  onEvent?: SessionEventHandler;
  /**
   * The clock, in milliseconds since the epoch, read at every call. Inject
   * one in tests. A clock that returns a non-finite value fails closed.
   * @default {() => Date.now()}
   */
  now?: () => number;
  /**
   * Generates session ids and token `jti`s.
   * @default {() => crypto.randomUUID()}
   */
  generateId?: () => string;
}
