// deno-lint-ignore-file no-console
// Runs the core under Node and Bun: bundles mod.ts and the store entry
// points with `deno bundle` (inlining iron-webcrypto), then runs smoke.mjs
// and node_example_smoke.mjs with each runtime. A missing runtime skips its
// steps with a printed reason, except under CI=true, where it fails.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  type RedisServer,
  redisServerPath,
  startRedisServer,
} from "../_redis_server.ts";

const IN_CI = Deno.env.get("CI") === "true";
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SMOKE = fileURLToPath(new URL("./smoke.mjs", import.meta.url));
const EXAMPLE_SMOKE = fileURLToPath(
  new URL("./node_example_smoke.mjs", import.meta.url),
);
const REDIS_STORE = "src/stores/redis.ts";
const RUNTIMES = [
  { name: "Node", command: "node", install: "Node.js 20 or later" },
  { name: "Bun", command: "bun", install: "npm install -g bun" },
] as const;

interface Output {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; null when the program is not installed. */
async function run(
  command: string,
  args: readonly string[],
): Promise<Output | null> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(command, { args: [...args], cwd: ROOT })
      .output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

function describe(output: Output): string {
  return `exit code ${output.code}\n--- stdout\n${output.stdout}--- stderr\n${output.stderr}`;
}

/** Under CI a missing tool is a failure; elsewhere, a printed skip. */
function missing(what: string, reason: string): void {
  if (IN_CI) throw new Error(`${what} is required under CI=true: ${reason}`);
  console.log(`Skipping ${what}: ${reason}`);
}

async function bundle(outDir: string, entries: readonly string[]) {
  const core = await run(Deno.execPath(), [
    "bundle",
    "--quiet",
    "--platform",
    "browser",
    "--code-splitting",
    "--outdir",
    outDir,
    ...entries,
  ]);
  assert.ok(core !== null);
  assert.equal(core.code, 0, describe(core));
  // Node reads .js as CommonJS unless the nearest package.json says otherwise.
  await Deno.writeTextFile(`${outDir}/package.json`, '{"type":"module"}\n');
  const example = await run(Deno.execPath(), [
    "bundle",
    "--quiet",
    "--platform",
    "deno",
    "--output",
    `${outDir}/examples/node_server.js`,
    "examples/node_server.ts",
  ]);
  assert.ok(example !== null);
  assert.equal(example.code, 0, describe(example));
}

/** The bare specifiers the core bundle still imports (should be none). */
async function externalImports(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory && entry.name !== "examples") {
      found.push(...await externalImports(path));
    } else if (entry.isFile && entry.name.endsWith(".js")) {
      const source = await Deno.readTextFile(path);
      const pattern =
        /^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gm;
      for (const [, specifier] of source.matchAll(pattern)) {
        if (!specifier!.startsWith("./") && !specifier!.startsWith("../")) {
          found.push(`${entry.name}: ${specifier}`);
        }
      }
    }
  }
  return found;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test("the bundled core runs under Node and Bun", async (t) => {
  const outDir = await Deno.makeTempDir({ prefix: "atproto-sessions-bundle-" });
  let redis: RedisServer | null = null;
  try {
    const hasRedisStore = await exists(`${ROOT}${REDIS_STORE}`);
    const entries = ["mod.ts", "src/stores/memory.ts"];
    if (hasRedisStore) entries.push(REDIS_STORE);
    else console.log(`Skipping the Redis smoke: ${REDIS_STORE} does not exist`);

    await t.step("deno bundle inlines every dependency", async () => {
      await bundle(outDir, entries);
      assert.deepEqual(await externalImports(outDir), []);
    });

    if (hasRedisStore) {
      if (redisServerPath === null) {
        missing(
          "the Redis smoke",
          "redis-server was not found (install: apt-get install redis-server)",
        );
      } else redis = await startRedisServer();
    }
    const smokeArgs = [SMOKE, outDir];
    if (redis !== null) smokeArgs.push(String(redis.port));

    for (const runtime of RUNTIMES) {
      const version = await run(runtime.command, ["--version"]);
      if (version === null || version.code !== 0) {
        missing(
          runtime.name,
          `\`${runtime.command}\` is not on PATH (install: ${runtime.install})`,
        );
        await t.step({ name: `${runtime.name}: smoke`, ignore: true, fn() {} });
        continue;
      }
      const label = `${runtime.name} ${version.stdout.trim()}`;

      await t.step(`${label}: sessions, tokens and stores`, async () => {
        const output = await run(runtime.command, smokeArgs);
        assert.ok(output !== null);
        assert.equal(output.code, 0, describe(output));
        assert.match(output.stdout, /^ok .*: no store$/m);
        assert.match(output.stdout, /^ok .*: MemorySessionStore$/m);
        if (redis !== null) {
          assert.match(output.stdout, /^ok .*: RedisSessionStore$/m);
        }
      });

      await t.step(`${label}: examples/node_server.ts`, async () => {
        const output = await run(runtime.command, [
          EXAMPLE_SMOKE,
          `${outDir}/examples/node_server.js`,
          `${outDir}/mod.js`,
        ]);
        assert.ok(output !== null);
        assert.equal(output.code, 0, describe(output));
        assert.match(output.stdout, /^ok .*: examples\/node_server\.ts$/m);
      });
    }
  } finally {
    await (redis as RedisServer | null)?.close();
    await Deno.remove(outDir, { recursive: true });
  }
});
