// deno-lint-ignore-file no-console -- a command-line entry point talks to the terminal
/**
 * Starts the demo on http://localhost:8000:
 *
 * ```sh
 * deno run --allow-net --allow-env examples/demo/main.ts
 * ```
 *
 * Environment: `PORT` (default 8000) and `COOKIE_SECRET` (at least 32
 * characters; without it a random secret is generated, so sessions end when
 * the demo stops).
 *
 * @module
 */

import { ConfigurationError, type Logger } from "../../mod.ts";
import { createDemoApp, type DemoHandler, generateSecret } from "./app.ts";

function fail(message: string): never {
  console.error(message);
  Deno.exit(1);
}

const portText = Deno.env.get("PORT") ?? "8000";
const port = Number(portText);
if (!/^\d+$/.test(portText) || port > 65535) {
  fail(`PORT must be a port number from 0 to 65535: received "${portText}"`);
}

let cookieSecret = Deno.env.get("COOKIE_SECRET");
if (!cookieSecret) {
  cookieSecret = generateSecret();
  console.warn(
    "Warning: COOKIE_SECRET is not set, so a random secret is used and every session ends when the demo stops. Set COOKIE_SECRET to 32 or more random characters to keep them.",
  );
}

// The library logs events, never secrets, seals or tokens.
const logger: Logger = {
  debug(): void {},
  info(message, context): void {
    console.info(`[sessions] ${message}`, context ?? "");
  },
  warn(message, context): void {
    console.warn(`[sessions] ${message}`, context ?? "");
  },
  error(message, context): void {
    console.error(`[sessions] ${message}`, context ?? "");
  },
};

let handler: DemoHandler;
try {
  handler = createDemoApp({ cookieSecret, logger });
} catch (error) {
  if (error instanceof ConfigurationError) {
    fail(error.message);
  }
  throw error;
}

Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen({ port }) {
    console.log(`atproto-sessions demo running at http://localhost:${port}/`);
  },
}, handler);
