// Inputs for the fuzz test (fast-check arbitraries) and the oracle that says
// which error a text frame must get. The oracle is docs/protocol.md (and the
// join `since` / `history` fields of the backplane) written again from the
// contract, not imported from src/protocol/protocol.ts: a fuzzer that asks the
// implementation what the answer should be cannot find its bugs.
import fc from 'fast-check';
import {
  OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, clientFrame, closePayload, type FrameSpec,
} from './ws-frames.js';

// --- the oracle ---

export type BadCode = 'bad_json' | 'bad_request' | 'unknown_op';
export interface Expected {
  /** The error code the frame must get, or null: a well-formed op (it may still get not_in_room & co). */
  code: BadCode | null;
  /** The `ref` that error must carry (the op's valid id), if any. */
  ref?: string | number;
}

const OPS = ['join', 'leave', 'send', 'dm', 'who', 'ping', 'history'];
// docs/protocol.md "Names": no control, format, default-ignorable, line-separator, private-use,
// unassigned or lone-surrogate code point, and not whitespace only.
const REFUSED_IN_NAMES = /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{Zl}\p{Zp}\p{Co}\p{Cn}\p{Cs}]/u;
const goodName = (v: unknown, max: number): boolean =>
  typeof v === 'string' && v.length >= 1 && v.length <= max && !REFUSED_IN_NAMES.test(v) && v.trim() !== '';
const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** What the broker must answer to a text frame whose UTF-8 decodes to `text`. */
export function expectedReply(text: string): Expected {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { code: 'bad_json' };
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return { code: 'bad_request' };
  const o = v as Record<string, unknown>;
  let ref: string | number | undefined;
  if (o.id !== undefined) {
    const id = o.id;
    if ((typeof id === 'string' && id.length <= 64) || (typeof id === 'number' && Number.isFinite(id))) ref = id;
    else return { code: 'bad_request' };
  }
  const bad = (code: BadCode): Expected => (ref === undefined ? { code } : { code, ref });
  if (typeof o.op !== 'string') return bad('bad_request');
  if (!OPS.includes(o.op)) return bad('unknown_op');
  const ok: Expected = ref === undefined ? { code: null } : { code: null, ref };
  switch (o.op) {
    case 'ping':
      return ok;
    case 'join':
      if (!goodName(o.room, 64)) return bad('bad_request');
      return o.since === undefined || isCount(o.since) ? ok : bad('bad_request');
    case 'history': {
      if (!goodName(o.room, 64)) return bad('bad_request');
      const limit = o.limit ?? 50;
      return isCount(limit) && (limit as number) >= 1 && (limit as number) <= 1000 ? ok : bad('bad_request');
    }
    case 'leave':
    case 'who':
      return goodName(o.room, 64) ? ok : bad('bad_request');
    case 'send':
      return goodName(o.room, 64) && typeof o.text === 'string' ? ok : bad('bad_request');
    default: // dm
      return goodName(o.to, 128) && typeof o.text === 'string' ? ok : bad('bad_request');
  }
}

// --- text content: generated and mutated ---

/** Field values of every type, with the edge cases that break naive validators. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 40 }), // lone surrogates, astral planes, controls
  fc.constantFrom('', ' ', 'lobby', '\u0000', '\u0085', 'a'.repeat(64), 'a'.repeat(65), 'x'.repeat(33), '__proto__', 'constructor'),
  fc.integer(),
  fc.double(), // NaN, -0, Infinity become null/0/null in JSON: a number never stays infinite
  fc.constantFrom(0, -1, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, 5e-324, 1.5),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
);

/** Objects shaped like ops, every field optional and of any type. */
const opLike: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    op: fc.oneof({ arbitrary: fc.constantFrom(...OPS), weight: 6 }, { arbitrary: fc.constantFrom('JOIN', 'send ', 'kick', ''), weight: 1 }, { arbitrary: anyValue, weight: 1 }),
    room: fc.oneof({ arbitrary: fc.constantFrom('lobby', 'fuzz'), weight: 3 }, { arbitrary: anyValue, weight: 2 }),
    text: fc.oneof({ arbitrary: fc.string({ maxLength: 200 }), weight: 3 }, { arbitrary: anyValue, weight: 1 }),
    to: fc.oneof(fc.constantFrom('chatter0', 'nobody-here'), anyValue),
    id: fc.oneof(fc.string({ maxLength: 70 }), fc.integer(), anyValue),
    since: fc.oneof(fc.nat(), anyValue),
    limit: fc.oneof(fc.integer({ min: -5, max: 1005 }), anyValue),
  },
  { requiredKeys: [] },
);

