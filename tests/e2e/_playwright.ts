/**
 * Loads playwright-core under Deno's permission flags.
 *
 * When it loads, playwright-core checks whether it runs under WSL with
 * `fs.existsSync("/proc/sys/fs/binfmt_misc/WSLInterop")`. Deno lets only
 * `--allow-all` read under /proc and throws `NotCapable` instead of
 * answering false, so the import fails with the narrower flags the tests
 * run with. For the length of the import, `existsSync` answers false where
 * Deno refuses to look; then the original is put back.
 *
 * @module
 */

import fs from "node:fs";

/** The playwright-core module, as the test uses it. */
export type Playwright = typeof import("npm:playwright-core@1.65.1");

/**
 * Imports playwright-core.
 *
 * @returns The module.
 */
export async function loadPlaywright(): Promise<Playwright> {
  const existsSync = fs.existsSync;
  fs.existsSync = (path: fs.PathLike): boolean => {
    try {
      return existsSync(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) return false;
      throw error;
    }
  };
  try {
    return await import("npm:playwright-core@1.65.1");
  } finally {
    fs.existsSync = existsSync;
  }
}
