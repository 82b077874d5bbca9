// Names people choose (user names, display names, room names): which are
// acceptable, and the one canonical form that decides whether two of them are
// the same name. docs/protocol.md ("Names") is the contract, with examples.
//
// Acceptable: 1..max characters after trimming, not whitespace only, and none
// of: control characters (C0, DEL, C1), format characters (Unicode Cf: zero
// width spaces and joiners, bidi overrides and isolates, the BOM, soft
// hyphen...), other default-ignorable code points (variation selectors, Hangul
// fillers, combining grapheme joiner), line and paragraph separators, private
// use, unassigned code points and lone surrogates. Each can make two names
// look alike, or reorder what a screen shows around them.
//
// The canonical form (nameKey): NFKC (fullwidth and compatibility forms become
// plain ones, decomposed accents compose), case folded, whitespace runs as one
// space, then the Unicode TR39 skeleton (confusables.txt: Cyrillic а is Latin
// a, 0 is O, rn is m...) through `unhomoglyph`, folded again (skeletons map
// to capitals too: 0 -> O), and i and l made one letter: once case is
// ignored, capital I (which looks like l) and i are one letter, so l must be
// too or `aIice` would pass for `alice`. Finally NFD, as TR39 compares.
// Two names are the same name when their keys are equal.
import unhomoglyph from 'unhomoglyph';

/**
 * Refused anywhere in a name. \p{Cc} controls, \p{Cf} format characters,
 * \p{Default_Ignorable_Code_Point} (invisible by definition), \p{Zl}\p{Zp}
 * (line breaks), \p{Co} private use, \p{Cn} unassigned, \p{Cs} lone surrogates.
 */
const INVISIBLE_OR_CONTROL = /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{Zl}\p{Zp}\p{Co}\p{Cn}\p{Cs}]/u;

/** Why a name is refused, or null when it is acceptable. `what` names the field in the message. */
export function nameProblem(name: string, what: string, max: number): string | null {
  const bad = INVISIBLE_OR_CONTROL.exec(name);
  if (bad !== null) {
    const cp = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    return `${what} must not contain control, format or invisible characters (found U+${cp})`;
  }
  if (name.trim().length === 0) return `${what} must not be empty or whitespace only`;
  if (name.length > max) return `${what} must be 1-${max} characters`;
  return null;
}

/** A name as it will be used: trimmed, and only when acceptable (see nameProblem); else null. */
export function cleanName(v: unknown, max: number): string | null {
  if (typeof v !== 'string' || INVISIBLE_OR_CONTROL.test(v)) return null; // before trim, which drops a BOM
  const name = v.trim();
  return nameProblem(name, 'name', max) === null ? name : null;
}

/** Case folding without a table: upper then lower maps ß to ss, ς to σ, ﬀ to ff, as full folding does. */
function fold(s: string): string {
  return s.toUpperCase().toLowerCase();
}

/**
 * The canonical form of a name (see the file header): equal keys, same name.
 * `Alice`, `ALICE`, `ａｌｉｃｅ`, Cyrillic `аlice`, `aIice` and `alicé` in either
 * normal form all have the key of `alice` / `alicé`. Only for names that
 * nameProblem accepts; it never throws on others.
 */
export function nameKey(name: string): string {
  return asciiKey(name) ?? slowKey(name);
}

/** nameKey's full path, for any name (exported for the test that holds the ASCII table to it). */
export function slowKey(name: string): string {
  const folded = fold(name.normalize('NFKC')).normalize('NFKC').replace(/\s+/gu, ' ').trim();
  const skeleton = unhomoglyph(folded.normalize('NFD'));
  return fold(skeleton).replace(/i/g, 'l').normalize('NFD');
}

/**
 * Printable ASCII without spaces (u123, Alice_2, bot-7: most names) takes a
 * table: NFKC and NFD leave such characters alone, folding is per character,
 * and the skeleton maps each character on its own, so the key is the
 * characters' keys in a row. Names with spaces (whose runs fold) or anything
 * else take the full path. Each connection's registration computes a key:
 * the full path (two normalizations, the confusables regex) was ~3% of the
 * broker's CPU in a connection storm.
 */
const ASCII_KEYS: string[] = [];
for (let c = 0x21; c < 0x7f; c++) ASCII_KEYS[c] = slowKey(String.fromCharCode(c));

function asciiKey(name: string): string | null {
  let key = '';
  for (let i = 0; i < name.length; i++) {
    const part = ASCII_KEYS[name.charCodeAt(i)];
    if (part === undefined) return null;
    key += part;
  }
  return key;
}

/** Whether two names are the same name (their canonical forms are equal). */
export function sameName(a: string, b: string): boolean {
  return a === b || nameKey(a) === nameKey(b);
}
