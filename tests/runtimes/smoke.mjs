// deno-lint-ignore-file no-console
// Proves the core works outside Deno: run it under Node or Bun against a
// bundle of mod.ts and the store entry points.
//
//   deno bundle --platform browser --code-splitting --outdir "$DIR" \
//     mod.ts src/stores/memory.ts src/stores/redis.ts
//   echo '{"type":"module"}' > "$DIR/package.json"
//   node tests/runtimes/smoke.mjs "$DIR" [REDIS_PORT]
//
// With REDIS_PORT, the Redis store is exercised against the redis-server
// listening on 127.0.0.1:REDIS_PORT, through the tiny RESP client below.
// Prints one "ok" line per check; exits non-zero on the first failure.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Buffer } from "node:buffer";
import { existsSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";

const DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const SECRET = "a-smoke-test-secret-of-at-least-32-characters";

const [bundleDir, redisPort] = process.argv.slice(2);
if (bundleDir === undefined) {
  console.error("Usage: smoke.mjs BUNDLE_DIR [REDIS_PORT]");
  process.exit(2);
}

function load(path) {
  return import(pathToFileURL(join(bundleDir, path)).href);
}

/** Alters the salt the MAC key is derived from (part 6 of Iron's 8). */
function tamper(seal) {
  const parts = seal.split("*");
  assert.equal(parts.length, 8, "an Iron seal has 8 parts");
  parts[6] = (parts[6].startsWith("a") ? "b" : "a") + parts[6].slice(1);
  return parts.join("*");
}

async function exercise(label, SessionManager, store) {
  const sessions = new SessionManager({
    cookieSecret: SECRET,
    ...(store === undefined ? {} : { store }),
  });

  // Cookie sessions, read back from a standard Request.
  const setCookie = await sessions.createSession({ did: DID }, {
    userAgent: "smoke",
  });
  assert.match(setCookie, /^sid=Fe26\.2\*.*; HttpOnly; Secure; SameSite=Lax$/);
  const cookie = setCookie.slice(0, setCookie.indexOf(";"));
  const request = new Request("http://localhost/me", { headers: { cookie } });
  const session = await sessions.getSessionFromRequest(request);
  assert.equal(session.error, null);
  assert.equal(session.data.did, DID);
  assert.match(session.setCookieHeader, /^sid=Fe26\.2\*/);
  const rejected = await sessions.getSessionFromRequest(
    new Request("http://localhost/me", { headers: { cookie: tamper(cookie) } }),
  );
  assert.equal(rejected.error?.type, "TAMPERED");
  assert.equal(rejected.setCookieHeader, sessions.getClearCookieHeader());

  // Bearer tokens: validate, refresh, reject a tampered one.
  const token = await sessions.sealToken({ did: DID });
  const valid = await sessions.validateBearerToken(`Bearer ${token}`);
  assert.equal(valid.error, null);
  assert.equal(valid.data.did, DID);
  const fresh = await sessions.refreshBearerToken(`Bearer ${token}`);
  assert.equal(typeof fresh, "string");
  assert.notEqual(fresh, token);
  const refreshed = await sessions.validateBearerToken(`bearer ${fresh}`);
  assert.equal(refreshed.data?.did, DID);
  const tampered = await sessions.validateBearerToken(
    `Bearer ${tamper(fresh)}`,
  );
  assert.equal(tampered.error?.type, "TAMPERED");

  if (store !== undefined) {
    // Refreshing rotated the old token away; the device list holds the
    // browser and the token; revoking the session ends the cookie.
    const old = await sessions.validateBearerToken(`Bearer ${token}`);
    assert.equal(old.error?.type, "TOKEN_REVOKED");
    const devices = await sessions.listSessions(DID);
    assert.deepEqual(devices.map((d) => d.kind).sort(), ["cookie", "token"]);
    const browser = devices.find((d) => d.kind === "cookie");
    assert.equal(browser.id, session.data.sessionId);
    assert.equal(browser.metadata.userAgent, "smoke");
    assert.equal(await sessions.revokeSession(session.data.sessionId), true);
    const revoked = await sessions.getSessionFromRequest(request);
    assert.equal(revoked.error?.type, "SESSION_REVOKED");
  }
  console.log(`ok ${label}`);
}

/** A minimal RESP2 client over node:net: enough for the Redis store. */
function connectRedis(port) {
  const socket = createConnection({ host: "127.0.0.1", port: Number(port) });
  const pending = [];
  let buffer = Buffer.alloc(0);
  let failure = null;

  socket.on("data", (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      if (pending.length === 0) return;
      const reply = parseReply(buffer, 0);
      if (reply === null) return;
      buffer = buffer.subarray(reply.end);
      const { resolve, reject } = pending.shift();
      if (reply.value instanceof Error) reject(reply.value);
      else resolve(reply.value);
    }
  });
  socket.on("error", (error) => {
    failure = error;
    for (const { reject } of pending.splice(0)) reject(error);
  });

  return {
    command(args) {
      if (failure !== null) return Promise.reject(failure);
      let frame = `*${args.length}\r\n`;
      for (const arg of args) {
        const value = String(arg);
        frame += `$${Buffer.byteLength(value)}\r\n${value}\r\n`;
      }
      return new Promise((resolve, reject) => {
        pending.push({ resolve, reject });
        socket.write(frame);
      });
    },
    close() {
      socket.end();
    },
  };
}

/** Parses one reply at `start`; null when the buffer holds only part of it. */
function parseReply(buffer, start) {
  const lineEnd = buffer.indexOf("\r\n", start);
  if (lineEnd === -1) return null;
  const type = String.fromCharCode(buffer[start]);
  const line = buffer.toString("utf8", start + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case "+":
      return { value: line, end: next };
    case "-":
      return { value: new Error(line), end: next };
    case ":":
      return { value: Number(line), end: next };
    case "$": {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buffer.length < next + length + 2) return null;
      return {
        value: buffer.toString("utf8", next, next + length),
        end: next + length + 2,
      };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items = [];
      let end = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, end);
        if (item === null) return null;
        items.push(item.value);
        end = item.end;
      }
      return { value: items, end };
    }
    default:
      throw new Error(`Unexpected RESP reply type ${JSON.stringify(type)}`);
  }
}

const runtime = typeof Bun !== "undefined"
  ? `Bun ${Bun.version}`
  : `Node ${process.version}`;
try {
  const { SessionManager } = await load("mod.js");
  const { MemorySessionStore } = await load("src/stores/memory.js");
  await exercise(`${runtime}: no store`, SessionManager);
  await exercise(
    `${runtime}: MemorySessionStore`,
    SessionManager,
    new MemorySessionStore(),
  );
  if (redisPort !== undefined) {
    const redisBundle = join(bundleDir, "src/stores/redis.js");
    assert.ok(existsSync(redisBundle), `${redisBundle} is not in the bundle`);
    const { RedisSessionStore } = await load("src/stores/redis.js");
    const client = connectRedis(redisPort);
    try {
      assert.equal(await client.command(["PING"]), "PONG");
      await exercise(
        `${runtime}: RedisSessionStore`,
        SessionManager,
        new RedisSessionStore({
          command: (args) => client.command(args),
          prefix: `smoke:${randomUUID()}:`,
        }),
      );
    } finally {
      client.close();
    }
  }
} catch (error) {
  console.error(`FAILED under ${runtime}:`, error);
  process.exit(1);
}
