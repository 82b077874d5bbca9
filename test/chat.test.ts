// The chat ops end to end over real sockets: join/leave/send/dm/who/ping,
// presence, sequence numbers and user names.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startBroker, waitForNoSessions, type TestBroker } from './helpers/broker.js';
import { closeAll, connectAll, TestClient, type Frame } from './helpers/client.js';

const Chat = suite<{ tb: TestBroker; open: TestClient[] }>('chat', { tb: null!, open: [] });

Chat.before(async (ctx) => {
  ctx.tb = await startBroker();
});
Chat.after.each(async (ctx) => {
  await closeAll(ctx.open);
  ctx.open = [];
  await waitForNoSessions(ctx.tb.broker);
});
Chat.after(async (ctx) => {
  await ctx.tb.broker.close();
});

async function clients(ctx: { tb: TestBroker; open: TestClient[] }, ...names: string[]): Promise<TestClient[]> {
  const list = await connectAll(ctx.tb.wsUrl, names);
  ctx.open.push(...list);
  return list;
}

const isPresence = (f: Frame): boolean => f.type === 'presence';

Chat('join answers joined with the users; presence join goes to the others, not the joiner', async (ctx) => {
  const [alice, bob] = await clients(ctx, 'alice', 'bob');
  alice.send({ op: 'join', room: 'lobby' });
  const first = await alice.nextOf('joined', { room: 'lobby' });
  assert.equal(first.users, ['alice']);
  assert.is(first.count, 1);

  bob.send({ op: 'join', room: 'lobby' });
  const second = await bob.nextOf('joined', { room: 'lobby' });
  assert.equal((second.users as string[]).slice().sort(), ['alice', 'bob']);
  assert.is(second.count, 2);
  const presence = await alice.nextOf('presence', { room: 'lobby', user: 'bob', event: 'join' });
  assert.is(presence.user, 'bob');
  assert.equal(await bob.barrier(), [], 'the joiner gets no presence about itself');
  assert.equal(alice.peek(isPresence), []);
});

Chat('send: every member gets the message with the same seq; the sender gets an ack with id and seq', async (ctx) => {
  const [alice, bob] = await clients(ctx, 'alice', 'bob');
  for (const c of [alice, bob]) {
    c.send({ op: 'join', room: 'r1' });
    await c.nextOf('joined', { room: 'r1' });
  }
  alice.send({ op: 'send', room: 'r1', text: 'hello', id: 'a1' });
  const [mA, mB, ack] = await Promise.all([
    alice.nextOf('message', { room: 'r1', text: 'hello' }),
    bob.nextOf('message', { room: 'r1', text: 'hello' }),
    alice.nextOf('ack', { id: 'a1' }),
  ]);
  assert.is(mA.from, 'alice');
  assert.is(mB.from, 'alice');
  assert.is(mA.seq, mB.seq);
  assert.is(ack.seq, mA.seq);
  assert.type(mA.ts, 'number');
  assert.ok(Math.abs((mA.ts as number) - Date.now()) < 60_000, 'ts is a time in ms');
});

Chat('seq increases by one per message in a room and is counted per room', async (ctx) => {
  const [alice, bob] = await clients(ctx, 'alice', 'bob');
  for (const room of ['seq-a', 'seq-b']) {
    for (const c of [alice, bob]) {
      c.send({ op: 'join', room });
      await c.nextOf('joined', { room });
    }
  }
  const seqs = { 'seq-a': [] as number[], 'seq-b': [] as number[] };
  // Interleaved senders and rooms: each room's sequence must still be 1, 2, 3...
  const plan: [TestClient, 'seq-a' | 'seq-b'][] = [[alice, 'seq-a'], [bob, 'seq-a'], [alice, 'seq-b'], [bob, 'seq-a'], [bob, 'seq-b']];
  plan.forEach(([c, room], i) => c.send({ op: 'send', room, text: `m${i}`, id: i }));
  for (let i = 0; i < plan.length; i++) {
    const room = plan[i][1];
    const m = await bob.nextOf('message', { room, text: `m${i}` });
    seqs[room].push(m.seq as number);
    const ack = await plan[i][0].nextOf('ack', { id: i });
    assert.is(ack.seq, m.seq);
  }
  assert.equal(seqs['seq-a'], [1, 2, 3]);
  assert.equal(seqs['seq-b'], [1, 2]);
});

