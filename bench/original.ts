/**
 * A faithful re-implementation of the ORIGINAL package's request path, as
 * the baseline the benchmarks compare against. Every request unseals the
 * cookie with iron-session 8's `unsealData`, re-seals it with `sealData`
 * (sliding `lastAccessed`) and builds a `Set-Cookie` string; the Cookie
 * header is parsed with a simple split, as the original did.
 *
 * @module
 */

import { sealData, unsealData } from "npm:iron-session@8.0.4";

/** What the original kept in a session. */
export interface OriginalSessionData {
  did: string;
  createdAt: number;
  lastAccessed: number;
  [key: string]: unknown;
}

/** The original's request result. */
export interface OriginalResult {
  data: OriginalSessionData | null;
  setCookieHeader: string | null;
  error: string | null;
}

/** Options of the original manager. */
export interface OriginalOptions {
  cookieSecret: string;
  cookieName?: string;
  /** Seconds. */
  sessionTtl?: number;
}

/** The original manager: no cache, a re-seal on every request. */
export class OriginalSessionManager {
  readonly #password: string;
  readonly #cookieName: string;
  readonly #ttl: number;

  /** @param options The secret, cookie name and TTL. */
  constructor(options: OriginalOptions) {
    this.#password = options.cookieSecret;
    this.#cookieName = options.cookieName ?? "sid";
    this.#ttl = options.sessionTtl ?? 7 * 24 * 60 * 60;
  }

  /**
   * Reads, re-seals and returns the session of a request.
   *
   * @param request The request.
   * @returns The session and a fresh Set-Cookie header.
   */
  async getSessionFromRequest(request: Request): Promise<OriginalResult> {
    const cookieHeader = request.headers.get("cookie");
    if (!cookieHeader) {
      return { data: null, setCookieHeader: null, error: "NO_COOKIE" };
    }
    const raw = parseCookies(cookieHeader)[this.#cookieName];
    if (!raw) return { data: null, setCookieHeader: null, error: "NO_COOKIE" };
    try {
      const data = await unsealData<OriginalSessionData>(
        decodeURIComponent(raw),
        { password: this.#password },
      );
      if (!data.did) {
        return { data: null, setCookieHeader: null, error: "INVALID_SESSION" };
      }
      const updated = { ...data, lastAccessed: Date.now() };
      const seal = await sealData(updated, {
        password: this.#password,
        ttl: this.#ttl,
      });
      return {
        data: updated,
        setCookieHeader: this.#cookie(seal),
        error: null,
      };
    } catch {
      return { data: null, setCookieHeader: null, error: "UNSEAL_FAILED" };
    }
  }

  /**
   * Seals a new session and returns its Set-Cookie header.
   *
   * @param data The session data, with at least a `did`.
   * @returns The header value.
   */
  async createSession(
    data: { did: string; [key: string]: unknown },
  ): Promise<string> {
    const now = Date.now();
    const seal = await sealData(
      { ...data, createdAt: now, lastAccessed: now },
      { password: this.#password, ttl: this.#ttl },
    );
    return this.#cookie(seal);
  }

  /**
   * Validates `Authorization: Bearer <token>` by unsealing the token.
   *
   * @param header The Authorization header value.
   * @returns The session data, or null.
   */
  async validateBearerToken(
    header: string | null,
  ): Promise<OriginalSessionData | null> {
    if (!header || !header.startsWith("Bearer ")) return null;
    try {
      const data = await unsealData<OriginalSessionData>(header.slice(7), {
        password: this.#password,
      });
      return data.did ? data : null;
    } catch {
      return null;
    }
  }

  #cookie(seal: string): string {
    return `${this.#cookieName}=${
      encodeURIComponent(seal)
    }; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=${this.#ttl}`;
  }
}

function parseCookies(header: string): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const part of header.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name) cookies[name] = rest.join("=");
  }
  return cookies;
}
