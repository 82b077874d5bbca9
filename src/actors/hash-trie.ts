// HashTrie: a string-keyed map built of small plain nodes, shaped for immer.
//
// immer copies every object on the path from the root to what changed. A
// registry held as one Map or object of 100,000 entries is copied whole on each
// change (DESIGN.md measured 16 s for 16,000 joins). Here the keys are spread by
// hash over nodes of at most LEAF_CAPACITY entries and BRANCH_WIDTH children, so
// one set or delete copies at most depth x 32 slots: O(log32 n), flat in practice
// (depth 3 holds ~1M keys).
//
// `trieSet` and `trieDelete` mutate and so must be given an immer draft (or a
// value nobody else holds); `trieGet`, `trieForEach` and `trieValues` only read
// and work on drafts and frozen values alike. Values that are class instances
// (actors) are stored by reference: immer neither drafts nor freezes them.

import { randomFillSync } from 'node:crypto';
import { isDraftable } from 'immer';

const BITS = 5;
const BRANCH_WIDTH = 1 << BITS; // 32 children per branch
const MASK = BRANCH_WIDTH - 1;
const LEAF_CAPACITY = 32;
const MAX_DEPTH = 6; // 6 x 5 bits of a 32-bit hash; below it, leaves just grow (collisions)

export interface TrieNode<V> {
  /** Keys of a leaf, parallel to vals; empty in a branch. */
  keys: string[];
  vals: V[];
  /** The 32 children of a branch; null in a leaf. */
  kids: TrieNode<V>[] | null;
}

export interface HashTrie<V> {
  size: number;
  root: TrieNode<V>;
}

export function emptyTrie<V>(): HashTrie<V> {
  return { size: 0, root: leaf() };
}

function leaf<V>(): TrieNode<V> {
  return { keys: [], vals: [], kids: null };
}

/**
 * Keys are chosen by clients (room and user names), so the hash is keyed by
 * a secret drawn at start: simple tabulation hashing, the XOR of one random
 * 32-bit word per (position, byte) of the key. Without the tables nobody can
 * make keys that collide (two distinct keys of one length collide with
 * probability 2^-32 over the tables), so no client can pile names into one
 * leaf and make every lookup there linear, as an unkeyed hash (FNV-1a here,
 * before) allowed: 2,000 colliding names took 0.4 s to make. As cheap as
 * FNV-1a per character (two loads and an XOR); 256 KiB of tables per process.
 * Keys longer than TABLE_POSITIONS characters reuse the positions (no key the
 * broker hashes is: names are at most 128).
 */
const TABLE_POSITIONS = 128;
const LOW = new Uint32Array(TABLE_POSITIONS * 256);
const HIGH = new Uint32Array(TABLE_POSITIONS * 256);
randomFillSync(LOW);
randomFillSync(HIGH);

export function hashKey(key: string): number {
  let h = Math.imul(key.length, 0x9e3779b1);
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    const at = (i & (TABLE_POSITIONS - 1)) << 8;
    h ^= LOW[at | (c & 0xff)] ^ HIGH[at | (c >>> 8)];
  }
  return h >>> 0;
}

export function trieGet<V>(trie: HashTrie<V>, key: string): V | undefined {
  const h = hashKey(key);
  let node = trie.root;
  for (let depth = 0; node.kids !== null; depth++) node = node.kids[(h >>> (depth * BITS)) & MASK];
  const i = node.keys.indexOf(key);
  return i < 0 ? undefined : node.vals[i];
}

export function trieHas<V>(trie: HashTrie<V>, key: string): boolean {
  return trieGet(trie, key) !== undefined;
}

/** Sets key to value (on a draft). Returns true when the key is new. */
export function trieSet<V>(trie: HashTrie<V>, key: string, value: V): boolean {
  const h = hashKey(key);
  let node = trie.root;
  let depth = 0;
  for (; node.kids !== null; depth++) node = node.kids[(h >>> (depth * BITS)) & MASK];
  const i = node.keys.indexOf(key);
  if (i >= 0) {
    node.vals[i] = value;
    return false;
  }
  if (node.keys.length >= LEAF_CAPACITY && depth < MAX_DEPTH) {
    split(node, depth);
    return trieSet(trie, key, value); // the leaf is a branch now: walk down again
  }
  // New arrays of the exact length, not push(): push() on immer's copy of a leaf
  // grows it by 16 spare slots, kept for good in every version (memory per entry).
  // Not for plain-object values (sessions, rooms): reading them through the
  // draft would make immer draft each one; their leaves keep push().
  node.keys = appended(node.keys, key);
  if (isDraftable(value)) node.vals.push(value);
  else node.vals = appended(node.vals, value);
  trie.size++;
  return true;
}

/**
 * A copy of `arr` with `item` at the end, exactly as long as it needs to be.
 * Not concat(): on an immer draft (a Proxy) it takes the generic path and
 * builds an array with dictionary elements.
 */
export function appended<T>(arr: readonly T[], item: T): T[] {
  const n = arr.length;
  const out = new Array<T>(n + 1);
  for (let i = 0; i < n; i++) out[i] = arr[i];
  out[n] = item;
  return out;
}

