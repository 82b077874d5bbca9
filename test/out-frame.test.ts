// OutFrame (src/protocol/out-frame.ts): a history page or a big replayed
// message is written from the stored bytes in pieces, never joined into a new
// buffer. What a client reads must be the same frame either way: checked
// here byte for byte at the header's size boundaries, and over a real broker
// for a page alone, a page in the same flush as other frames (the corked
// path), a batch-mode reader, and a `join since` replay of big messages.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { frameText, OutFrame, writeFrame } from '../src/protocol/out-frame.js';
import { startBroker, type TestBroker } from './helpers/broker.js';
import { RawClient, textFrame } from './helpers/ws-frames.js';

const Frames = suite('OutFrame');

/** `total` bytes of JSON-ish text cut into pieces of `piece` bytes. */
function pieces(total: number, piece: number): Buffer[] {
  const all = Buffer.alloc(total, 0x61);
  const out: Buffer[] = [];
  for (let at = 0; at < total; at += piece) out.push(all.subarray(at, Math.min(total, at + piece)));
  return out;
}

Frames('a frame of pieces is byte for byte the frame of their join, at every header size', () => {
  for (const total of [0, 1, 125, 126, 127, 65_535, 65_536, 300_000]) {
    const parts = pieces(total, 7_000);
    const joined = Buffer.concat(parts);
    const f = OutFrame.ofParts(parts);
    assert.is(f.length, total);
    assert.ok(f.payload.equals(joined), `payload of ${total}`);
    assert.ok(f.wire.equals(frameText(joined)), `wire of ${total}`);
    assert.is(f.wireLength, f.wire.length);
    const written: Buffer[] = [];
    const bytes = writeFrame({ write: (c) => written.push(c) > 0, cork: () => {}, uncork: () => {} }, OutFrame.ofParts(parts));
    assert.ok(Buffer.concat(written).equals(frameText(joined)), `pieces written for ${total}`);
    assert.is(bytes, f.wire.length);
  }
});

Frames('a big stored event is written from its own bytes; a small one is copied behind its header', () => {
  const big = Buffer.from(JSON.stringify({ type: 'message', text: 'x'.repeat(40_000), seq: 1 }));
  const small = Buffer.from(JSON.stringify({ type: 'message', text: 'hi', seq: 2 }));
  const f = OutFrame.ofStored(big);
  assert.ok(f.parts !== null && f.parts[1] === big, 'the stored buffer itself is a piece');
  assert.is(f.payload, big, 'and the payload, without a join');
  assert.is(OutFrame.ofStored(small).parts, null);
  assert.ok(OutFrame.ofStored(small).wire.equals(frameText(small)));
});

const Wire = suite<{ b?: TestBroker; clients: RawClient[] }>('OutFrame over a broker', { clients: [] });

Wire.after.each(async (ctx) => {
  for (const c of ctx.clients) c.destroy();
  ctx.clients = [];
  await ctx.b?.broker.close();
});

const TEXT = '語'.repeat(12_000); // 36 KB a message: a page of 20 is ~720 KB

async function open(ctx: { b?: TestBroker; clients: RawClient[] }, name: string, batch = false): Promise<RawClient> {
  const c = await RawClient.open(`${ctx.b!.wsUrl}?name=${name}${batch ? '&batch=1' : ''}`);
  ctx.clients.push(c);
  return c;
}

function joinAndWait(c: RawClient, room: string, extra: Record<string, unknown> = {}): Promise<void> {
  c.write(textFrame(JSON.stringify({ op: 'join', room, ...extra })));
  return c.until(() => c.events().some((e) => e.type === 'joined' && e.room === room), 5000, `joined ${room}`);
}

/** Each event of a batch-mode client's frames, one per line. */
function batchEvents(c: RawClient): { type: string; [k: string]: unknown }[] {
  return c.frames.filter((f) => f.opcode === 0x1).flatMap((f) => f.payload.toString().split('\n').map((l) => JSON.parse(l) as { type: string }));
}

/** The texts of a `history` event's messages. */
function texts(page: { [k: string]: unknown } | undefined): string[] {
  return ((page?.messages ?? []) as { text: string }[]).map((m) => m.text);
}

Wire('history pages and replays of big messages arrive whole: alone, beside other frames, in batch mode', async (ctx) => {
  ctx.b = await startBroker({ rateLimit: 0 });
  const writer = await open(ctx, 'writer');
  await joinAndWait(writer, 'big');
  const buf = [];
  for (let i = 0; i < 20; i++) buf.push(textFrame(JSON.stringify({ op: 'send', room: 'big', text: `${i}:${TEXT}`, id: `s${i}` })));
  writer.write(Buffer.concat(buf));
  await writer.until(() => writer.events().filter((e) => e.type === 'ack').length === 20, 10_000, '20 acks');
  const expected = Array.from({ length: 20 }, (_, i) => `${i}:${TEXT}`);

  // A page alone.
  const reader = await open(ctx, 'reader');
  await joinAndWait(reader, 'big');
  reader.write(textFrame(JSON.stringify({ op: 'history', room: 'big', limit: 100, id: 'h1' })));
  await reader.until(() => reader.events().some((e) => e.id === 'h1'), 5000, 'the page');
  assert.equal(texts(reader.events().find((e) => e.id === 'h1')), expected);

  // A page in the same slice as other frames for the same socket: a ping's pong and a message before it, after it.
  reader.write(Buffer.concat([
    textFrame(JSON.stringify({ op: 'send', room: 'big', text: 'before', id: 'b' })),
    textFrame(JSON.stringify({ op: 'history', room: 'big', limit: 3, id: 'h2' })),
    textFrame(JSON.stringify({ op: 'ping', id: 'p' })),
  ]));
  await reader.until(() => reader.events().some((e) => e.id === 'p'), 5000, 'the pong after the page');
  const tail = reader.events().slice(-4).map((e) => e.type === 'history' ? `history:${texts(e).length}` : e.type);
  assert.equal(tail, ['message', 'ack', 'history:3', 'pong']);

  // Batch mode joins the page's pieces into its one frame of lines.
  const batched = await open(ctx, 'batched', true);
  batched.write(textFrame(JSON.stringify({ op: 'join', room: 'big' })));
  batched.write(textFrame(JSON.stringify({ op: 'history', room: 'big', limit: 100, id: 'h3' })));
  await batched.until(() => batchEvents(batched).some((e) => e.id === 'h3'), 5000, 'the batch-mode page');
  assert.equal(texts(batchEvents(batched).find((e) => e.id === 'h3')).slice(0, 20), expected);

  // A replay: each big message written from the stored bytes.
  const late = await open(ctx, 'late');
  await joinAndWait(late, 'big', { since: 0, id: 'j' });
  await late.until(() => late.events().filter((e) => e.type === 'message').length === 21, 5000, 'the replay');
  assert.equal(late.events().filter((e) => e.type === 'message').map((e) => e.text), [...expected, 'before']);
});

Frames.run();
Wire.run();
