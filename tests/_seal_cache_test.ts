import assert from "node:assert/strict";
import { CHAIN_LENGTH, SealCache, sealTag } from "../src/_seal_cache.ts";

const ALPHABET =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** A deterministic generator, so a failure names its seed. */
function generator(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
}

/** A seal-shaped string: Iron's prefix, random base64url parts, `~2`. */
function sealLike(next: (n: number) => number, macTail?: string): string {
  const part = (length: number) =>
    Array.from({ length }, () => ALPHABET[next(64)]).join("");
  const mac = macTail === undefined ? part(43) : part(36) + macTail;
  return `Fe26.2*1*${part(64)}*${part(22)}*${part(120)}**${part(43)}*${mac}~2`;
}

Deno.test("SealCache answers only for the exact seal text: every one-character change misses", () => {
  const next = generator(7);
  const cache = new SealCache<string>(10);
  const seal = sealLike(next);
  cache.set(seal, "entry");
  assert.equal(cache.get(seal), "entry");
  assert.equal(cache.get(seal.slice(0, -2)), undefined, "without ~2");
  for (let i = 0; i < seal.length; i++) {
    const changed = seal.slice(0, i) +
      (seal[i] === "A" ? "B" : "A") + seal.slice(i + 1);
    assert.equal(cache.get(changed), undefined, `changed at ${i}`);
  }
  assert.equal(cache.get(seal + "x"), undefined, "longer");
  assert.equal(cache.get(""), undefined, "empty");
});

Deno.test("SealCache keeps seals that share a tag apart, and drops the oldest beyond CHAIN_LENGTH", () => {
  const next = generator(11);
  const cache = new SealCache<number>(10);
  // The same last seven characters: the same tag, different seals.
  const seals = Array.from(
    { length: CHAIN_LENGTH + 1 },
    () => sealLike(next, "QwErTyU"),
  );
  assert.equal(new Set(seals.map(sealTag)).size, 1, "one tag");
  seals.slice(0, CHAIN_LENGTH).forEach((seal, i) => cache.set(seal, i));
  seals.slice(0, CHAIN_LENGTH).forEach((seal, i) =>
    assert.equal(cache.get(seal), i, `seal ${i}`)
  );
  cache.set(seals[0]!, 100);
  assert.equal(cache.get(seals[0]!), 100, "set replaces in place");
  cache.set(seals[CHAIN_LENGTH]!, CHAIN_LENGTH);
  assert.equal(cache.get(seals[CHAIN_LENGTH]!), CHAIN_LENGTH);
  assert.equal(
    seals.filter((seal) => cache.get(seal) !== undefined).length,
    CHAIN_LENGTH,
    "the chain stays bounded",
  );
});

Deno.test("SealCache is bounded, and capacity 0 stores nothing", () => {
  const next = generator(13);
  const seals = Array.from({ length: 500 }, () => sealLike(next));
  const cache = new SealCache<number>(100);
  seals.forEach((seal, i) => cache.set(seal, i));
  const kept = seals.filter((seal) => cache.get(seal) !== undefined);
  assert.ok(kept.length <= 100 * CHAIN_LENGTH && kept.length >= 100);
  assert.equal(cache.get(seals.at(-1)!), 499, "the newest is kept");
  assert.equal(cache.get(seals[0]!), undefined, "the oldest is gone");
  const none = new SealCache<number>(0);
  none.set(seals[0]!, 1);
  assert.equal(none.get(seals[0]!), undefined);
});

Deno.test("SealCache never answers one seal's entry for another (seeded property, colliding tags)", () => {
  for (const seed of [1, 2, 3]) {
    const next = generator(seed);
    // Few tails, so tags collide often.
    const tails = ["AAAAAAA", "BBBBBBB", "CCCCCCC"];
    const seals = Array.from(
      { length: 40 },
      () => sealLike(next, tails[next(tails.length)]),
    );
    const cache = new SealCache<string>(8);
    const last = new Map<string, string>();
    for (let step = 0; step < 5_000; step++) {
      const seal = seals[next(seals.length)]!;
      if (next(2) === 0) {
        const value = `${seal}#${step}`;
        cache.set(seal, value);
        last.set(seal, value);
        assert.equal(cache.get(seal), value, `seed ${seed}: just set`);
      } else {
        const found = cache.get(seal);
        if (found !== undefined) {
          assert.equal(found, last.get(seal), `seed ${seed} step ${step}`);
        }
      }
    }
  }
});