/** Turns a full leaf into a branch of 32 leaves, spreading its entries by the next 5 bits. */
function split<V>(node: TrieNode<V>, depth: number): void {
  const kids: TrieNode<V>[] = [];
  for (let k = 0; k < BRANCH_WIDTH; k++) kids.push(leaf());
  const shift = depth * BITS;
  for (let i = 0; i < node.keys.length; i++) {
    const kid = kids[(hashKey(node.keys[i]) >>> shift) & MASK];
    kid.keys.push(node.keys[i]);
    kid.vals.push(node.vals[i]);
  }
  // push() left 16 spare slots in each kid's arrays: keep exact copies instead.
  for (const kid of kids) {
    kid.keys = kid.keys.slice();
    kid.vals = kid.vals.slice();
  }
  node.keys = [];
  node.vals = [];
  node.kids = kids;
}

/** Deletes key (on a draft). Returns true when it was there. Branches are not merged back:
 *  a room that was once big keeps its empty leaves until it is dropped. */
export function trieDelete<V>(trie: HashTrie<V>, key: string): boolean {
  const h = hashKey(key);
  let node = trie.root;
  for (let depth = 0; node.kids !== null; depth++) node = node.kids[(h >>> (depth * BITS)) & MASK];
  const i = node.keys.indexOf(key);
  if (i < 0) return false;
  // Swap-remove: order inside a leaf carries no meaning.
  const last = node.keys.length - 1;
  if (i !== last) {
    node.keys[i] = node.keys[last];
    node.vals[i] = node.vals[last];
  }
  node.keys.pop();
  node.vals.pop();
  trie.size--;
  return true;
}

/**
 * A new version of `trie` with key set to value; `trie` itself is left as it
 * was. Copies the nodes on the key's path (O(log32 n) slots), shares the rest:
 * what immer's produce() around trieSet did, without its proxies (a session's
 * registration through produce() was a fifth of a connection storm's CPU).
 */
export function trieWith<V>(trie: HashTrie<V>, key: string, value: V): HashTrie<V> {
  const h = hashKey(key);
  let added = false;
  const copy = (node: TrieNode<V>, depth: number): TrieNode<V> => {
    if (node.kids !== null) {
      const at = (h >>> (depth * BITS)) & MASK;
      const kids = node.kids.slice();
      kids[at] = copy(kids[at], depth + 1);
      return { keys: node.keys, vals: node.vals, kids };
    }
    const i = node.keys.indexOf(key);
    if (i >= 0) {
      const vals = node.vals.slice();
      vals[i] = value;
      return { keys: node.keys, vals, kids: null };
    }
    if (node.keys.length >= LEAF_CAPACITY && depth < MAX_DEPTH) {
      const branch: TrieNode<V> = { keys: node.keys, vals: node.vals, kids: null };
      split(branch, depth); // a fresh node: split() builds its kids anew and leaves node's arrays alone
      return copy(branch, depth);
    }
    added = true;
    return { keys: appended(node.keys, key), vals: appended(node.vals, value), kids: null };
  };
  const root = copy(trie.root, 0);
  return { size: added ? trie.size + 1 : trie.size, root };
}

/** A new version of `trie` without key (`trie` itself when the key is not there); path copying as trieWith. */
export function trieWithout<V>(trie: HashTrie<V>, key: string): HashTrie<V> {
  const h = hashKey(key);
  let found = false;
  const copy = (node: TrieNode<V>, depth: number): TrieNode<V> => {
    if (node.kids !== null) {
      const at = (h >>> (depth * BITS)) & MASK;
      const kid = copy(node.kids[at], depth + 1);
      if (!found) return node;
      const kids = node.kids.slice();
      kids[at] = kid;
      return { keys: node.keys, vals: node.vals, kids };
    }
    const i = node.keys.indexOf(key);
    if (i < 0) return node;
    found = true;
    // Swap-remove into exact-length copies: order inside a leaf carries no meaning.
    const last = node.keys.length - 1;
    const keys = node.keys.slice(0, last);
    const vals = node.vals.slice(0, last);
    if (i !== last) {
      keys[i] = node.keys[last];
      vals[i] = node.vals[last];
    }
    return { keys, vals, kids: null };
  };
  const root = copy(trie.root, 0);
  return found ? { size: trie.size - 1, root } : trie;
}

/** Calls fn for every entry; stops early when fn returns false. */
export function trieForEach<V>(trie: HashTrie<V>, fn: (value: V, key: string) => boolean | void): void {
  walk(trie.root, fn);
}

function walk<V>(node: TrieNode<V>, fn: (value: V, key: string) => boolean | void): boolean {
  if (node.kids !== null) {
    for (let k = 0; k < BRANCH_WIDTH; k++) if (!walk(node.kids[k], fn)) return false;
    return true;
  }
  const { keys, vals } = node;
  for (let i = 0; i < keys.length; i++) if (fn(vals[i], keys[i]) === false) return false;
  return true;
}

/** Up to `limit` values, in trie order. */
export function trieValues<V>(trie: HashTrie<V>, limit = Infinity): V[] {
  const out: V[] = [];
  if (limit <= 0) return out;
  trieForEach(trie, (v) => {
    out.push(v);
    return out.length < limit;
  });
  return out;
}
