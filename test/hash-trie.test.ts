import { produce } from 'immer';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  emptyTrie, trieDelete, trieForEach, trieGet, trieSet, trieValues, trieWith, trieWithout, type HashTrie,
} from '../src/actors/hash-trie.js';

const test = suite('HashTrie');

test('agrees with a Map under random sets and deletes', () => {
  const trie = emptyTrie<number>();
  const map = new Map<string, number>();
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  for (let i = 0; i < 30_000; i++) {
    const key = `k${rand(5000)}`;
    if (rand(3) === 0) {
      assert.is(trieDelete(trie, key), map.delete(key));
    } else {
      assert.is(trieSet(trie, key, i), !map.has(key));
      map.set(key, i);
    }
  }
  assert.is(trie.size, map.size);
  for (const [k, v] of map) assert.is(trieGet(trie, k), v);
  const seen = new Map<string, number>();
  trieForEach(trie, (v, k) => void seen.set(k, v));
  assert.equal(seen, map);
});

test('trieValues stops at its limit', () => {
  const trie = emptyTrie<number>();
  for (let i = 0; i < 5000; i++) trieSet(trie, `u${i}`, i);
  assert.is(trieValues(trie, 1000).length, 1000);
  assert.is(trieValues(trie).length, 5000);
  assert.is(trieValues(trie, 0).length, 0);
});

/** Objects and arrays reachable from `root`, by identity. */
function reachable(root: unknown, into = new Set<object>()): Set<object> {
  if (root === null || typeof root !== 'object' || into.has(root)) return into;
  into.add(root);
  for (const v of Object.values(root)) reachable(v, into);
  return into;
}

/** Slots (array entries, object keys) in objects of `after` that are not shared with `before`. */
function copiedSlots(before: unknown, after: unknown): number {
  const old = reachable(before);
  let slots = 0;
  for (const o of reachable(after)) if (!old.has(o)) slots += Object.keys(o).length;
  return slots;
}

test('one set under immer copies O(log n) slots, flat as the trie grows', () => {
  const costs: number[] = [];
  for (const n of [1_000, 10_000, 100_000]) {
    const base: HashTrie<number> = emptyTrie();
    for (let i = 0; i < n; i++) trieSet(base, `m${i}`, i);
    const frozen = produce(base, () => {}); // freeze, as the registry's values are
    const next = produce(frozen, (d) => void trieSet(d, 'newcomer', -1));
    assert.is(trieGet(next, 'newcomer'), -1);
    assert.is(trieGet(frozen, 'newcomer'), undefined, 'the old version is untouched');
    costs.push(copiedSlots(frozen, next));
  }
  // A naive object or Map would copy n slots: 1,000 / 10,000 / 100,000.
  for (const c of costs) assert.ok(c < 400, `a set copied ${c} slots (${costs.join(', ')})`);
});

test('trieWith and trieWithout agree with a Map, and every older version stays as it was', () => {
  let trie = emptyTrie<number>();
  const map = new Map<string, number>();
  const kept: { trie: HashTrie<number>; map: Map<string, number> }[] = [];
  let seed = 11;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  for (let i = 0; i < 20_000; i++) {
    const key = `k${rand(3000)}`;
    if (rand(3) === 0) {
      const next = trieWithout(trie, key);
      assert.is(next === trie, !map.has(key), 'removing an absent key gives the same version');
      trie = next;
      map.delete(key);
    } else {
      trie = trieWith(trie, key, i);
      map.set(key, i);
    }
    if (i % 2000 === 0) kept.push({ trie, map: new Map(map) });
  }
  for (const v of [...kept, { trie, map }]) {
    assert.is(v.trie.size, v.map.size);
    const seen = new Map<string, number>();
    trieForEach(v.trie, (x, k) => void seen.set(k, x));
    assert.equal(seen, v.map);
  }
});

test('one trieWith copies O(log n) slots, flat as the trie grows', () => {
  const costs: number[] = [];
  for (const n of [1_000, 10_000, 100_000]) {
    let base: HashTrie<number> = emptyTrie();
    for (let i = 0; i < n; i++) base = trieWith(base, `m${i}`, i);
    const next = trieWith(base, 'newcomer', -1);
    assert.is(trieGet(base, 'newcomer'), undefined);
    costs.push(copiedSlots(base, next), copiedSlots(next, trieWithout(next, 'm7')));
  }
  for (const c of costs) assert.ok(c < 400, `a change copied ${c} slots (${costs.join(', ')})`);
});

test.run();
