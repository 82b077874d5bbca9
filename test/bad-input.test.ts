// Bad client input: each fault gets an error (or, for what the transport
// refuses, a close code) and hurts nobody else in the room.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startBroker, waitForNoSessions, type TestBroker } from './helpers/broker.js';
import { closeAll, connectAll, type TestClient } from './helpers/client.js';

interface Ctx {
  tb: TestBroker;
  /** The offender, and two bystanders in the same room. */
  alice: TestClient;
  bob: TestClient;
  carol: TestClient;
}

const ROOM = 'hall';
const Bad = suite<Ctx>('bad input', {} as Ctx);

Bad.before(async (ctx) => {
  ctx.tb = await startBroker();
});
Bad.before.each(async (ctx) => {
  [ctx.alice, ctx.bob, ctx.carol] = await connectAll(ctx.tb.wsUrl, ['alice', 'bob', 'carol']);
  for (const c of [ctx.alice, ctx.bob, ctx.carol]) {
    c.send({ op: 'join', room: ROOM });
    await c.nextOf('joined', { room: ROOM });
  }
});
Bad.after.each(async (ctx) => {
  await closeAll([ctx.alice, ctx.bob, ctx.carol]);
  await waitForNoSessions(ctx.tb.broker);
});
Bad.after(async (ctx) => {
  await ctx.tb.broker.close();
});

let sent = 0;
/** Bob says something; carol (and alice, when still connected) must get it. */
async function roomStillChats(ctx: Ctx, aliceConnected = true): Promise<void> {
  const text = `still here ${++sent}`;
  ctx.bob.send({ op: 'send', room: ROOM, text });
  const receivers = aliceConnected ? [ctx.bob, ctx.carol, ctx.alice] : [ctx.bob, ctx.carol];
  await Promise.all(receivers.map((c) => c.nextOf('message', { room: ROOM, text })));
}

/** The offender's connection is still usable: a ping still answers. */
async function stillOpen(c: TestClient): Promise<void> {
  const id = `alive-${++sent}`;
  c.send({ op: 'ping', id });
  await c.nextOf('pong', { id });
}

async function expectError(c: TestClient, frame: string | object, code: string, ref?: string | number): Promise<void> {
  c.send(frame);
  const err = await c.nextOf('error');
  assert.is(err.code, code, `error code for ${JSON.stringify(frame)}`);
  assert.is(err.ref, ref, `ref for ${JSON.stringify(frame)}`);
  assert.type(err.message, 'string');
}

Bad('invalid JSON: error bad_json, and the connection stays open', async (ctx) => {
  await expectError(ctx.alice, '{"op": "send", ', 'bad_json');
  await expectError(ctx.alice, 'not json at all', 'bad_json');
  await stillOpen(ctx.alice);
  await roomStillChats(ctx);
});

Bad('JSON that is not an object: bad_request', async (ctx) => {
  for (const frame of ['[]', '[{"op":"ping"}]', '"ping"', '42', 'null', 'true']) {
    await expectError(ctx.alice, frame, 'bad_request');
  }
  await stillOpen(ctx.alice);
  await roomStillChats(ctx);
});

Bad('a missing op: bad_request, with the id echoed as ref', async (ctx) => {
  await expectError(ctx.alice, { room: ROOM, text: 'hi' }, 'bad_request');
  await expectError(ctx.alice, { id: 'm1', room: ROOM }, 'bad_request', 'm1');
  await stillOpen(ctx.alice);
  await roomStillChats(ctx);
});

Bad('an unknown op: unknown_op with the ref', async (ctx) => {
  await expectError(ctx.alice, { op: 'shout', room: ROOM, id: 'u1' }, 'unknown_op', 'u1');
  await expectError(ctx.alice, { op: 'SEND', room: ROOM, text: 'x' }, 'unknown_op');
  await expectError(ctx.alice, { op: '__proto__', id: 2 }, 'unknown_op', 2);
  await stillOpen(ctx.alice);
  await roomStillChats(ctx);
});

Bad('missing room or text fields: bad_request with the ref echoed', async (ctx) => {
  await expectError(ctx.alice, { op: 'join', id: 'j' }, 'bad_request', 'j');
  await expectError(ctx.alice, { op: 'leave', id: 'l' }, 'bad_request', 'l');
  await expectError(ctx.alice, { op: 'who', id: 'w' }, 'bad_request', 'w');
  await expectError(ctx.alice, { op: 'send', text: 'no room', id: 's1' }, 'bad_request', 's1');
  await expectError(ctx.alice, { op: 'send', room: ROOM, id: 's2' }, 'bad_request', 's2');
  await expectError(ctx.alice, { op: 'dm', text: 'to whom?', id: 'd1' }, 'bad_request', 'd1');
  await expectError(ctx.alice, { op: 'dm', to: 'bob', id: 'd2' }, 'bad_request', 'd2');
  await stillOpen(ctx.alice);
  await roomStillChats(ctx);
});

