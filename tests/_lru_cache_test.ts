import assert from "node:assert/strict";
import { LruCache } from "../src/_lru_cache.ts";

Deno.test("LruCache evicts the least recently used entry at its bound", () => {
  const cache = new LruCache<string, number>(3);
  cache.set("a", 1);
  cache.set("b", 2);
  cache.set("c", 3);
  assert.equal(cache.get("a"), 1); // a is now the most recent
  cache.set("d", 4); // evicts b
  assert.equal(cache.size, 3);
  assert.equal(cache.get("b"), undefined);
  assert.equal(cache.get("a"), 1);
  assert.equal(cache.get("c"), 3);
  assert.equal(cache.get("d"), 4);
});

Deno.test("LruCache stays bounded whatever is inserted", () => {
  const cache = new LruCache<string, number>(100);
  for (let i = 0; i < 10_000; i++) cache.set(`key-${i}`, i);
  assert.equal(cache.size, 100);
  assert.equal(cache.get("key-9999"), 9999);
  assert.equal(cache.get("key-0"), undefined);
});

Deno.test("LruCache with capacity 0 stores nothing", () => {
  const cache = new LruCache<string, number>(0);
  cache.set("a", 1);
  assert.equal(cache.size, 0);
  assert.equal(cache.get("a"), undefined);
});

Deno.test("LruCache.set() replaces and delete() removes", () => {
  const cache = new LruCache<string, number>(2);
  cache.set("a", 1);
  cache.set("a", 2);
  assert.equal(cache.size, 1);
  assert.equal(cache.get("a"), 2);
  cache.delete("a");
  assert.equal(cache.get("a"), undefined);
});

Deno.test("LruCache matches a naive reference model under random operations (seeded)", () => {
  let state = 0x2545f491;
  const next = (n: number) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state % n;
  };
  for (const capacity of [1, 2, 7, 50]) {
    const cache = new LruCache<number, number>(capacity);
    // The reference: keys from least to most recently used.
    let model: [number, number][] = [];
    for (let step = 0; step < 20_000; step++) {
      const key = next(capacity * 3);
      const operation = next(3);
      if (operation === 0) {
        const found = model.find(([k]) => k === key);
        assert.equal(cache.get(key), found?.[1]);
        if (found) model = [...model.filter(([k]) => k !== key), found];
      } else if (operation === 1) {
        cache.set(key, step);
        model = [...model.filter(([k]) => k !== key), [key, step]];
        if (model.length > capacity) model.shift();
      } else {
        cache.delete(key);
        model = model.filter(([k]) => k !== key);
      }
      assert.equal(cache.size, model.length);
    }
    for (const [key, value] of model) assert.equal(cache.get(key), value);
  }
});
