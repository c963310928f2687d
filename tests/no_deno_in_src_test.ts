// The core must run on any runtime with Web Crypto: no file under src/ may
// touch the `Deno` namespace or import a `node:` module, except the Deno KV
// adapter (stores/deno_kv.ts and its stores/_deno_kv_*.ts helpers), which
// lives behind its own export path.
//
// Comments are stripped before checking: JSDoc examples legitimately show
// `Deno.serve(...)` and `import assert from "node:assert/strict"`, and they
// run only under `deno test --doc`, never in the published code. Everything
// else counts, string literals included: a string is code that ships.

import assert from "node:assert/strict";

const SRC = new URL("../src/", import.meta.url);
const allowed = (path: string) =>
  path === "stores/deno_kv.ts" || path.startsWith("stores/_deno_kv_");

const DENO_NAMESPACE = /\bDeno\s*(?:\?\.|\.|\[)/;
const NODE_MODULE = /["'`]node:/;

const KEYWORDS_BEFORE_EXPRESSION = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

/**
 * Replaces every comment in TypeScript source with spaces, keeping newlines
 * (so line numbers still match) and leaving strings, template literals and
 * regular-expression literals intact. A lexer, not a parser: a `/` starts a
 * regular expression unless it follows a value (an identifier that is not
 * a keyword, a number, `)` or `]`), as in the usual JavaScript heuristic.
 */
function stripComments(source: string): string {
  let out = "";
  let i = 0;
  // Brace depth at which each open template literal's `${` began.
  const templates: number[] = [];
  let braces = 0;
  let previous = ""; // The last significant token's last character or word.

  const blank = (text: string) => text.replace(/[^\n]/g, " ");

  const readTemplate = () => {
    // Starts just after "`" or after the "}" closing an interpolation.
    while (i < source.length) {
      const c = source[i]!;
      if (c === "\\") {
        out += source.slice(i, i + 2);
        i += 2;
      } else if (c === "`") {
        out += c;
        i++;
        previous = "`";
        return;
      } else if (c === "$" && source[i + 1] === "{") {
        out += "${";
        i += 2;
        templates.push(braces);
        braces++;
        previous = "{";
        return;
      } else {
        out += c;
        i++;
      }
    }
  };

  while (i < source.length) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === "/" && next === "/") {
      const end = source.indexOf("\n", i);
      const stop = end === -1 ? source.length : end;
      out += blank(source.slice(i, stop));
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end === -1 ? source.length : end + 2;
      out += blank(source.slice(i, stop));
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < source.length && source[j] !== c && source[j] !== "\n") {
        j += source[j] === "\\" ? 2 : 1;
      }
      out += source.slice(i, j + 1);
      i = j + 1;
      previous = c;
    } else if (c === "`") {
      out += c;
      i++;
      readTemplate();
    } else if (c === "/" && startsExpression(previous)) {
      let j = i + 1;
      let inClass = false;
      while (j < source.length && source[j] !== "\n") {
        const d = source[j];
        if (d === "\\") j++;
        else if (d === "[") inClass = true;
        else if (d === "]") inClass = false;
        else if (d === "/" && !inClass) break;
        j++;
      }
      j++;
      while (j < source.length && /[a-z]/.test(source[j]!)) j++;
      out += source.slice(i, j);
      i = j;
      previous = "/regex/";
    } else if (/[A-Za-z0-9_$]/.test(c)) {
      let j = i;
      while (j < source.length && /[A-Za-z0-9_$]/.test(source[j]!)) j++;
      previous = source.slice(i, j);
      out += previous;
      i = j;
    } else {
      if (c === "{") braces++;
      if (c === "}") {
        braces--;
        if (templates.length > 0 && templates.at(-1) === braces) {
          templates.pop();
          out += c;
          i++;
          readTemplate();
          continue;
        }
      }
      out += c;
      i++;
      if (!/\s/.test(c)) previous = c;
    }
  }
  return out;
}

