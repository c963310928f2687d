// deno-lint-ignore-file no-console
/**
 * Runs each example the way its own doc comment says, as a newcomer would:
 * the documented command (with its exact permissions), on `PORT`, and again
 * on a busy port, where it must answer with one line instead of a stack
 * trace. `examples/node/server.mjs` runs under Node and Bun from
 * `deno task build`'s output.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const IN_CI = Deno.env.get("CI") === "true";
const SECRET = "an-examples-cli-test-secret-of-32-plus-chars";
const DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** The `deno run ...` line an example documents, as arguments. */
async function documentedCommand(file: string): Promise<string[]> {
  const source = await Deno.readTextFile(`${ROOT}${file}`);
  const line = source.split("\n").find((l) =>
    l.includes("deno run") && l.includes(file)
  );
  assert.ok(line, `${file} documents how to run it`);
  const args = line.slice(line.indexOf("deno run") + "deno ".length).trim()
    .split(/\s+/);
  return args;
}

interface Started {
  readonly child: Deno.ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
}

function start(
  command: string,
  args: string[],
  port: number,
): Started {
  const child = new Deno.Command(command, {
    args,
    cwd: ROOT,
    env: { PORT: String(port), COOKIE_SECRET: SECRET, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  let stderr = "";
  const decoder = new TextDecoder();
  (async () => {
    for await (const chunk of child.stdout) stdout += decoder.decode(chunk);
  })();
  (async () => {
    for await (const chunk of child.stderr) stderr += decoder.decode(chunk);
  })();
  return { child, stdout: () => stdout, stderr: () => stderr };
}

async function waitFor(
  condition: () => boolean,
  what: () => string,
  ms = 30_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function stop(started: Started): Promise<void> {
  try {
    started.child.kill("SIGTERM");
  } catch {
    // Already exited.
  }
  await started.child.status;
}

/** Runs a server, checks it answers, then that a second one on the port fails cleanly. */
async function checkServer(command: string, args: string[]): Promise<void> {
  const port = freePort();
  const first = start(command, args, port);
  try {
    await waitFor(
      // Deno.serve prints its listening line on stderr, the others on stdout.
      () =>
        (first.stdout() + first.stderr()).includes(
          `Listening on http://127.0.0.1:${port}/`,
        ),
      () => `no listening line on ${port}\n${first.stdout()}${first.stderr()}`,
    );
    const me = await fetch(`http://127.0.0.1:${port}/me`);
    assert.equal(me.status, 401);
    assert.equal((await me.json()).error, "NO_COOKIE");

    const second = start(command, args, port);
    const status = await Promise.race([
      second.child.status,
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 30_000)),
    ]);
    if (status === null) await stop(second);
    assert.ok(status !== null, "a second server on a busy port exits");
    assert.equal(status.code, 1);
    const lines = second.stderr().trim().split("\n").filter((l) =>
      !l.includes("send() does not work under Node.js")
    );
    assert.equal(second.stdout().includes("Listening"), false);
    assert.deepEqual(lines, [
      `Port ${port} is already in use: pick another with PORT, e.g. PORT=${
        port + 1
      }`,
    ]);
  } finally {
    await stop(first);
  }
}

for (
  const file of [
    "examples/deno_serve.ts",
    "examples/hono.ts",
    "examples/oak.ts",
  ]
) {
  Deno.test(`${file} runs as documented on PORT and explains a busy port in one line`, async () => {
    await checkServer(Deno.execPath(), await documentedCommand(file));
  });
}

async function installed(command: string): Promise<boolean> {
  try {
    return (await new Deno.Command(command, { args: ["--version"] }).output())
      .success;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test("examples/node/server.mjs runs with node and bun from `deno task build`", async (t) => {
  const build = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "dev/build.ts"],
    cwd: ROOT,
  }).output();
  assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));
  for (const runtime of ["node", "bun"]) {
    if (!(await installed(runtime))) {
      if (IN_CI) throw new Error(`${runtime} is required under CI=true`);
      console.log(`Skipping ${runtime}: it is not on PATH`);
      await t.step({ name: runtime, ignore: true, fn() {} });
      continue;
    }
    await t.step(
      `${runtime}: sign in, /me, CSRF refusal, sign out`,
      async () => {
        const port = freePort();
        const server = start(runtime, ["examples/node/server.mjs"], port);
        const base = `http://127.0.0.1:${port}`;
        try {
          await waitFor(
            () => server.stdout().includes(`Listening on ${base}/`),
            () =>
              `${runtime} did not start\n${server.stdout()}${server.stderr()}`,
          );
          const login = await fetch(`${base}/login`, {
            method: "POST",
            headers: { origin: base, "content-type": "application/json" },
            body: JSON.stringify({ did: DID }),
          });
          assert.equal(login.status, 200);
          await login.body?.cancel();
          const setCookie = login.headers.get("set-cookie") ?? "";
          assert.match(setCookie, /^sid=Fe26\.2\*/);
          const cookie = setCookie.slice(0, setCookie.indexOf(";"));
          const me = await fetch(`${base}/me`, { headers: { cookie } });
          assert.equal(me.status, 200);
          assert.deepEqual(await me.json(), { did: DID });
          const forged = await fetch(`${base}/logout`, {
            method: "POST",
            headers: { cookie, origin: "https://evil.example" },
          });
          assert.equal(forged.status, 403);
          assert.deepEqual(await forged.json(), {
            error: "ORIGIN_MISMATCH",
            expected: [base],
          });
          const logout = await fetch(`${base}/logout`, {
            method: "POST",
            headers: { cookie, origin: base },
          });
          assert.equal(logout.status, 204);
          await logout.body?.cancel();
          assert.match(
            logout.headers.get("set-cookie") ?? "",
            /^sid=; Max-Age=0/,
          );
        } finally {
          await stop(server);
        }
      },
    );
    await t.step(`${runtime}: a busy port is one line`, async () => {
      await checkServer(runtime, ["examples/node/server.mjs"]);
    });
  }
});
