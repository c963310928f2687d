/**
 * CSRF protection for cookie sessions: an `Origin` check on state-changing
 * requests, with `Sec-Fetch-Site` as the fallback when a browser sends no
 * `Origin`.
 *
 * @module
 */

import { ConfigurationError } from "./errors.ts";

/**
 * Why {@linkcode checkOrigin} refused a request.
 *
 * - `ORIGIN_MISMATCH`: `Origin` names another site than the request's own
 *   origin and every trusted origin.
 * - `ORIGIN_NULL`: `Origin: null` (sandboxed frames, `file:` pages, some
 *   redirects, and forms under `Referrer-Policy: no-referrer`): the sender
 *   cannot be known, so it is refused.
 * - `ORIGIN_INVALID`: an `Origin` that is not a serialised origin.
 * - `ORIGIN_MISSING`: no `Origin`, and `Sec-Fetch-Site` does not say
 *   `same-origin` (a non-browser client, or an old browser).
 *
 * @example
 * ```ts
 * import type { OriginCheckReason } from "@tijs/atproto-sessions";
 *
 * const reason: OriginCheckReason = "ORIGIN_MISMATCH";
 * ```
 */
export type OriginCheckReason =
  | "ORIGIN_MISMATCH"
  | "ORIGIN_NULL"
  | "ORIGIN_INVALID"
  | "ORIGIN_MISSING";

/**
 * The result of {@linkcode checkOrigin}. A refusal carries the reason, the
 * origins that would have been accepted (for an error page that says which
 * origin was expected) and the `Origin` received (attacker-controlled:
 * escape it before showing it).
 *
 * @example
 * ```ts
 * import type { OriginCheckResult } from "@tijs/atproto-sessions";
 *
 * function status(result: OriginCheckResult): number {
 *   return result.ok ? 200 : 403;
 * }
 * ```
 */
export type OriginCheckResult =
  | { readonly ok: true }
  | {
    readonly ok: false;
    readonly reason: OriginCheckReason;
    /** The request's own origin (when its URL is absolute), then the trusted ones. */
    readonly expected: readonly string[];
    /** The `Origin` header as received, or null when absent. */
    readonly received: string | null;
  };

/** What {@linkcode checkOrigin} reads from a request. */
export interface OriginCheckRequest {
  /** The HTTP method. */
  readonly method: string;
  /** The request URL; its origin is the request's own. */
  readonly url: string;
  /** The request headers. */
  readonly headers: Pick<Headers, "get">;
}

const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);

/** Origins longer than this are not origins (a host is at most 253 bytes). */
const MAX_ORIGIN_LENGTH = 300;

/**
 * Validates the `trustedOrigins` option once: each entry must be an exact,
 * serialised origin such as `https://app.example.com` (scheme, host and a
 * non-default port; no path, no trailing slash).
 *
 * @param origins The configured origins.
 * @returns The origins, frozen.
 * @throws {ConfigurationError} When an entry is not an exact origin.
 *
 * @example
 * ```ts
 * import { compileTrustedOrigins } from "@tijs/atproto-sessions";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(compileTrustedOrigins(["https://app.example.com"]), ["https://app.example.com"]);
 * ```
 */
export function compileTrustedOrigins(
  origins: readonly string[] | undefined,
): readonly string[] {
  if (origins === undefined) return Object.freeze([]);
  if (!Array.isArray(origins)) {
    throw new ConfigurationError(
      `Cannot create SessionManager: trustedOrigins must be an array of origins such as ["https://app.example.com"]: received ${typeof origins}`,
    );
  }
  const compiled: string[] = [];
  for (const [index, origin] of origins.entries()) {
    if (typeof origin !== "string" || parseOrigin(origin) !== origin) {
      // Never echo the value: whatever was passed may be a secret.
      throw new ConfigurationError(
        `Cannot create SessionManager: trustedOrigins[${index}] must be an exact origin such as "https://app.example.com" (scheme and lowercase host, a port only when not the default, no path or trailing slash): received ${
          typeof origin === "string"
            ? `a string of ${origin.length} characters`
            : typeof origin
        }`,
      );
    }
    compiled.push(origin);
  }
  return Object.freeze(compiled);
}

