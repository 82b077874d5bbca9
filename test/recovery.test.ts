// History and recovery (docs/protocol.md): join with `since` replays what a
// client missed, then live messages, with no gap and no duplicate, even while
// the room keeps talking during the replay.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startBroker, type TestBroker } from './helpers/broker.js';
import { closeAll, TestClient, type Frame } from './helpers/client.js';

interface Ctx {
  b: TestBroker;
  clients: TestClient[];
}
const test = suite<Ctx>('recovery', { b: null as unknown as TestBroker, clients: [] });

test.before.each(async (ctx) => {
  ctx.b = await startBroker({ historySize: 1000 });
  ctx.clients = [];
});
test.after.each(async (ctx) => {
  await closeAll(ctx.clients);
  await ctx.b.broker.close();
});

async function client(ctx: Ctx, name: string): Promise<TestClient> {
  const c = await TestClient.connect(ctx.b.wsUrl, name);
  ctx.clients.push(c);
  return c;
}

const seqsOf = (frames: Frame[], room: string) =>
  frames.filter((f) => f.type === 'message' && f.room === room).map((f) => f.seq as number);

function burst(c: TestClient, room: string, from: number, to: number): void {
  for (let i = from; i <= to; i++) c.send({ op: 'send', room, text: `m${i}`, id: i });
}

test('a member that reconnects with since gets every message exactly once, in order', async (ctx) => {
  const alice = await client(ctx, 'alice');
  const bob = await client(ctx, 'bob');
  alice.send({ op: 'join', room: 'r' });
  await alice.nextOf('joined', { room: 'r' });
  bob.send({ op: 'join', room: 'r' });
  await bob.nextOf('joined', { room: 'r' });

  burst(alice, 'r', 1, 100);
  await bob.next((f) => f.type === 'message' && (f.seq as number) >= 40, 5000, 'message 40');
  bob.ws.terminate(); // vanishes abruptly, mid-stream
  await bob.closed();
  const first = seqsOf(bob.received, 'r');
  const last = first[first.length - 1];

  burst(alice, 'r', 101, 200);
  const bob2 = await client(ctx, 'bob2');
  bob2.send({ op: 'join', room: 'r', since: last });
  burst(alice, 'r', 201, 300); // the room keeps talking during the replay
  const joined = await bob2.nextOf('joined', { room: 'r' });
  assert.is(joined.recovered, true);
  await alice.nextOf('ack', { id: 300 }, 5000);
  await bob2.next((f) => f.type === 'message' && f.seq === 300, 5000, 'message 300');

  const all = [...first, ...seqsOf(bob2.received, 'r')];
  assert.equal(all, Array.from({ length: 300 }, (_, i) => i + 1), 'seq 1..300, each once, in order');
  // joined comes before any replayed message of that room
  const firstMsg = bob2.received.findIndex((f) => f.type === 'message');
  assert.ok(bob2.received.findIndex((f) => f.type === 'joined') < firstMsg);
});

test('since older than the history: recovered false, and what is kept is replayed', async (ctx) => {
  await ctx.b.broker.close();
  ctx.b = await startBroker({ historySize: 10 });
  const alice = await client(ctx, 'alice');
  alice.send({ op: 'join', room: 'r' });
  burst(alice, 'r', 1, 30);
  await alice.nextOf('ack', { id: 30 });
  const bob = await client(ctx, 'bob');
  bob.send({ op: 'join', room: 'r', since: 5 });
  const joined = await bob.nextOf('joined', { room: 'r' });
  assert.is(joined.recovered, false);
  assert.is(joined.seq, 30);
  await bob.barrier();
  assert.equal(seqsOf(bob.received, 'r'), [21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);
});

test('a seq the broker never issued is not trusted (e.g. from before a restart)', async (ctx) => {
  const bob = await client(ctx, 'bob');
  bob.send({ op: 'join', room: 'fresh', since: 42 });
  const joined = await bob.nextOf('joined', { room: 'fresh' });
  assert.is(joined.recovered, false);
  assert.is(joined.seq, 0);
});

test('history returns the latest messages of a room, to members only', async (ctx) => {
  const alice = await client(ctx, 'alice');
  const eve = await client(ctx, 'eve');
  alice.send({ op: 'join', room: 'r' });
  burst(alice, 'r', 1, 8);
  await alice.nextOf('ack', { id: 8 });
  alice.send({ op: 'history', room: 'r', limit: 3, id: 'h1' });
  const h = await alice.nextOf('history', { room: 'r' });
  assert.is(h.id, 'h1');
  assert.is(h.seq, 8);
  assert.equal((h.messages as Frame[]).map((m) => [m.seq, m.text]), [[6, 'm6'], [7, 'm7'], [8, 'm8']]);
  eve.send({ op: 'history', room: 'r', id: 'peek' });
  const err = await eve.nextOf('error', { ref: 'peek' });
  assert.is(err.code, 'not_in_room');
});

test('history outlives the last member: a room emptied and rejoined keeps its seq', async (ctx) => {
  const alice = await client(ctx, 'alice');
  alice.send({ op: 'join', room: 'r' });
  await alice.nextOf('joined', { room: 'r' });
  burst(alice, 'r', 1, 3);
  await alice.nextOf('ack', { id: 3 });
  for (let i = 0; i < 3; i++) await alice.nextOf('message');
  alice.send({ op: 'leave', room: 'r' });
  await alice.nextOf('left', { room: 'r' });
  alice.send({ op: 'join', room: 'r', since: 1 });
  const joined = await alice.nextOf('joined', { room: 'r' });
  assert.is(joined.recovered, true);
  assert.equal([(await alice.nextOf('message')).seq, (await alice.nextOf('message')).seq], [2, 3]);
  alice.send({ op: 'send', room: 'r', text: 'again', id: 'x' });
  assert.is((await alice.nextOf('ack', { id: 'x' })).seq, 4);
});

test.run();
