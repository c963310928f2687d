// deno-lint-ignore-file no-console
/**
 * Seeded fuzzing of the two untrusted inputs: Cookie and Authorization
 * headers. Each run prints its seed; rerun one with FUZZ_SEED=<seed>.
 */
import assert from "node:assert/strict";
import { SessionManager } from "../src/session_manager.ts";
import { cookieValue, DID, OTHER_SECRET, SECRET } from "./_fixtures.ts";

const RUNS = Number(Deno.env.get("FUZZ_RUNS") ?? 20_000);
const SEED = Number(
  Deno.env.get("FUZZ_SEED") ?? Math.floor(Math.random() * 2 ** 32),
);

/** mulberry32: a small, fast, seedable PRNG. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET =
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_*~.%=;, \t"\\+/';
const EXOTIC = [
  "\u00e9",
  "\u00ff",
  "\u0080",
  "%ZZ",
  "%2A",
  "%",
  "\u0000",
  "__proto__",
  "Fe26.2",
  "~2",
  "**",
  "sid=",
  "Bearer ",
];

function mutator(next: () => number) {
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const char = () => ALPHABET[int(ALPHABET.length)]!;
  return function mutate(value: string): string {
    let out = value;
    const steps = 1 + int(3);
    for (let s = 0; s < steps; s++) {
      const at = int(out.length + 1);
      switch (int(11)) {
        case 0: // flip one character
          out = out.slice(0, at) + char() + out.slice(at + 1);
          break;
        case 1: // insert
          out = out.slice(0, at) + char() + out.slice(at);
          break;
        case 2: // delete
          out = out.slice(0, at) + out.slice(at + 1);
          break;
        case 3: // truncate
          out = out.slice(0, at);
          break;
        case 4: { // swap two * parts
          const parts = out.split("*");
          const a = int(parts.length), b = int(parts.length);
          [parts[a], parts[b]] = [parts[b]!, parts[a]!];
          out = parts.join("*");
          break;
        }
        case 5: { // drop or duplicate a * part
          const parts = out.split("*");
          const i = int(parts.length);
          if (next() < 0.5) parts.splice(i, 1);
          else parts.splice(i, 0, parts[i] ?? "");
          out = parts.join("*");
          break;
        }
        case 6: // exotic fragment
          out = out.slice(0, at) + pick(EXOTIC) + out.slice(at);
          break;
        case 7: // percent-encode everything
          out = encodeURIComponent(out).replaceAll("*", "%2A");
          break;
        case 8: // repeat (huge values)
          out = out.repeat(1 + int(40));
          break;
        case 9: // change the expiration digits
          out = out.replace(
            /\*(\d+)\*/,
            (_, digits: string) =>
              `*${String(Number(digits) + int(1e9) - 5e8)}*`,
          );
          break;
        default: // random garbage
          out = Array.from({ length: int(200) }, char).join("");
      }
    }
    return out;
  };
}

/**
 * The `~2` suffix is iron-session's format marker, outside the MAC (plain
 * Iron seals have none), so a seal with or without it is the same seal.
 */
function sameSeal(candidate: string, seal: string): boolean {
  return candidate === seal || candidate === seal.slice(0, -2);
}

/** An independent, naive oracle: every `sid` value, percent-decoded. */
function sidValues(header: string): string[] {
  // RFC 6265 §5.2: split at the first "=", trim whitespace around the name
  // and the value; a value may be wrapped in double quotes.
  const trim = (text: string) => text.replace(/^[ \t]+|[ \t]+$/g, "");
  const values: string[] = [];
  for (const pair of header.split(";")) {
    const equals = pair.indexOf("=");
    if (equals === -1 || trim(pair.slice(0, equals)) !== "sid") continue;
    let value = trim(pair.slice(equals + 1));
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1);
    }
    try {
      values.push(decodeURIComponent(value));
    } catch {
      values.push(value);
    }
  }
  return values;
}

