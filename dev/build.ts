// deno-lint-ignore-file no-console
/**
 * `deno task build`: bundles the package for Node and Bun into `dist/`
 * (ignored by git): `dist/mod.js` and one file per store entry point, with
 * iron-webcrypto inlined and a `package.json` that marks them as ES
 * modules. `examples/node/server.mjs` imports from there, so
 * `deno task build && node examples/node/server.mjs` runs with Node itself.
 *
 * `--outdir DIR` writes elsewhere (the runtime tests use a temporary one).
 * The Deno KV store is left out: it needs the Deno runtime.
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url);
const outdirIndex = Deno.args.indexOf("--outdir");
const outdir = outdirIndex === -1
  ? new URL("dist/", ROOT).pathname
  : Deno.args[outdirIndex + 1]!;

const config = JSON.parse(
  await Deno.readTextFile(new URL("deno.json", ROOT)),
) as { name: string; version: string; exports: Record<string, string> };
const entries = Object.entries(config.exports).filter(([path]) =>
  path !== "./stores/deno-kv"
);

await Deno.remove(outdir, { recursive: true }).catch(() => {});
const { code, stderr } = await new Deno.Command(Deno.execPath(), {
  args: [
    "bundle",
    "--quiet",
    "--platform",
    "browser",
    "--code-splitting",
    "--outdir",
    outdir,
    ...entries.map(([, file]) => file),
  ],
  cwd: ROOT,
  stdout: "inherit",
  stderr: "piped",
}).output();
if (code !== 0) {
  console.error(new TextDecoder().decode(stderr));
  Deno.exit(code);
}
const exports = Object.fromEntries(
  entries.map(([path, file]) => [path, `./${file.replace(/\.ts$/, ".js")}`]),
);
await Deno.writeTextFile(
  `${outdir}/package.json`,
  JSON.stringify(
    {
      name: config.name,
      version: config.version,
      type: "module",
      exports,
    },
    null,
    2,
  ) + "\n",
);
console.log(`Built ${entries.length} entry points into ${outdir}`);