/** '[[[[...]]]]' and '{"a":{"a":...}}', possibly unbalanced. */
const deepJson = fc.record({ depth: fc.integer({ min: 1, max: 10_000 }), kind: fc.constantFrom('[', '{"a":'), balanced: fc.boolean() })
  .map(({ depth, kind, balanced }) => {
    const close = kind === '[' ? ']' : '}';
    const inner = kind === '[' ? '1' : '1';
    return kind.repeat(depth) + inner + close.repeat(balanced ? depth : Math.floor(depth / 2));
  });

/** Strings and numbers at the frame limit's scale (kept under 64 KiB: oversized frames are the frame fuzz's). */
const huge = fc.oneof(
  // To a room nobody joins: the broker parses and refuses it (not_in_room); the fuzzers need not read 60 KB each.
  fc.integer({ min: 1000, max: 60_000 }).map((n) => JSON.stringify({ op: 'send', room: 'void', text: 'é'.repeat(n / 2), id: 'huge' })),
  fc.integer({ min: 65, max: 60_000 }).map((n) => JSON.stringify({ op: 'join', room: 'r'.repeat(n) })),
  fc.integer({ min: 1, max: 400 }).map((n) => `{"op":"ping","id":${'9'.repeat(n)}}`),
  fc.integer({ min: 1, max: 400 }).map((n) => `{"op":"ping","id":1e${n}}`),
  fc.integer({ min: 1000, max: 60_000 }).map((n) => `"${'a'.repeat(n)}"`),
);

/** Character-level mutations of a valid op: truncation, insertion, deletion, replacement. */
const mutated = fc.tuple(opLike, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 3 }), fc.string({ unit: 'binary', maxLength: 3 })), { minLength: 1, maxLength: 4 }))
  .map(([op, edits]) => {
    let s = JSON.stringify(op);
    for (const [at, kind, insert] of edits) {
      const i = s.length === 0 ? 0 : at % (s.length + 1);
      if (kind === 0) s = s.slice(0, i); // truncated JSON
      else if (kind === 1) s = s.slice(0, i) + insert + s.slice(i);
      else if (kind === 2) s = s.slice(0, i) + s.slice(i + 1);
      else s = s.slice(0, i) + insert + s.slice(i + 1);
    }
    return s;
  });

/** One text frame's content (under the 64 KiB frame limit). Lone surrogates are sent as U+FFFD (what UTF-8 can carry). */
export const textInput: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: opLike.map((o) => JSON.stringify(o)), weight: 8 },
  { arbitrary: mutated, weight: 6 },
  { arbitrary: fc.json({ maxDepth: 4 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 100 }), weight: 3 },
  { arbitrary: fc.string({ maxLength: 30 }), weight: 1 },
  { arbitrary: deepJson, weight: 1 },
  { arbitrary: huge, weight: 1 },
).filter((t) => Buffer.byteLength(t) <= 64 * 1024);

// --- frames: legal, illegal, fragmented, interleaved ---

/** Byte sequences that are not UTF-8: lone continuation, overlong, surrogates, > U+10FFFF, truncated. */
const NOT_UTF8 = [
  [0x80], [0xbf], [0xc0, 0xaf], [0xc1, 0xbf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xff], [0xfe], [0xe2, 0x82], [0xf0, 0x9f, 0x98],
].map((b) => Buffer.from(b));

const invalidUtf8 = fc.tuple(fc.string({ maxLength: 20 }), fc.constantFrom(...NOT_UTF8), fc.string({ maxLength: 20 }))
  .map(([a, bad, b]) => Buffer.concat([Buffer.from(a), bad, Buffer.from(b)]));

const textPayload = textInput.filter((t) => t.length < 2000).map((t) => Buffer.from(t));

const payload: fc.Arbitrary<Buffer> = fc.oneof(
  { arbitrary: textPayload, weight: 4 },
  { arbitrary: invalidUtf8, weight: 2 },
  { arbitrary: fc.uint8Array({ maxLength: 140 }).map((a) => Buffer.from(a)), weight: 2 },
  { arbitrary: fc.constant(Buffer.alloc(0)), weight: 1 },
);

const closeBody: fc.Arbitrary<Buffer> = fc.oneof(
  fc.tuple(fc.constantFrom(1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011, 3000, 4999), fc.string({ maxLength: 30 })).map(([c, r]) => closePayload(c, r)),
  fc.tuple(fc.constantFrom(0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535), fc.string({ maxLength: 10 })).map(([c, r]) => closePayload(c, r)),
  fc.tuple(fc.constantFrom(1000, 4000), fc.constantFrom(...NOT_UTF8)).map(([c, r]) => closePayload(c, r)),
  fc.constant(Buffer.from([0x03])), // one byte
  fc.constant(Buffer.alloc(0)),
);

