/**
 * Small HTTP helpers for the demo: responses that carry the session's
 * `Set-Cookie`, a bounded form reader, the security headers, and the
 * one-line request log (method, path, status, error type; never a query
 * string, cookie, code or token).
 *
 * @module
 */

import type { Html } from "./html.ts";

/** The largest form body the demo reads, in bytes. */
export const MAX_FORM_BYTES = 16 * 1024;

/** Builds one response; `setCookie` forwards the library's decision. */
export class Reply {
  /** The response headers. */
  readonly headers: Headers = new Headers();

  /**
   * @param setCookie A `Set-Cookie` value to send, if any.
   */
  constructor(setCookie?: string | null) {
    if (setCookie) this.headers.set("set-cookie", setCookie);
  }

  /**
   * An HTML page.
   *
   * @param body The page.
   * @param status The status code.
   * @returns The response.
   */
  page(body: Html, status = 200): Response {
    this.headers.set("content-type", "text/html; charset=utf-8");
    return new Response(body.value.trimStart(), {
      status,
      headers: this.headers,
    });
  }

  /**
   * A JSON body.
   *
   * @param body The value.
   * @param status The status code.
   * @returns The response.
   */
  json(body: unknown, status = 200): Response {
    this.headers.set("content-type", "application/json; charset=utf-8");
    return new Response(JSON.stringify(body, null, 2) + "\n", {
      status,
      headers: this.headers,
    });
  }

  /**
   * A plain-text body.
   *
   * @param body The text.
   * @param status The status code.
   * @returns The response.
   */
  text(body: string, status = 200): Response {
    this.headers.set("content-type", "text/plain; charset=utf-8");
    return new Response(body, { status, headers: this.headers });
  }

  /**
   * `303 See Other`: the answer to every successful form (Post/Redirect/Get).
   *
   * @param location Where the browser goes next, with GET.
   * @returns The response.
   */
  redirect(location: string | URL): Response {
    this.headers.set("location", String(location));
    return new Response(null, { status: 303, headers: this.headers });
  }
}

/**
 * Reads a urlencoded form body, refusing another content type or anything
 * over {@linkcode MAX_FORM_BYTES}.
 *
 * @param request The POST.
 * @returns The fields, or null when refused.
 */
export async function readForm(
  request: Request,
): Promise<URLSearchParams | null> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) return null;
  if (request.body === null) return new URLSearchParams();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_FORM_BYTES) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new URLSearchParams(new TextDecoder().decode(bytes));
}

/**
 * Sets the demo's security headers: no scripts at all, styles from
 * `/style.css`, forms to this origin and to the PDS's authorization page
 * (the sign-in POST redirects there), no framing, no caching.
 *
 * @param headers The response headers.
 * @param formTargets Origins forms may be sent to, besides this one.
 */
export function setSecurityHeaders(
  headers: Headers,
  formTargets: readonly string[],
): void {
  headers.set(
    "content-security-policy",
    `default-src 'none'; style-src 'self'; img-src data:; form-action 'self' ${
      formTargets.join(" ")
    } https:; frame-ancestors 'none'; base-uri 'none'`,
  );
  headers.set("x-content-type-options", "nosniff");
  // Not "no-referrer": under it browsers send `Origin: null` on form posts,
  // which the Origin check refuses.
  headers.set("referrer-policy", "same-origin");
  if (!headers.has("cache-control")) headers.set("cache-control", "no-store");
}

/**
 * The request log line: method, path (never the query, which carries OAuth
 * codes and hand-off codes), status and the error type, if any.
 *
 * @param method The request method.
 * @param path The URL path.
 * @param status The response status.
 * @param errorType The library's error type, or the demo's own reason.
 * @returns One line.
 */
export function logLine(
  method: string,
  path: string,
  status: number,
  errorType: string | null,
): string {
  // Paths are the client's: cap them and keep control characters out.
  const safePath = path.length > 120 ? `${path.slice(0, 120)}…` : path;
  return `${method.slice(0, 10)} ${
    safePath.replace(/[^\x21-\x7e]/g, "?")
  } ${status}${errorType === null ? "" : ` ${errorType}`}`;
}
