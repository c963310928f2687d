// deno-lint-ignore-file no-console -- explains skips
/**
 * Headless Chromium for the browser tests (tests/e2e/, tests/oauth/): where
 * it is, whether its tests run, and launching it with the flags the local
 * network needs.
 *
 * Environment: CHROMIUM_PATH (default /usr/bin/chromium); with CI=true a
 * missing browser fails the test instead of skipping it.
 *
 * @module
 */

import type { Browser } from "npm:playwright-core@1.65.1";
import { loadPlaywright } from "./_playwright.ts";

/** The browser to drive. */
export const CHROMIUM_PATH: string = Deno.env.get("CHROMIUM_PATH") ??
  "/usr/bin/chromium";
/** Whether the run is CI's, where nothing may be skipped. */
export const ON_CI: boolean = Deno.env.get("CI") === "true";
/** Whether there is a browser at {@linkcode CHROMIUM_PATH}. */
export const HAS_CHROMIUM: boolean = isFile(CHROMIUM_PATH);

const LAUNCH_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
  // The PDS's issuer is http://localhost:<port>; it listens on 127.0.0.1.
  "--host-resolver-rules=MAP localhost 127.0.0.1",
];

/**
 * Whether the Chromium tests can run; prints why not. Under CI=true a
 * missing browser is reported by the test itself, as a failure (see
 * {@linkcode requireChromium}).
 *
 * @param suite What the skipped tests cover, for the message.
 * @returns Whether there is a browser.
 */
export function chromiumAvailable(suite: string): boolean {
  if (HAS_CHROMIUM) return true;
  if (!ON_CI) {
    console.warn(
      `Skipping ${suite}: no Chromium at ${CHROMIUM_PATH}. Install it (apt-get install chromium) or set CHROMIUM_PATH.`,
    );
  }
  return false;
}

/**
 * Fails a test that needs the browser when there is none (under CI=true,
 * where the test runs anyway).
 *
 * @throws {Error} When there is no browser at {@linkcode CHROMIUM_PATH}.
 */
export function requireChromium(): void {
  if (!HAS_CHROMIUM) {
    throw new Error(
      `CI=true but there is no Chromium at ${CHROMIUM_PATH}: install Debian's chromium package in the CI setup, or set CHROMIUM_PATH`,
    );
  }
}

/**
 * Launches headless Chromium.
 *
 * @returns The browser; the caller closes it.
 * @throws {Error} When there is no browser at {@linkcode CHROMIUM_PATH}.
 */
export async function launchChromium(): Promise<Browser> {
  requireChromium();
  const { chromium } = await loadPlaywright();
  return await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: LAUNCH_ARGS,
    timeout: 60_000,
  });
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