Bad('wrong types and bad values: bad_request', async (ctx) => {
  await expectError(ctx.alice, { op: 'send', room: 5, text: 'x', id: 't1' }, 'bad_request', 't1');
  await expectError(ctx.alice, { op: 'send', room: ROOM, text: { rich: true }, id: 't2' }, 'bad_request', 't2');
  await expectError(ctx.alice, { op: 'send', room: ROOM, text: null, id: 't3' }, 'bad_request', 't3');
  await expectError(ctx.alice, { op: 'join', room: ['a'], id: 't4' }, 'bad_request', 't4');
  await expectError(ctx.alice, { op: 'dm', to: 7, text: 'x', id: 't5' }, 'bad_request', 't5');
  await expectError(ctx.alice, { op: 7 }, 'bad_request');
  await expectError(ctx.alice, { op: 'join', room: '' , id: 't6' }, 'bad_request', 't6');
  await expectError(ctx.alice, { op: 'join', room: 'r'.repeat(65), id: 't7' }, 'bad_request', 't7');
  await expectError(ctx.alice, { op: 'join', room: 'bell\u0007', id: 't8' }, 'bad_request', 't8');
  // An unusable id cannot be echoed: the error comes without a ref.
  await expectError(ctx.alice, { op: 'ping', id: { nested: 1 } }, 'bad_request');
  await expectError(ctx.alice, { op: 'ping', id: 'i'.repeat(65) }, 'bad_request');
  // None of those did anything: alice is still in exactly the one room, no message was sent.
  assert.equal(ctx.carol.received.filter((f) => f.type === 'message'), []);
  await stillOpen(ctx.alice);
  await roomStillChats(ctx);
});

Bad('send to a room not joined: not_in_room, and nothing is delivered there', async (ctx) => {
  ctx.bob.send({ op: 'join', room: 'private' });
  await ctx.bob.nextOf('joined', { room: 'private' });
  await expectError(ctx.alice, { op: 'send', room: 'private', text: 'let me in', id: 'n1' }, 'not_in_room', 'n1');
  await expectError(ctx.alice, { op: 'send', room: 'no-such-room', text: 'hello', id: 'n2' }, 'not_in_room', 'n2');
  const early = await ctx.bob.barrier();
  assert.equal(early.filter((f) => f.type === 'message'), []);
  await stillOpen(ctx.alice);
  await roomStillChats(ctx);
});

Bad('leave a room not joined: not_in_room', async (ctx) => {
  await expectError(ctx.alice, { op: 'leave', room: 'elsewhere', id: 'x1' }, 'not_in_room', 'x1');
  // Leaving twice: the second is not_in_room, and bob is told of one leave only.
  ctx.alice.send({ op: 'leave', room: ROOM, id: 'x2' });
  await ctx.alice.nextOf('left', { room: ROOM });
  await expectError(ctx.alice, { op: 'leave', room: ROOM, id: 'x3' }, 'not_in_room', 'x3');
  await ctx.bob.nextOf('presence', { room: ROOM, user: 'alice', event: 'leave' });
  await ctx.bob.barrier();
  assert.is(ctx.bob.received.filter((f) => f.type === 'presence' && f.event === 'leave').length, 1);
  await stillOpen(ctx.alice);
  await roomStillChats(ctx, false);
});

Bad('a binary frame: closed with 1003 and a reason; the others keep chatting', async (ctx) => {
  ctx.alice.send(Buffer.from(JSON.stringify({ op: 'ping' })));
  const closed = await ctx.alice.closed();
  assert.is(closed.code, 1003);
  assert.ok(closed.reason.length > 0, 'the close says why');
  await ctx.bob.nextOf('presence', { room: ROOM, user: 'alice', event: 'leave' });
  await roomStillChats(ctx, false);
});

Bad('a frame over 64 KiB: closed with 1009; the others keep chatting', async (ctx) => {
  ctx.alice.send({ op: 'send', room: ROOM, text: 'x'.repeat(64 * 1024) });
  const closed = await ctx.alice.closed();
  assert.is(closed.code, 1009);
  await ctx.bob.nextOf('presence', { room: ROOM, user: 'alice', event: 'leave' });
  await roomStillChats(ctx, false);
  assert.equal(ctx.carol.received.filter((f) => f.type === 'message' && f.from === 'alice'), [], 'the big frame was not delivered');
});

Bad('a frame of exactly 64 KiB is read, not closed: its text, over the text limit, is refused too_large', async (ctx) => {
  const envelope = JSON.stringify({ op: 'send', room: ROOM, text: '', id: 'big' });
  const text = 'y'.repeat(64 * 1024 - Buffer.byteLength(envelope));
  const frame = JSON.stringify({ op: 'send', room: ROOM, text, id: 'big' });
  assert.is(Buffer.byteLength(frame), 64 * 1024);
  ctx.alice.send(frame);
  assert.is((await ctx.alice.nextOf('error', { ref: 'big' })).code, 'too_large');
  await roomStillChats(ctx);
});

Bad.run();