Chat('leave answers left and tells the others presence leave', async (ctx) => {
  const [alice, bob] = await clients(ctx, 'alice', 'bob');
  for (const c of [alice, bob]) {
    c.send({ op: 'join', room: 'exit' });
    await c.nextOf('joined', { room: 'exit' });
  }
  bob.send({ op: 'leave', room: 'exit' });
  await bob.nextOf('left', { room: 'exit' });
  await alice.nextOf('presence', { room: 'exit', user: 'bob', event: 'leave' });
  // Bob is out: alice's next message reaches only her.
  alice.send({ op: 'send', room: 'exit', text: 'anyone?', id: 'x' });
  await alice.nextOf('ack', { id: 'x' });
  const before = await bob.barrier();
  assert.equal(before.filter((f) => f.type === 'message'), []);
  assert.equal(bob.received.filter((f) => f.type === 'message'), []);
});

Chat('a disconnect tells the others presence leave', async (ctx) => {
  const [alice, bob] = await clients(ctx, 'alice', 'bob');
  for (const c of [alice, bob]) {
    c.send({ op: 'join', room: 'gone' });
    await c.nextOf('joined', { room: 'gone' });
  }
  await bob.close();
  await alice.nextOf('presence', { room: 'gone', user: 'bob', event: 'leave' });
  alice.send({ op: 'who', room: 'gone' });
  const who = await alice.nextOf('who', { room: 'gone' });
  assert.equal(who.users, ['alice']);
});

Chat('dm: the recipient gets it, the sender an ack without seq', async (ctx) => {
  const [alice, bob] = await clients(ctx, 'alice', 'bob');
  alice.send({ op: 'dm', to: 'bob', text: 'psst', id: 7 });
  const dm = await bob.nextOf('dm');
  assert.is(dm.from, 'alice');
  assert.is(dm.to, 'bob');
  assert.is(dm.text, 'psst');
  assert.type(dm.ts, 'number');
  const ack = await alice.nextOf('ack', { id: 7 });
  assert.is(ack.seq, undefined);
  assert.equal(alice.received.filter((f) => f.type === 'dm'), [], 'the sender does not get its own dm');
});

Chat('dm to an unknown user: error unknown_user with the ref', async (ctx) => {
  const [alice] = await clients(ctx, 'alice');
  alice.send({ op: 'dm', to: 'nobody', text: 'hello?', id: 'd1' });
  const err = await alice.nextOf('error');
  assert.is(err.code, 'unknown_user');
  assert.is(err.ref, 'd1');
  assert.type(err.message, 'string');
});

Chat('who lists the members and the count; an empty room has none', async (ctx) => {
  const [alice, bob] = await clients(ctx, 'alice', 'bob');
  for (const c of [alice, bob]) {
    c.send({ op: 'join', room: 'census' });
    await c.nextOf('joined', { room: 'census' });
  }
  alice.send({ op: 'who', room: 'census' });
  const who = await alice.nextOf('who', { room: 'census' });
  assert.equal((who.users as string[]).slice().sort(), ['alice', 'bob']);
  assert.is(who.count, 2);
  alice.send({ op: 'who', room: 'nowhere' });
  const none = await alice.nextOf('who', { room: 'nowhere' });
  assert.equal(none.users, []);
  assert.is(none.count, 0);
});

Chat('ping answers pong with the id, and without one when none was given', async (ctx) => {
  const [alice] = await clients(ctx, 'alice');
  alice.send({ op: 'ping', id: 'p1' });
  assert.equal(await alice.nextOf('pong'), { type: 'pong', id: 'p1' });
  alice.send({ op: 'ping' });
  assert.equal(await alice.nextOf('pong'), { type: 'pong' });
});

Chat('the welcome carries the session and the user name asked for', async (ctx) => {
  const [alice, bob] = await clients(ctx, 'alice', 'bob');
  assert.is(alice.user, 'alice');
  assert.type(alice.session, 'string');
  assert.ok(alice.session.length > 0);
  assert.is.not(alice.session, bob.session);
});

Chat('a taken name gets a generated, different one', async (ctx) => {
  const [first, second] = await clients(ctx, 'carol', 'carol');
  assert.is(first.user, 'carol');
  assert.is.not(second.user, 'carol');
  assert.match(second.user, /^carol-[0-9a-f]{4}$/);
  // Both names work: a dm to the generated one reaches the second client.
  first.send({ op: 'dm', to: second.user, text: 'twin', id: 1 });
  assert.is((await second.nextOf('dm')).from, 'carol');
});

Chat('a missing name gets a generated one', async (ctx) => {
  const anon = await TestClient.connect(ctx.tb.wsUrl, null);
  ctx.open.push(anon);
  assert.match(anon.user, /^guest-[0-9a-f]{4}$/);
});

Chat('a name over 32 characters gets a generated one', async (ctx) => {
  const long = 'x'.repeat(33);
  const [c, ok] = await clients(ctx, long, 'y'.repeat(32));
  assert.is.not(c.user, long);
  assert.match(c.user, /^guest-[0-9a-f]{4}$/);
  assert.is(ok.user, 'y'.repeat(32), '32 characters is still allowed');
});

Chat.run();
