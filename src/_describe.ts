/**
 * Describes a received value for an error message without ever quoting
 * it: a misplaced secret (`new SessionManager(secret)`, a secret passed as
 * the cookie name) must not land in crash logs.
 *
 * @module
 */

/**
 * Describes a value by type; numbers, booleans, null and undefined are
 * shown, strings only by length.
 *
 * @param value Anything a caller passed.
 * @returns A short description such as `a string of 12 characters`.
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case "number":
    case "boolean":
    case "undefined":
      return String(value);
    case "string":
      return `a string of ${value.length} characters`;
    case "object":
      return value === null
        ? "null"
        : Array.isArray(value)
        ? "an array"
        : "an object";
    default:
      return `a ${typeof value}`;
  }
}
