import assert from "node:assert/strict";
import { MAX_SEAL_LENGTH, parseSeal, SealKeyring } from "../src/_seal.ts";
import { ConfigurationError } from "../src/errors.ts";
import { OTHER_SECRET, SECRET, T0 } from "./_fixtures.ts";

const PAYLOAD = {
  did: "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
  createdAt: T0,
  lastAccessed: T0,
};

Deno.test("SealKeyring.seal() writes iron-session 8's format under id 1", async () => {
  const keyring = new SealKeyring(SECRET);
  const seal = await keyring.seal(PAYLOAD, 60_000, T0);
  assert.match(
    seal,
    /^Fe26\.2\*1\*[0-9a-f]{64}\*[\w-]{22}\*[\w-]+\*176722566000[01]\*[0-9a-f]{64}\*[\w-]{43}~2$/,
  );
});

Deno.test("SealKeyring.open() round-trips and reports failures by kind", async () => {
  const keyring = new SealKeyring(SECRET);
  const seal = await keyring.seal(PAYLOAD, 60_000, T0);
  const parsed = parseSeal(seal);
  assert.ok(parsed);
  // Iron reads Date.now() itself, so the field may land 1 ms after `now`.
  assert.ok(parsed.expiration! - (T0 + 60_000) <= 1);
  assert.ok(parsed.expiration! >= T0 + 60_000);
  assert.equal(parsed.passwordId, "1");
  assert.deepEqual(await keyring.open(parsed), { ok: true, payload: PAYLOAD });
  assert.deepEqual(await new SealKeyring(OTHER_SECRET).open(parsed), {
    ok: false,
    type: "TAMPERED",
  });
  assert.deepEqual(await new SealKeyring({ "7": SECRET }).open(parsed), {
    ok: false,
    type: "UNKNOWN_KEY",
  });
});

Deno.test("SealKeyring opens an expired seal: expiry is the caller's exact check, not Iron's", async () => {
  const keyring = new SealKeyring(SECRET);
  const seal = await keyring.seal(PAYLOAD, 1000, T0); // expired since 2026
  const opened = await keyring.open(parseSeal(seal)!);
  assert.equal(opened.ok, true);
});

Deno.test("SealKeyring with a rotation map seals with the highest id and opens every id", async () => {
  const old = new SealKeyring({ "1": SECRET });
  const rotated = new SealKeyring({ "1": SECRET, "2": OTHER_SECRET });
  assert.equal(rotated.currentId, "2");
  assert.equal(
    new SealKeyring({ "9": SECRET, "10": OTHER_SECRET }).currentId,
    "10",
  );
  const oldSeal = await old.seal(PAYLOAD, 60_000, Date.now());
  assert.equal((await rotated.open(parseSeal(oldSeal)!)).ok, true);
  const newSeal = await rotated.seal(PAYLOAD, 60_000, Date.now());
  assert.match(newSeal, /^Fe26\.2\*2\*/);
  assert.deepEqual(await old.open(parseSeal(newSeal)!), {
    ok: false,
    type: "UNKNOWN_KEY",
  });
});

Deno.test("SealKeyring rejects bad secrets with a message that never contains them", async (t) => {
  const cases: [string, unknown, RegExp][] = [
    [
      "a short string",
      "short-secret",
      /cookieSecret must be a string of at least 32 characters .*received a string of 12 characters/,
    ],
    ["a number", 42, /received number/],
    ["null", null, /received null/],
    [
      "an array",
      ["x".repeat(32)],
      /must be a string of at least 32 characters or a map/,
    ],
    [
      "a non-numeric id",
      { current: SECRET },
      /ids must be positive integers .*received an id of 7 characters/,
    ],
    ["a zero id", { "0": SECRET }, /received an id of 1 characters/],
    [
      "a short secret in a map",
      { "1": "short-secret" },
      /cookieSecret\["1"\] must be/,
    ],
    ["only a default id", { default: SECRET }, /needs at least one numeric id/],
    ["an empty map", {}, /needs at least one numeric id/],
  ];
  for (const [name, secret, message] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => new SealKeyring(secret as string),
        (error: unknown) => {
          assert.ok(error instanceof ConfigurationError);
          assert.match(error.message, message);
          assert.ok(!error.message.includes("short-secret"));
          assert.ok(!error.message.includes(SECRET));
          return true;
        },
      );
    });
  }
});

Deno.test("parseSeal() checks structure before any cryptography", async (t) => {
  const seal = await new SealKeyring(SECRET).seal(PAYLOAD, 60_000, T0);
  const parts = seal.slice(0, -2).split("*");
  const withPart = (index: number, value: string) =>
    parts.map((p, i) => (i === index ? value : p)).join("*");
  await t.step("accepts the seal with and without the ~2 suffix", () => {
    assert.ok(parseSeal(seal));
    assert.ok(parseSeal(seal.slice(0, -2)));
  });
  await t.step("accepts a seal without expiration or password id", () => {
    const parsed = parseSeal(
      parts.map((p, i) => (i === 1 || i === 5 ? "" : p)).join("*"),
    );
    assert.deepEqual([parsed?.passwordId, parsed?.expiration], ["", null]);
  });
  const invalid: [string, string][] = [
    ["seven parts", parts.slice(0, 7).join("*")],
    ["nine parts", `${seal.slice(0, -2)}*extra`],
    ["a wrong prefix", withPart(0, "Fe26.1")],
    ["a password id with a dash", withPart(1, "a-b")],
    ["an uppercase hex salt", withPart(2, parts[2]!.toUpperCase())],
    ["an empty salt", withPart(2, "")],
    ["an iv with +", withPart(3, "abc+def")],
    ["an expiration with a leading zero", withPart(5, "01767225660000")],
    ["a negative expiration", withPart(5, "-1")],
    ["an expiration too large to be exact", withPart(5, "9".repeat(16))],
    ["an hmac with a base64 length of 1 mod 4", withPart(7, `${parts[7]}AA`)],
    [
      "a non-canonical base64url ending",
      withPart(7, parts[7]!.slice(0, -1) + "B"),
    ],
    ["an unknown version suffix", `${seal.slice(0, -2)}~3`],
    ["an empty string", ""],
    ["garbage", "not a seal"],
    ["over the length bound", `${seal}${"A".repeat(MAX_SEAL_LENGTH)}`],
  ];
  for (const [name, value] of invalid) {
    await t.step(`rejects ${name}`, () => {
      assert.equal(parseSeal(value), null);
    });
  }
});