/**
 * Checks that a state-changing request comes from the app's own pages.
 * Safe methods (GET, HEAD, OPTIONS) pass. Other methods pass only when
 * `Origin` equals the request's own origin or one of `trustedOrigins`, or,
 * without an `Origin`, when `Sec-Fetch-Site` is `same-origin`.
 * `Origin: null` is refused. Never throws.
 *
 * Behind a proxy that terminates TLS or rewrites the host, the request URL
 * the server sees (`http://10.0.0.5:8000/...`) is not the public one: list
 * the public origin (`https://app.example.com`) in `trustedOrigins`.
 *
 * Apply it to requests authenticated by the session cookie; Bearer-token
 * requests are not exposed to CSRF, as browsers never attach the token on
 * their own.
 *
 * @param request The request (a Web `Request` or anything with its method,
 * URL and headers).
 * @param trustedOrigins Origins accepted besides the request's own, from
 * {@linkcode compileTrustedOrigins}.
 * @returns `{ ok: true }`, or a refusal with a typed reason.
 *
 * @example Refusing a cross-site form post
 * ```ts
 * import { checkOrigin } from "@tijs/atproto-sessions";
 * import assert from "node:assert/strict";
 *
 * const request = new Request("https://app.example.com/logout", {
 *   method: "POST",
 *   headers: { origin: "https://evil.example" },
 * });
 * const result = checkOrigin(request, []);
 * assert.equal(result.ok, false);
 * assert.equal(!result.ok && result.reason, "ORIGIN_MISMATCH");
 * assert.equal(checkOrigin(new Request("https://app.example.com/"), []).ok, true);
 * ```
 */
export function checkOrigin(
  request: OriginCheckRequest,
  trustedOrigins: readonly string[],
): OriginCheckResult {
  let method: unknown;
  let origin: string | null;
  let fetchSite: string | null;
  let url: unknown;
  try {
    method = request.method;
    url = request.url;
    origin = request.headers.get("origin");
    fetchSite = origin === null ? request.headers.get("sec-fetch-site") : null;
  } catch {
    method = undefined;
    url = undefined;
    origin = null;
    fetchSite = null;
  }
  if (typeof method === "string" && SAFE_METHODS.has(method.toUpperCase())) {
    return OK;
  }
  const own = typeof url === "string" ? urlOrigin(url) : null;
  if (origin === null) {
    if (fetchSite === "same-origin") return OK;
    return refuse("ORIGIN_MISSING", own, trustedOrigins, null);
  }
  if (origin === "null") {
    return refuse("ORIGIN_NULL", own, trustedOrigins, origin);
  }
  if (parseOrigin(origin) !== origin) {
    return refuse("ORIGIN_INVALID", own, trustedOrigins, origin);
  }
  if (origin === own || trustedOrigins.includes(origin)) return OK;
  return refuse("ORIGIN_MISMATCH", own, trustedOrigins, origin);
}

const OK: OriginCheckResult = Object.freeze({ ok: true });

function refuse(
  reason: OriginCheckReason,
  own: string | null,
  trustedOrigins: readonly string[],
  received: string | null,
): OriginCheckResult {
  const expected = own === null || trustedOrigins.includes(own)
    ? [...trustedOrigins]
    : [own, ...trustedOrigins];
  return Object.freeze({
    ok: false,
    reason,
    expected: Object.freeze(expected),
    received,
  });
}

/** The serialised origin of a URL with a tuple origin, or null. */
function urlOrigin(url: string): string | null {
  if (url.length > 8192) return null;
  try {
    const origin = new URL(url).origin;
    return origin === "null" ? null : origin;
  } catch {
    return null;
  }
}

/**
 * The serialised origin an `Origin`-like string denotes, or null when it is
 * not an http(s) origin. Equal to its input only when the input is already
 * exactly serialised.
 */
function parseOrigin(value: string): string | null {
  if (value.length === 0 || value.length > MAX_ORIGIN_LENGTH) return null;
  if (!value.startsWith("http://") && !value.startsWith("https://")) {
    return null;
  }
  return urlOrigin(value);
}
