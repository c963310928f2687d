/**
 * Cookie header parsing (lenient, RFC 6265 §5.4) and Set-Cookie attribute
 * compilation (strict, RFC 6265 §4.1 and RFC 6265bis prefixes).
 *
 * @module
 */

import { describeValue } from "./_describe.ts";
import { ConfigurationError } from "./errors.ts";
import type { CookieOptions } from "./options.ts";

/** The date browsers treat as "already expired", used when clearing. */
export const EPOCH_EXPIRES = "Thu, 01 Jan 1970 00:00:00 GMT";

/** Browsers keep a cookie only when its Set-Cookie line fits in 4096 bytes. */
export const MAX_SET_COOKIE_BYTES = 4096;

// RFC 7230 token: visible ASCII except separators ()<>@,;:\"/[]?={} and space.
const TOKEN_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Attribute values: visible ASCII and space, without `;` (RFC 6265 av-octet).
const ATTRIBUTE_VALUE_PATTERN = /^[\x20-\x3A\x3C-\x7E]*$/;
const DOMAIN_PATTERN = /^\.?[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;

const SPACE = 0x20;
const TAB = 0x09;
const DQUOTE = 0x22;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;

function isSpaceOrTab(code: number): boolean {
  return code === SPACE || code === TAB;
}

/**
 * Tells whether `name` may be used as a cookie name (an RFC 7230 token).
 *
 * @param name The candidate cookie name.
 * @returns `true` when it is a token.
 */
export function isCookieName(name: string): boolean {
  return TOKEN_PATTERN.test(name);
}

/**
 * Returns the raw values of every cookie called exactly `name` in a Cookie
 * header, in header order, at most `limit` of them. Pairs without `=` are
 * skipped, spaces and tabs around names and values are trimmed and one pair
 * of surrounding double quotes is removed. Values are not percent-decoded.
 * Runs in time linear in the header length and never throws.
 *
 * @param header The Cookie header, or null when absent.
 * @param name The exact cookie name to look for.
 * @param limit The most values to return.
 * @returns The matching values, possibly empty.
 */
export function findCookieValues(
  header: string | null,
  name: string,
  limit: number,
): string[] {
  const values: string[] = [];
  if (!header) return values;
  const length = header.length;
  let start = 0;
  // Position of the next `=` at or after `start`; kept across pairs so a
  // header of many pairs without `=` is still scanned once.
  let equals = -1;
  while (start < length && values.length < limit) {
    let end = header.indexOf(";", start);
    if (end === -1) end = length;
    if (equals < start) equals = header.indexOf("=", start);
    if (equals === -1) break;
    if (equals < end) {
      let nameStart = start;
      let nameEnd = equals;
      while (
        nameStart < nameEnd && isSpaceOrTab(header.charCodeAt(nameStart))
      ) {
        nameStart++;
      }
      while (
        nameEnd > nameStart && isSpaceOrTab(header.charCodeAt(nameEnd - 1))
      ) {
        nameEnd--;
      }
      if (
        nameEnd - nameStart === name.length &&
        header.startsWith(name, nameStart)
      ) {
        let valueStart = equals + 1;
        let valueEnd = end;
        while (
          valueStart < valueEnd && isSpaceOrTab(header.charCodeAt(valueStart))
        ) valueStart++;
        while (
          valueEnd > valueStart && isSpaceOrTab(header.charCodeAt(valueEnd - 1))
        ) valueEnd--;
        if (
          valueEnd - valueStart >= 2 &&
          header.charCodeAt(valueStart) === DQUOTE &&
          header.charCodeAt(valueEnd - 1) === DQUOTE
        ) {
          valueStart++;
          valueEnd--;
        }
        values.push(header.slice(valueStart, valueEnd));
      }
    }
    start = end + 1;
  }
  return values;
}

/**
 * Returns the raw value of the first cookie called exactly `name`, the same
 * value as `findCookieValues(header, name, 1)[0]`, by searching for the
 * name instead of splitting every pair: an occurrence counts when only
 * spaces and tabs separate it from the start of the header or a `;`
 * before, and from an `=` after. Linear in the header length; never
 * throws.
 *
 * @param header The Cookie header, or null when absent.
 * @param name The exact cookie name (an RFC 6265 token).
 * @returns The raw value (trimmed, one pair of quotes removed, not
 * percent-decoded), or null when there is no such cookie.
 */
export function findFirstCookieValue(
  header: string | null,
  name: string,
): string | null {
  if (!header) return null;
  const length = header.length;
  let from = 0;
  for (;;) {
    const at = header.indexOf(name, from);
    if (at === -1) return null;
    from = at + 1;
    let before = at - 1;
    while (before >= 0 && isSpaceOrTab(header.charCodeAt(before))) before--;
    if (before >= 0 && header.charCodeAt(before) !== SEMICOLON) continue;
    let equals = at + name.length;
    while (equals < length && isSpaceOrTab(header.charCodeAt(equals))) {
      equals++;
    }
    if (equals === length || header.charCodeAt(equals) !== EQUALS) continue;
    let valueStart = equals + 1;
    let valueEnd = header.indexOf(";", valueStart);
    if (valueEnd === -1) valueEnd = length;
    while (
      valueStart < valueEnd && isSpaceOrTab(header.charCodeAt(valueStart))
    ) valueStart++;
    while (
      valueEnd > valueStart && isSpaceOrTab(header.charCodeAt(valueEnd - 1))
    ) valueEnd--;
    if (
      valueEnd - valueStart >= 2 &&
      header.charCodeAt(valueStart) === DQUOTE &&
      header.charCodeAt(valueEnd - 1) === DQUOTE
    ) {
      valueStart++;
      valueEnd--;
    }
    return header.slice(valueStart, valueEnd);
  }
}

/**
 * Percent-decodes a cookie value, as the original package encoded seals with
 * `encodeURIComponent`. Returns `null` for an invalid escape instead of
 * throwing.
 *
 * @param value The raw cookie value.
 * @returns The decoded value, or null when it is not valid percent-encoding.
 */
export function decodeCookieValue(value: string): string | null {
  if (!value.includes("%")) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return null;
  }
}

