// deno-lint-ignore-file no-console -- a child process: stdout is its protocol
/**
 * Runs a local AT Protocol network — a PLC directory and a PDS from
 * `@atproto/dev-env` — in Node 22, for atproto-sessions' tests and demo.
 * dev/pds/mod.ts starts it; run it by hand with
 *
 *   ATPROTO_NETWORK_DIR=<install dir> <install dir>/node_modules/node/bin/node \
 *     dev/pds/network.mjs '{"accounts":[{"name":"alice","password":"..."}]}'
 *
 * where <install dir> is what `deno run -A dev/pds/install.ts` prints.
 *
 * Argument (JSON, optional): `{ pdsPort?, plcPort?, accounts? }`; ports
 * default to free ones, accounts to alice.test and bob.test. Each account is
 * `{ name, handle?, email?, password? }` (handle `<name>.test`, email
 * `<name>@test.com`, password `<name>-password`).
 *
 * Protocol (stdout, one JSON object per line; anything else on stdout is
 * log noise the reader skips):
 *
 * - once ready: `{"pdsUrl","plcUrl","accounts":{"alice":{"did","handle",
 *   "password","email"},…}}`
 * - then one reply per stdin command: `{"reply":"<command>","ok":true,…}`
 *   or `{"reply":"<command>","ok":false,"error":"…"}`.
 *
 * Commands (stdin, one per line):
 *
 * - `stop-pds`: closes the PDS's HTTP listener and every open connection, so
 *   connecting to the PDS's port is refused; the process, its databases,
 *   keys, accounts and OAuth grants stay as they are.
 * - `start-pds`: listens again, on the same port, with the same app and
 *   data: sessions issued before the stop keep working.
 * - `revoke-oauth <did>`: deletes every OAuth grant (token row) of that
 *   account on the PDS, as the user revoking the app on the PDS's account
 *   page does (`/revoke-oauth-session` → `tokenManager.deleteToken`). Its
 *   access tokens stop working at once (the PDS runs stateful access
 *   tokens) and a refresh answers `invalid_grant`. Replies with `revoked`,
 *   the number of grants deleted.
 * - `ping`: replies `{"reply":"ping","ok":true}`.
 *
 * Stops (`network.close()`, then exit) on SIGTERM, SIGINT or stdin closing.
 */

import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { pathToFileURL } from "node:url";

const dir = process.env.ATPROTO_NETWORK_DIR;
if (!dir) {
  console.error(
    "network.mjs: set ATPROTO_NETWORK_DIR to the folder dev/pds/install.ts installed into",
  );
  process.exit(2);
}
if (Number(process.versions.node.split(".")[0]) < 22) {
  console.error(
    `network.mjs needs Node 22 or later (running ${process.version}): run it with ${dir}/node_modules/node/bin/node`,
  );
  process.exit(2);
}

const options = JSON.parse(process.argv[2] || "{}");
const accountsWanted = options.accounts ?? [
  { name: "alice" },
  { name: "bob" },
];

// Protocol lines are written with the real stdout; everything the network
// prints through console.log goes to stderr instead.
const stdoutWrite = process.stdout.write.bind(process.stdout);
console.log = (...args) => console.error(...args);
function send(message) {
  stdoutWrite(JSON.stringify(message) + "\n");
}

const { TestNetworkNoAppView } = await importFromInstall("@atproto/dev-env");

const network = await TestNetworkNoAppView.create({
  pds: {
    hostname: "localhost",
    ...(options.pdsPort ? { port: options.pdsPort } : {}),
  },
  plc: options.plcPort ? { port: options.plcPort } : {},
});

const seed = network.getSeedClient();
const accounts = {};
for (const wanted of accountsWanted) {
  const name = wanted.name;
  const account = {
    handle: wanted.handle ?? `${name}.test`,
    email: wanted.email ?? `${name}@test.com`,
    password: wanted.password ?? `${name}-password`,
  };
  await seed.createAccount(name, account);
  accounts[name] = { did: seed.dids[name], ...account };
}

const pds = network.pds.server; // the @atproto/pds PDS instance
const port = network.pds.port;
let running = true;

/** Closes a listener and its open (keep-alive) connections. */
function closeServer(server) {
  return new Promise((resolve, reject) => {
    server.close((error) => error ? reject(error) : resolve());
    server.closeAllConnections();
  });
}

async function stopPds() {
  if (!running) return;
  await pds.terminator.terminate();
  running = false;
  // PDS.destroy() terminates the listener again at close: make that a no-op.
  pds.terminator = { terminate: async () => {} };
}

async function startPds() {
  if (running) return;
  // What PDS.start() does, minus starting the sequencer, which never stopped.
  const server = pds.app.listen(port);
  server.keepAliveTimeout = 90_000;
  await new Promise((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  pds.server = server;
  pds.terminator = { terminate: () => closeServer(server) };
  running = true;
}

async function revokeOAuth(did) {
  const provider = network.pds.ctx.oauthProvider;
  if (!provider) throw new Error("This PDS has no OAuth provider");
  const tokens = await provider.tokenManager.listAccountTokens(did);
  for (const token of tokens) await provider.tokenManager.deleteToken(token.id);
  return tokens.length;
}

let closing = null;
function shutdown() {
  closing ??= (async () => {
    try {
      await network.close();
    } catch (error) {
      console.error("network.close() failed:", error);
    }
    process.exit(0);
  })();
  return closing;
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

send({ pdsUrl: network.pds.url, plcUrl: network.plc.url, accounts });

const lines = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on("line", (line) => {
  queue = queue.then(() => handle(line.trim()));
});
lines.on("close", () => queue.then(shutdown));

async function handle(line) {
  if (line === "") return;
  const [command, ...args] = line.split(/\s+/);
  try {
    switch (command) {
      case "ping":
        return send({ reply: command, ok: true });
      case "stop-pds":
        await stopPds();
        return send({ reply: command, ok: true });
      case "start-pds":
        await startPds();
        return send({ reply: command, ok: true });
      case "revoke-oauth": {
        if (!args[0]) throw new Error("Usage: revoke-oauth <did>");
        const revoked = await revokeOAuth(args[0]);
        return send({ reply: command, ok: true, revoked });
      }
      default:
        throw new Error(`Unknown command: ${command}`);
    }
  } catch (error) {
    send({ reply: command, ok: false, error: String(error?.stack ?? error) });
  }
}

/** Imports a package from the install folder's node_modules (ESM ignores NODE_PATH). */
async function importFromInstall(name) {
  const root = path.join(dir, "node_modules", name);
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json")));
  const entry = pkg.exports?.["."];
  const file = typeof entry === "string"
    ? entry
    : entry?.import ?? entry?.default ?? pkg.main ?? "index.js";
  return await import(pathToFileURL(path.join(root, file)).href);
}