function startsExpression(previous: string): boolean {
  if (previous === "" || previous === "/regex/") return previous === "";
  if (/^[A-Za-z0-9_$]+$/.test(previous)) {
    return KEYWORDS_BEFORE_EXPRESSION.has(previous);
  }
  return !/^[)\]}"'`]$/.test(previous);
}

/** Every offending line, as `path:line: text`. */
function findViolations(path: string, source: string): string[] {
  const violations: string[] = [];
  stripComments(source).split("\n").forEach((line, index) => {
    if (DENO_NAMESPACE.test(line)) {
      violations.push(`${path}:${index + 1}: uses Deno: ${line.trim()}`);
    }
    if (NODE_MODULE.test(line)) {
      violations.push(`${path}:${index + 1}: imports node: ${line.trim()}`);
    }
  });
  return violations;
}

async function* sourceFiles(dir: URL, prefix = ""): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${prefix}${entry.name}`;
    if (entry.isDirectory) {
      yield* sourceFiles(new URL(`${entry.name}/`, dir), `${path}/`);
    } else if (/\.[cm]?[jt]sx?$/.test(entry.name)) {
      yield path;
    }
  }
}

Deno.test("stripComments() removes comments and keeps code", async (t) => {
  // Expectations are written with each run of spaces as one space; the
  // stripped text itself keeps the source's length and line breaks.
  const cases: [name: string, source: string, expected: string][] = [
    ["a line comment", "a; // Deno.x\nb;", "a; \nb;"],
    ["a block comment", "a /* Deno.x\n */ b", "a \n b"],
    ["a JSDoc example", "/**\n * Deno.serve(h);\n */\nf();", " \n \n \nf();"],
    ["// inside a string", 'x = "// no"; Deno.y', 'x = "// no"; Deno.y'],
    ["/* inside a string", "x = '/* no'; Deno.y", "x = '/* no'; Deno.y"],
    ["an escaped quote", 'x = "\\" //"; y', 'x = "\\" //"; y'],
    [
      "a template",
      "x = `// ${a /* c */ + `/*`} //`; y",
      "x = `// ${a + `/*`} //`; y",
    ],
    ["a regex with //", "r = /a\\/\\/b/g; // c", "r = /a\\/\\/b/g; "],
    ["a regex class with /", "r = /[/*]/.test(s); y", "r = /[/*]/.test(s); y"],
    ["a regex after return", "return /\\/\\//; // c", "return /\\/\\//; "],
    ["division", "a = b / c; // d", "a = b / c; "],
    ["division after a call", "a = f() / 2 / 3; // d", "a = f() / 2 / 3; "],
  ];
  for (const [name, source, expected] of cases) {
    await t.step(name, () => {
      const stripped = stripComments(source);
      assert.equal(stripped.length, source.length);
      assert.equal(stripped.replace(/ +/g, " "), expected);
    });
  }
});

Deno.test("findViolations() flags Deno and node: in code only", async (t) => {
  const cases: [source: string, count: number][] = [
    ["const k = await Deno.openKv();", 1],
    ["const e = Deno?.env;", 1],
    ['const g = globalThis.Deno["env"];', 1],
    ['const g = Deno["env"];', 1],
    ['import { Buffer } from "node:buffer";', 1],
    ['const m = await import("node:crypto");', 1],
    ['export { x } from "node:util";', 1],
    ["// Deno.serve(handler) and node:assert", 0],
    ['/**\n * import assert from "node:assert/strict";\n */', 0],
    ['const message = "use Deno KV or Redis";', 0],
    ["const DenoLike = 1; myDeno.x;", 0],
  ];
  for (const [source, count] of cases) {
    await t.step(source, () => {
      assert.equal(findViolations("x.ts", source).length, count);
    });
  }
});

Deno.test("src/ uses neither Deno nor node: modules, outside deno_kv.ts", async () => {
  const violations: string[] = [];
  let checked = 0;
  for await (const path of sourceFiles(SRC)) {
    if (allowed(path)) continue;
    checked++;
    const source = await Deno.readTextFile(new URL(path, SRC));
    violations.push(...findViolations(`src/${path}`, source));
  }
  assert.ok(checked > 0, "no source files found under src/");
  assert.deepEqual(violations, []);
});
