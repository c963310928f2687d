/**
 * How the Deno examples listen: on 127.0.0.1 at `PORT` (default 8000).
 *
 * @module
 */

/**
 * Serves on 127.0.0.1 at `PORT` (default 8000); a busy port gets one line
 * saying how to pick another, not a stack trace.
 *
 * @param handler The request handler.
 */
export function serveOnPort(
  handler: (request: Request) => Response | Promise<Response>,
): void {
  const port = portFromEnv();
  try {
    Deno.serve({ hostname: "127.0.0.1", port }, handler);
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    exitPortInUse(port);
  }
}

/**
 * The port to listen on: `PORT`, default 8000.
 *
 * @returns The port.
 */
export function portFromEnv(): number {
  const port = Number(Deno.env.get("PORT") ?? 8000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    // deno-lint-ignore no-console
    console.error(`PORT must be a port number from 0 to 65535`);
    Deno.exit(1);
  }
  return port;
}

/**
 * Exits with one line when `port` is taken; for servers (oak's npm build)
 * that report a busy port only as an uncaught error after "listening".
 *
 * @param port The port about to be listened on.
 */
export function exitIfPortInUse(port: number): void {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    exitPortInUse(port);
  }
}

function exitPortInUse(port: number): never {
  // deno-lint-ignore no-console
  console.error(
    `Port ${port} is already in use: pick another with PORT, e.g. PORT=${
      port + 1
    }`,
  );
  Deno.exit(1);
}
