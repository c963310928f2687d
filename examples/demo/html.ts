/**
 * A tiny HTML template tag that escapes every interpolated value, so user
 * input (handles, DIDs, user agents, error messages) can never become markup.
 * Only values already produced by `html` are inserted as they are.
 *
 * @module
 */

/** Markup that is safe to insert as it is: it came from the `html` tag. */
export class Html {
  /** The markup. */
  readonly value: string;

  /**
   * Wraps markup. Use the `html` tag instead; this is for its own use.
   *
   * @param value Markup whose dynamic parts are already escaped.
   */
  constructor(value: string) {
    this.value = value;
  }

  /** Returns the markup. */
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Escapes text for use in HTML content and in quoted attribute values.
 *
 * @param text Any text.
 * @returns The text with `& < > " '` replaced by entities.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);
}

function render(value: unknown): string {
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join("");
  if (value === null || value === undefined || value === false) return "";
  return escapeHtml(String(value));
}

/**
 * Builds markup: the literal parts are kept, every interpolated value is
 * escaped (arrays are joined; `null`, `undefined` and `false` render as
 * nothing; nested `html` results are kept as they are).
 *
 * @param strings The template's literal parts.
 * @param values The interpolated values.
 * @returns The markup.
 */
export function html(
  strings: TemplateStringsArray,
  ...values: readonly unknown[]
): Html {
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) {
    out += render(values[i]) + (strings[i + 1] ?? "");
  }
  return new Html(out);
}
