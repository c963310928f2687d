// deno-lint-ignore-file no-console -- a command-line entry point talks to the terminal
/**
 * `deno task demo`: starts a local PLC directory and PDS (installing them on
 * the first run), seeds a test account, and serves the demo on
 * http://127.0.0.1:8000.
 *
 * Environment: `PORT` (default 8000), `DEMO_REAUTH_SECONDS` (how recent a
 * sign-in the sensitive page needs; default 300), `ATPROTO_NETWORK_DEBUG=1`
 * (the PDS's own logs on stderr).
 *
 * @module
 */

import { type AtprotoNetwork, startAtprotoNetwork } from "../../dev/pds/mod.ts";
import { exitIfPortInUse, portFromEnv } from "../_serve.ts";
import { createDemoApp, type DemoApp } from "./app.ts";

const port = portFromEnv();
const reauthText = Deno.env.get("DEMO_REAUTH_SECONDS") ?? "300";
const reauthSeconds = Number(reauthText);
if (!/^\d+$/.test(reauthText) || reauthSeconds < 1) {
  console.error(
    `DEMO_REAUTH_SECONDS must be a whole number of seconds, at least 1: received "${
      reauthText.slice(0, 40)
    }"`,
  );
  Deno.exit(1);
}
// Say so before spending seconds on the network.
if (port !== 0) exitIfPortInUse(port);

console.log(
  "Starting the local AT Protocol network (a PLC directory and a PDS on 127.0.0.1)…",
);
const started = performance.now();
let network: AtprotoNetwork;
try {
  network = await startAtprotoNetwork({ accounts: [{ name: "alice" }] });
} catch (error) {
  console.error(
    `The local AT Protocol network did not start: ${
      error instanceof Error ? error.message : String(error)
    }\nSee dev/pds/README.md; ATPROTO_NETWORK_DEBUG=1 shows its logs.`,
  );
  Deno.exit(1);
}
const alice = network.accounts.alice!;
console.log(
  `  PDS at ${network.pdsUrl}, PLC directory at ${network.plcUrl} (${
    ((performance.now() - started) / 1000).toFixed(1)
  } s)`,
);

// The handler needs the port for its OAuth redirect URI (PORT may be 0).
const ready: { app?: DemoApp } = {};
let server: Deno.HttpServer<Deno.NetAddr>;
try {
  server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen() {} },
    (request, info) => ready.app!.handler(request, info),
  );
} catch (error) {
  await network.close();
  if (!(error instanceof Deno.errors.AddrInUse)) throw error;
  console.error(
    `Port ${port} is already in use: pick another with PORT, e.g. PORT=${
      port + 1
    } deno task demo`,
  );
  Deno.exit(1);
}
const origin = `http://127.0.0.1:${server.addr.port}`;
ready.app = createDemoApp({
  origin,
  network,
  testAccount: { handle: alice.handle, password: alice.password },
  reauthSeconds,
  log: (line) => console.log(line),
});

console.log(`
atproto-sessions demo running at ${origin}/

  Sign in as ${alice.handle} with the password ${alice.password}
  (the local PDS's real OAuth sign-in and consent pages), or with any
  other handle when this machine is online.

  Everything lives in memory: stopping the demo signs everyone out, and
  the local PDS starts empty on each run. Ctrl-C stops it.
`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log("Stopping the demo and the local AT Protocol network…");
  await server.shutdown().catch(() => {});
  await network.close();
  Deno.exit(0);
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => void stop());
}
