// Names that cannot impersonate (src/protocol/names.ts): which names are
// refused, and which are one name once case, compatibility forms and
// look-alike characters are set aside. The cases are the table.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cleanName, nameKey, nameProblem, sameName, slowKey } from '../src/protocol/names.js';
import { parseClientOp } from '../src/protocol/protocol.js';

const test = suite('names');

test('look-alikes of alice are alice: case, fullwidth, Cyrillic, decomposed accents, I for l, 1 for l', () => {
  const same = ['Alice', 'ALICE', 'ａｌｉｃｅ', '\u0430lice', 'aIice', 'a1ice', ' alice '];
  for (const name of same) assert.ok(sameName(name, 'alice'), `${JSON.stringify(name)} is alice`);
  assert.ok(sameName('alic\u0065\u0301', 'alic\u00e9'), 'decomposed and composed é');
  assert.ok(sameName('b0b', 'bob'), '0 for o');
  assert.ok(sameName('Straße', 'STRASSE'), 'ß folds to ss');
  assert.ok(sameName('rnallory', 'mallory'), 'rn for m (TR39)');
  assert.ok(sameName('team  one', 'team one'), 'whitespace runs are one space');
});

test('different names stay different', () => {
  const distinct = ['alice', 'alicé', 'bob', 'carol', 'alice2', 'al ice', 'лиса'];
  const keys = new Set(distinct.map(nameKey));
  assert.is(keys.size, distinct.length, JSON.stringify(distinct.map(nameKey)));
});

test('printable ASCII names take a table: the same keys as the full path, spaces and all', () => {
  const every = Array.from({ length: 0x7f - 0x20 }, (_, k) => String.fromCharCode(0x20 + k)).join('');
  const names = [every, 'u0', 'u24999', 'Alice_2', 'a1ice', 'rnallory', 'b0b', '%', 'a  b', ' x ', '"q"', '|I|'];
  // Pseudo-random strings of printable ASCII (a fixed LCG: the same cases every run).
  let seed = 18;
  for (let n = 0; n < 2000; n++) {
    let name = '';
    const len = 1 + (n % 12);
    for (let i = 0; i < len; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      name += every[seed % every.length];
    }
    names.push(name);
  }
  for (const name of names) assert.is(nameKey(name), slowKey(name), JSON.stringify(name));
});

test('invisible, format and control characters are refused, with the code point named', () => {
  const refused: [string, string][] = [
    ['alice\u200b', 'U+200B'], // zero-width space
    ['alice\u200d', 'U+200D'], // zero-width joiner
    ['\u202eecila', 'U+202E'], // right-to-left override
    ['r\u202e', 'U+202E'],
    ['a\u2066b', 'U+2066'], // left-to-right isolate
    ['\ufeffalice', 'U+FEFF'], // BOM
    ['ali\u00adce', 'U+00AD'], // soft hyphen
    ['\u3164', 'U+3164'], // Hangul filler (default ignorable, not Cf)
    ['a\u034fb', 'U+034F'], // combining grapheme joiner
    ['a\u2028b', 'U+2028'], // line separator
    ['x\ue000', 'U+E000'], // private use
    ['\ud800x', 'U+D800'], // lone surrogate
    ['a\u0007b', 'U+0007'],
    ['a\nb', 'U+000A'],
  ];
  for (const [name, cp] of refused) {
    const problem = nameProblem(name, 'name', 64);
    assert.ok(problem?.includes(cp) === true, `${JSON.stringify(name)}: ${problem}`);
    assert.is(cleanName(name, 64), null);
  }
});

test('whitespace only is refused, for users and rooms', () => {
  for (const name of [' ', '   ', '\u3000', '\u00a0']) {
    assert.match(nameProblem(name, 'name', 32) ?? '', /whitespace only/, JSON.stringify(name));
    const op = parseClientOp(JSON.stringify({ op: 'join', room: name, id: 1 }));
    assert.equal(op, { fault: 'bad_request', message: '"room" must not be empty or whitespace only', ref: 1 });
  }
});

test('room names in ops: a bidi override is a bad_request naming the code point', () => {
  const op = parseClientOp(JSON.stringify({ op: 'send', room: 'r\u202e', text: 'x' }));
  assert.equal(op, { fault: 'bad_request', message: '"room" must not contain control, format or invisible characters (found U+202E)' });
  assert.equal(parseClientOp(JSON.stringify({ op: 'join', room: '__proto__' })), { op: 'join', room: '__proto__' });
});

test('cleanName never throws on what a token or URL may carry', () => {
  for (const v of [12345, null, undefined, {}, [], true, 'ok']) cleanName(v, 32);
  assert.is(cleanName(12345, 32), null);
  assert.is(cleanName('  bob ', 32), 'bob');
});

test.run();
