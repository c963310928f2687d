// deno-lint-ignore-file no-console
// Runs examples/node_server.ts under Node or Bun: start it on a free
// 127.0.0.1 port, sign in, read /me, sign out, over real HTTP.
//
//   deno bundle --platform deno -o "$DIR/node_server.js" examples/node_server.ts
//   node tests/runtimes/node_example_smoke.mjs "$DIR/node_server.js" "$CORE_DIR/mod.js"
//
// The example's own `import.meta.main` block does not run on Node 20 (it
// has no import.meta.main), so this starts the exported server itself.

import assert from "node:assert/strict";
import process from "node:process";
import { pathToFileURL } from "node:url";

const DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const [examplePath, corePath] = process.argv.slice(2);
if (examplePath === undefined || corePath === undefined) {
  console.error("Usage: node_example_smoke.mjs EXAMPLE_BUNDLE CORE_BUNDLE");
  process.exit(2);
}
const runtime = typeof Bun !== "undefined"
  ? `Bun ${Bun.version}`
  : `Node ${process.version}`;

const { createServer } = await import(pathToFileURL(examplePath).href);
const { SessionManager } = await import(pathToFileURL(corePath).href);
const sessions = new SessionManager({
  cookieSecret: "a-smoke-test-secret-of-at-least-32-characters",
});
const server = createServer(sessions);
await new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(0, "127.0.0.1", resolve);
});
const base = `http://127.0.0.1:${server.address().port}`;

try {
  const login = await fetch(`${base}/login`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: base },
    body: JSON.stringify({ did: DID }),
  });
  assert.equal(login.status, 200);
  await login.body?.cancel();
  const setCookie = login.headers.get("set-cookie");
  assert.match(setCookie, /^sid=Fe26\.2\*.*; HttpOnly/);
  const cookie = setCookie.slice(0, setCookie.indexOf(";"));

  const me = await fetch(`${base}/me`, { headers: { cookie } });
  assert.equal(me.status, 200);
  assert.deepEqual(await me.json(), { did: DID });

  const anonymous = await fetch(`${base}/me`);
  assert.equal(anonymous.status, 401);
  assert.deepEqual(await anonymous.json(), { error: "NO_COOKIE" });

  const forged = await fetch(`${base}/logout`, {
    method: "POST",
    headers: { origin: "https://evil.example" },
  });
  assert.equal(forged.status, 403);
  await forged.body?.cancel();

  const logout = await fetch(`${base}/logout`, {
    method: "POST",
    headers: { origin: base },
  });
  assert.equal(logout.status, 204);
  assert.match(logout.headers.get("set-cookie"), /^sid=; Max-Age=0;/);

  const invalid = await fetch(`${base}/login`, {
    method: "POST",
    headers: { origin: base },
    body: JSON.stringify({ did: "alice.bsky.social" }),
  });
  assert.equal(invalid.status, 400);
  await invalid.body?.cancel();
  console.log(`ok ${runtime}: examples/node_server.ts`);
} catch (error) {
  console.error(`FAILED under ${runtime}:`, error);
  process.exitCode = 1;
} finally {
  server.closeAllConnections();
  server.close();
}
