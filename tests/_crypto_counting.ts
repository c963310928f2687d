/**
 * Counts the cryptography a test body causes: seals made (one AES
 * encryption each) and seals verified (one HMAC verification each).
 *
 * @module
 */

import assert from "node:assert/strict";

type Method = "encrypt" | "verify";

async function counting(
  method: Method,
  body: () => Promise<void>,
): Promise<number> {
  const subtle = crypto.subtle as unknown as Record<
    Method,
    (...args: unknown[]) => Promise<unknown>
  >;
  const original = subtle[method];
  let count = 0;
  subtle[method] = function (this: unknown, ...args: unknown[]) {
    count++;
    return original.apply(this, args);
  };
  try {
    await body();
  } finally {
    delete (subtle as Partial<typeof subtle>)[method];
  }
  assert.equal(subtle[method], original);
  return count;
}

/**
 * How many seals were made while `body` ran.
 *
 * @param body The code to watch.
 * @returns The count.
 */
export function countingSeals(body: () => Promise<void>): Promise<number> {
  return counting("encrypt", body);
}

/**
 * How many seals were verified while `body` ran.
 *
 * @param body The code to watch.
 * @returns The count.
 */
export function countingVerifications(
  body: () => Promise<void>,
): Promise<number> {
  return counting("verify", body);
}