/** Cookie attributes after validation, with every default applied. */
export interface ResolvedCookieOptions {
  readonly path: string;
  readonly domain: string | undefined;
  readonly sameSite: "Strict" | "Lax" | "None";
  readonly secure: boolean;
  readonly httpOnly: boolean;
  readonly partitioned: boolean;
}

const SAME_SITE_VALUES: Readonly<Record<string, "Strict" | "Lax" | "None">> =
  Object.freeze({ strict: "Strict", lax: "Lax", none: "None" });

/**
 * Validates cookie options against RFC 6265 and the browser rules for
 * prefixes, `SameSite=None` and `Partitioned`, and fills in defaults.
 *
 * @param name The cookie name.
 * @param options The caller's cookie options.
 * @returns The resolved options.
 * @throws {ConfigurationError} When a rule is broken.
 */
export function resolveCookieOptions(
  name: string,
  options: CookieOptions = {},
): ResolvedCookieOptions {
  if (typeof name !== "string" || !isCookieName(name)) {
    throw new ConfigurationError(
      `Cannot create SessionManager: cookieName must be an RFC 6265 token (letters, digits and !#$%&'*+-.^_\`|~): received ${
        describeValue(name)
      }`,
    );
  }
  if (options === null || typeof options !== "object") {
    throw new ConfigurationError(
      `Cannot create SessionManager: cookie must be an object of cookie attributes: received ${
        describeValue(options)
      }`,
    );
  }
  const path = options.path ?? "/";
  if (
    typeof path !== "string" || !path.startsWith("/") ||
    !ATTRIBUTE_VALUE_PATTERN.test(path)
  ) {
    throw new ConfigurationError(
      `Cannot create SessionManager: cookie.path must start with "/" and contain no ";" or control characters: received ${
        describeValue(path)
      }`,
    );
  }
  const domain = options.domain;
  if (
    domain !== undefined &&
    (typeof domain !== "string" || !DOMAIN_PATTERN.test(domain))
  ) {
    throw new ConfigurationError(
      `Cannot create SessionManager: cookie.domain must be a host name such as "example.com": received ${
        describeValue(domain)
      }`,
    );
  }
  const sameSiteInput = options.sameSite ?? "Lax";
  const sameSite = typeof sameSiteInput === "string"
    ? SAME_SITE_VALUES[sameSiteInput.toLowerCase()]
    : undefined;
  if (sameSite === undefined) {
    throw new ConfigurationError(
      `Cannot create SessionManager: cookie.sameSite must be "Strict", "Lax" or "None": received ${
        describeValue(sameSiteInput)
      }`,
    );
  }
  const secure = options.secure ?? true;
  const httpOnly = options.httpOnly ?? true;
  const partitioned = options.partitioned ?? false;
  for (
    const [key, value] of Object.entries({ secure, httpOnly, partitioned })
  ) {
    if (typeof value !== "boolean") {
      throw new ConfigurationError(
        `Cannot create SessionManager: cookie.${key} must be a boolean: received ${
          describeValue(value)
        }`,
      );
    }
  }
  const requireSecure = (why: string): void => {
    if (!secure) {
      throw new ConfigurationError(
        `Cannot create SessionManager: ${why} requires cookie.secure to be true: received secure: false`,
      );
    }
  };
  if (name.startsWith("__Secure-")) requireSecure(`the "__Secure-" prefix`);
  if (name.startsWith("__Host-")) {
    requireSecure(`the "__Host-" prefix`);
    if (path !== "/" || domain !== undefined) {
      throw new ConfigurationError(
        `Cannot create SessionManager: the "__Host-" prefix requires cookie.path "/" and no cookie.domain: received path ${
          describeValue(path)
        }, domain ${describeValue(domain)}`,
      );
    }
  }
  if (sameSite === "None") requireSecure("SameSite=None");
  if (partitioned) requireSecure("Partitioned");
  return { path, domain, sameSite, secure, httpOnly, partitioned };
}

/**
 * Renders the attributes that follow `name=value; Max-Age=n` in every
 * Set-Cookie line the manager writes, so the request path only concatenates.
 *
 * @param options Resolved cookie options.
 * @returns The attribute string, starting with `"; "`.
 */
export function renderCookieAttributes(options: ResolvedCookieOptions): string {
  let attributes = `; Path=${options.path}`;
  if (options.domain !== undefined) attributes += `; Domain=${options.domain}`;
  if (options.httpOnly) attributes += "; HttpOnly";
  if (options.secure) attributes += "; Secure";
  attributes += `; SameSite=${options.sameSite}`;
  if (options.partitioned) attributes += "; Partitioned";
  return attributes;
}