Deno.test(`fuzz: ${RUNS} Cookie headers neither throw nor accept anything but an intact seal (seed ${SEED})`, async () => {
  console.log(`cookie fuzz seed: ${SEED} (rerun with FUZZ_SEED=${SEED})`);
  const next = random(SEED);
  const mutate = mutator(next);
  const sessions = new SessionManager({ cookieSecret: SECRET });
  const valid = await Promise.all(
    [1, 2, 3].map(async () =>
      cookieValue(await sessions.createSession({ did: DID }))
    ),
  );
  const foreign = cookieValue(
    await new SessionManager({ cookieSecret: OTHER_SECRET }).createSession({
      did: DID,
    }),
  );
  const token = await sessions.sealToken({ did: DID });
  const seeds = [...valid, foreign, token];
  const pairsAround = (value: string): string => {
    const count = Math.floor(next() * 4);
    const noise = Array.from(
      { length: count },
      (_, i) => `c${i}=${mutate("v")}`,
    );
    noise.splice(
      Math.floor(next() * (count + 1)),
      0,
      `${next() < 0.9 ? "sid" : "xsid"}=${value}`,
    );
    return noise.join(next() < 0.5 ? "; " : ";");
  };
  let accepted = 0;
  let rejected = 0;
  let unsendable = 0;
  // Count only headers that reach the manager: a header that is not a valid
  // ByteString cannot be sent, so it is replaced by another.
  for (let run = 0; accepted + rejected < RUNS; run++) {
    const source = seeds[Math.floor(next() * seeds.length)]!;
    const header = pairsAround(next() < 0.05 ? source : mutate(source));
    let request: Request;
    try {
      request = new Request("http://localhost/", {
        headers: { cookie: header },
      });
    } catch {
      unsendable++;
      continue;
    }
    const result = await sessions.getSessionFromRequest(request);
    if (result.data !== null) {
      accepted++;
      const intact = sidValues(header).some((value) =>
        valid.some((seal) => sameSeal(value, seal))
      );
      assert.ok(
        intact,
        `accepted a cookie without an intact valid seal (seed ${SEED}, run ${run}): ${
          header.slice(0, 200)
        }`,
      );
    } else {
      rejected++;
      assert.ok(result.error.type.length > 0);
    }
  }
  console.log(
    `cookie fuzz: ${
      accepted + rejected
    } headers, ${accepted} accepted (intact seals), ${rejected} rejected, ${unsendable} unsendable ones replaced`,
  );
  assert.equal(accepted + rejected, RUNS);
  assert.ok(rejected > RUNS / 2);
});

Deno.test(`fuzz: ${RUNS} Authorization headers neither throw nor accept anything but an intact token (seed ${SEED})`, async () => {
  console.log(
    `authorization fuzz seed: ${SEED} (rerun with FUZZ_SEED=${SEED})`,
  );
  const next = random(SEED ^ 0x5bd1e995);
  const mutate = mutator(next);
  const sessions = new SessionManager({ cookieSecret: SECRET });
  const tokens = await Promise.all(
    [1, 2, 3].map(() => sessions.sealToken({ did: DID })),
  );
  const foreign = await new SessionManager({ cookieSecret: OTHER_SECRET })
    .sealToken({ did: DID });
  const schemes = [
    "Bearer ",
    "bearer ",
    "BEARER ",
    "Bearer  ",
    "Basic ",
    "",
    "Bearer\t",
    "Token ",
  ];
  let accepted = 0;
  let rejected = 0;
  for (let run = 0; run < RUNS; run++) {
    const source = [...tokens, foreign][Math.floor(next() * 4)]!;
    const scheme = next() < 0.7
      ? "Bearer "
      : schemes[Math.floor(next() * schemes.length)]!;
    const header = scheme + (next() < 0.05 ? source : mutate(source));
    const result = await sessions.validateBearerToken(header);
    const refreshed = next() < 0.02
      ? await sessions.refreshBearerToken(header)
      : null;
    if (result.data !== null) {
      accepted++;
      assert.ok(
        /^bearer $/i.test(header.slice(0, 7)) &&
          tokens.some((token) => sameSeal(header.slice(7), token)),
        `accepted a header without an intact token (seed ${SEED}, run ${run}): ${
          header.slice(0, 200)
        }`,
      );
    } else {
      rejected++;
      assert.equal(refreshed, null);
    }
  }
  console.log(
    `authorization fuzz: ${
      accepted + rejected
    } headers, ${accepted} accepted (intact tokens), ${rejected} rejected`,
  );
  assert.equal(accepted + rejected, RUNS);
  assert.ok(rejected > RUNS / 2);
});
