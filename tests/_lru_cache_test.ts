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
