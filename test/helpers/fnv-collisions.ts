// Names that all share one FNV-1a hash: what an attacker made against the
// registry's old unkeyed hash. After a first character the state is
// (s ^ a) * p; two first characters whose states agree in their high 16 bits
// are told apart by a second character pair whose XOR is the low 16 bits'
// difference, and then the states are equal. Each such pair of 2-character
// blocks doubles the names: k of them chained give 2^k names of 2k
// characters with one hash, in milliseconds. CJK ideographs and Hangul
// syllables (assigned long ago) pass the name checks.
const FIRST = 0x4e00;
const SPAN = 0x9fa5 - 0x4e00;

export function fnv1a(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const PRIME = 0x01000193;

function step(h: number, c: number): number {
  return Math.imul((h ^ c) >>> 0, PRIME) >>> 0;
}

/** Second characters: CJK Extension A, CJK Unified Ideographs, Hangul syllables (all assigned long ago, all letters). */
const inRange = (c: number): boolean => (c >= 0x3400 && c <= 0x4db5) || (c >= FIRST && c <= FIRST + SPAN) || (c >= 0xac00 && c <= 0xd7a3);

/** Two 2-character blocks that take state `s` to one state, and that state. */
function collidingBlocks(s: number): { blocks: [string, string]; next: number } {
  const byHigh = new Map<number, number[]>();
  for (let a = 0x3400; a <= 0xd7a3; a++) {
    if (!inRange(a)) continue;
    const h = step(s, a);
    const others = byHigh.get(h >>> 16);
    if (others === undefined) {
      byHigh.set(h >>> 16, [a]);
      continue;
    }
    for (const other of others) {
      const d = (h ^ step(s, other)) & 0xffff;
      for (let b = 0x3400; b <= 0xd7a3; b++) {
        if (!inRange(b) || !inRange(b ^ d)) continue;
        return { blocks: [String.fromCharCode(other, b), String.fromCharCode(a, b ^ d)], next: step(step(s, other), b) };
      }
    }
    others.push(a);
  }
  throw new Error('no colliding blocks from this state');
}

/** At least `count` distinct names starting with `prefix`, all with one FNV-1a hash. */
export function fnvCollidingNames(count: number, prefix = 'r'): string[] {
  let state = fnv1a(prefix);
  const pairs: [string, string][] = [];
  while (2 ** pairs.length < count) {
    const { blocks, next } = collidingBlocks(state);
    pairs.push(blocks);
    state = next;
  }
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    let name = prefix;
    for (let k = 0; k < pairs.length; k++) name += pairs[k][(i >>> k) & 1];
    names.push(name);
  }
  return names;
}
