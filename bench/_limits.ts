/**
 * The physical limits of the hot paths, as issue 13 defines them: the
 * least work any implementation must do to answer a request from a cache.
 *
 * - Cookie: `request.headers.get("cookie")`, finding the session cookie's
 *   value, one `Map.get` keyed by it, reading the clock and building the
 *   `Set-Cookie` string.
 * - Bearer: `request.headers.get("authorization")`, checking the scheme,
 *   one `Map.get` keyed by the token, reading the clock.
 *
 * Both are `async`, like the API they bound: a caller awaits the answer,
 * so one resolved promise is part of the limit.
 *
 * @module
 */

/** The cached entry the limits look up (its content is irrelevant). */
export interface LimitEntry {
  readonly expiresAt: number;
}

/**
 * The cookie limit for one cookie name.
 *
 * @param cookieName The session cookie's name.
 * @param attributes What follows `Max-Age=n` in the Set-Cookie line.
 * @param cache The map of seals to entries.
 * @param clock The clock.
 * @returns The operation: a request in, a Set-Cookie line out.
 */
export function cookieLimit(
  cookieName: string,
  attributes: string,
  cache: ReadonlyMap<string, LimitEntry>,
  clock: () => number,
): (request: Request) => Promise<string | null> {
  const needle = `${cookieName}=`;
  // deno-lint-ignore require-await
  return async (request) => {
    const header = request.headers.get("cookie");
    if (header === null) return null;
    const at = header.indexOf(needle);
    if (at === -1) return null;
    const start = at + needle.length;
    let end = header.indexOf(";", start);
    if (end === -1) end = header.length;
    const value = header.slice(start, end);
    const entry = cache.get(value);
    if (entry === undefined) return null;
    const now = clock();
    return `${needle}${value}; Max-Age=${
      Math.floor((entry.expiresAt - now) / 1000)
    }${attributes}`;
  };
}

/**
 * The Bearer limit.
 *
 * @param cache The map of tokens to entries.
 * @param clock The clock.
 * @returns The operation: a request in, the cached entry out.
 */
export function bearerLimit(
  cache: ReadonlyMap<string, LimitEntry>,
  clock: () => number,
): (request: Request) => Promise<LimitEntry | null> {
  // deno-lint-ignore require-await
  return async (request) => {
    const header = request.headers.get("authorization");
    if (
      header === null || header.length < 8 ||
      header.slice(0, 7).toLowerCase() !== "bearer "
    ) return null;
    const entry = cache.get(header.slice(7));
    if (entry === undefined || clock() >= entry.expiresAt) return null;
    return entry;
  };
}