const frameSpec: fc.Arbitrary<FrameSpec> = fc.oneof(
  // data frames of every kind
  { weight: 6, arbitrary: fc.record({
    fin: fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, { arbitrary: fc.constant(false), weight: 1 }),
    rsv: fc.oneof({ arbitrary: fc.constant(0), weight: 12 }, { arbitrary: fc.constantFrom(1, 2, 4, 7), weight: 1 }),
    opcode: fc.oneof({ arbitrary: fc.constantFrom(OP_TEXT, OP_CONT), weight: 10 }, { arbitrary: fc.constant(OP_BINARY), weight: 1 }, { arbitrary: fc.constantFrom(3, 7, 11, 15), weight: 1 }),
    masked: fc.oneof({ arbitrary: fc.constant(true), weight: 15 }, { arbitrary: fc.constant(false), weight: 1 }),
    payload,
  }) },
  // control frames, legal and not
  { weight: 3, arbitrary: fc.record({
    fin: fc.oneof({ arbitrary: fc.constant(true), weight: 8 }, { arbitrary: fc.constant(false), weight: 1 }),
    opcode: fc.constantFrom(OP_PING, OP_PING, OP_PONG),
    payload: fc.oneof({ arbitrary: fc.uint8Array({ maxLength: 125 }), weight: 8 }, { arbitrary: fc.uint8Array({ minLength: 126, maxLength: 200 }), weight: 1 }).map((a) => Buffer.from(a)),
  }) },
  { weight: 1, arbitrary: closeBody.map((p) => ({ opcode: OP_CLOSE, payload: p })) },
  // lengths that lie, or pass the limit
  { weight: 1, arbitrary: fc.record({
    opcode: fc.constantFrom(OP_TEXT, OP_BINARY),
    payload: fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a)),
    declaredLength: fc.constantFrom(65_537, 100_000, 2 ** 32, 2 ** 53, 2 ** 63 - 1, 70_000),
    lengthBytes: fc.constantFrom<0 | 2 | 8>(8),
  }) },
);

/** A well-formed op split into fragments with pings and pongs between them (legal: RFC 6455 §5.4). */
const interleaved = fc.tuple(textPayload, fc.array(fc.nat(), { maxLength: 4 }), fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 4 }))
  .map(([text, cuts, controls]) => {
    const at = [...new Set(cuts.map((c) => (text.length === 0 ? 0 : c % text.length)))].sort((a, b) => a - b);
    const pieces: Buffer[] = [];
    let from = 0;
    for (const c of [...at, text.length]) {
      pieces.push(text.subarray(from, c));
      from = c;
    }
    const frames: Buffer[] = [];
    pieces.forEach((piece, i) => {
      frames.push(clientFrame({ opcode: i === 0 ? OP_TEXT : OP_CONT, fin: i === pieces.length - 1, payload: piece }));
      const ctl = controls[i];
      if (ctl !== undefined && i < pieces.length - 1) frames.push(clientFrame({ opcode: i % 2 === 0 ? OP_PING : OP_PONG, payload: Buffer.from(ctl) }));
    });
    return Buffer.concat(frames);
  });

/** One text message of more than 64 KiB, whole or in fragments. */
const oversized = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 65_537, max: 70_000 }))
  .map(([parts, size]) => {
    const body = Buffer.alloc(size, 0x61);
    const step = Math.ceil(size / parts);
    const frames: Buffer[] = [];
    for (let i = 0; i < parts; i++) {
      frames.push(clientFrame({ opcode: i === 0 ? OP_TEXT : OP_CONT, fin: i === parts - 1, payload: body.subarray(i * step, (i + 1) * step) }));
    }
    return Buffer.concat(frames);
  });

export interface FrameInput {
  bytes: Buffer;
  /** The client vanishes right after these bytes (a frame cut short, then a reset). */
  vanish: boolean;
}

export const frameInput: fc.Arbitrary<FrameInput> = fc.oneof(
  { weight: 6, arbitrary: fc.array(frameSpec, { minLength: 1, maxLength: 4 }).map((specs) => ({ bytes: Buffer.concat(specs.map(clientFrame)), vanish: false })) },
  { weight: 3, arbitrary: interleaved.map((bytes) => ({ bytes, vanish: false })) },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((a) => ({ bytes: Buffer.from(a), vanish: false })) },
  { weight: 1, arbitrary: oversized.map((bytes) => ({ bytes, vanish: false })) },
  { weight: 1, arbitrary: fc.tuple(frameSpec, fc.nat()).map(([spec, cut]) => {
    const whole = clientFrame(spec);
    return { bytes: whole.subarray(0, Math.max(1, cut % whole.length)), vanish: true };
  }) },
);
