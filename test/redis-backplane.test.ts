// Two brokers joined through a real redis-server (started by this file on a
// free port): one room's messages in one seq order on both, presence, `who`,
// names and DMs across nodes, history and recovery through the stream.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startBroker, type TestBroker } from './helpers/broker.js';
import { closeAll, TestClient, type Frame } from './helpers/client.js';
import { redisBackplane, RedisServer } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';
import { MAX_LISTED_USERS } from '../src/constants.js';

interface Ctx {
  redis: RedisServer | null;
  a: TestBroker | null;
  b: TestBroker | null;
  clients: TestClient[];
}

const Redis = suite<Ctx>('redis backplane', { redis: null, a: null, b: null, clients: [] });

Redis.before(async (ctx) => {
  ctx.redis = await RedisServer.start();
  ctx.a = await startBroker({ backplane: redisBackplane(ctx.redis.url) });
  ctx.b = await startBroker({ backplane: redisBackplane(ctx.redis.url) });
});

Redis.after.each(async (ctx) => {
  await closeAll(ctx.clients);
  ctx.clients = [];
});

Redis.after(async (ctx) => {
  await ctx.a?.broker.close();
  await ctx.b?.broker.close();
  await ctx.redis?.dispose();
});

async function connect(ctx: Ctx, broker: TestBroker, name: string): Promise<TestClient> {
  const c = await TestClient.connect(broker.wsUrl, name);
  ctx.clients.push(c);
  return c;
}

async function join(c: TestClient, room: string, extra: object = {}): Promise<Frame> {
  c.send({ op: 'join', room, ...extra });
  return c.nextOf('joined', { room });
}

const messagesOf = (c: TestClient, room: string) =>
  c.received.filter((f) => f.type === 'message' && f.room === room);

Redis('clients on two nodes chat in one room: every member gets every message once, in one seq order without gap', async (ctx) => {
  const ann = await connect(ctx, ctx.a!, 'ann');
  const bea = await connect(ctx, ctx.b!, 'bea');
  const cal = await connect(ctx, ctx.b!, 'cal');
  for (const c of [ann, bea, cal]) await join(c, 'lobby');
  const perClient = 40;
  const senders = [ann, bea, cal];
  for (let i = 0; i < perClient; i++) {
    for (const s of senders) s.send({ op: 'send', room: 'lobby', text: `${s.user}:${i}`, id: `${s.user}-${i}` });
  }
  const total = perClient * senders.length;
  for (const c of senders) {
    // Each sender's acks, each carrying the seq its message got; the message comes before its ack.
    for (let i = 0; i < perClient; i++) {
      const ack = await c.nextOf('ack', { id: `${c.user}-${i}` }, 5000);
      assert.type(ack.seq, 'number');
      const own = messagesOf(c, 'lobby').find((m) => m.seq === ack.seq);
      assert.ok(own !== undefined, `${c.user} got its message seq ${ack.seq} before the ack`);
      assert.is(own!.text, `${c.user}:${i}`);
    }
  }
  for (const c of senders) {
    // (nextOf may hand back a message that came earlier and was never taken: count what arrived, not the calls.)
    while (messagesOf(c, 'lobby').length < total) await c.nextOf('message', { room: 'lobby' }, 5000);
  }
  const reference = messagesOf(ann, 'lobby').map((m) => `${m.seq} ${m.text}`);
  const first = messagesOf(ann, 'lobby')[0].seq as number;
  for (const c of senders) {
    const got = messagesOf(c, 'lobby');
    assert.is(got.length, total, `${c.user} got each message once`);
    got.forEach((m, i) => assert.is(m.seq, first + i, `${c.user}: seq without gap`));
    assert.equal(got.map((m) => `${m.seq} ${m.text}`), reference, `${c.user} sees the same order as ann`);
  }
  // A sender's own messages keep their order.
  const annTexts = messagesOf(bea, 'lobby').filter((m) => m.from === 'ann').map((m) => m.text);
  assert.equal(annTexts, Array.from({ length: perClient }, (_, i) => `ann:${i}`));
});

Redis('presence and who across nodes: joined lists the other node\'s members; join and leave reach them', async (ctx) => {
  const dan = await connect(ctx, ctx.a!, 'dan');
  await join(dan, 'garden');
  const eve = await connect(ctx, ctx.b!, 'eve');
  const joined = await join(eve, 'garden');
  assert.equal([...(joined.users as string[])].sort(), ['dan', 'eve']);
  assert.is(joined.count, 2);
  await dan.nextOf('presence', { room: 'garden', user: 'eve', event: 'join' });
  dan.send({ op: 'who', room: 'garden' });
  const who = await dan.nextOf('who', { room: 'garden' });
  assert.equal([...(who.users as string[])].sort(), ['dan', 'eve']);
  assert.is(who.count, 2);
  // A room with no member on this node is answered from Redis.
  const fay = await connect(ctx, ctx.a!, 'fay');
  const eveOnly = await connect(ctx, ctx.b!, 'gus');
  await join(eveOnly, 'attic');
  fay.send({ op: 'who', room: 'attic' });
  const attic = await fay.nextOf('who', { room: 'attic' });
  assert.equal(attic.users, ['gus']);
  assert.is(attic.count, 1);
  eve.send({ op: 'leave', room: 'garden' });
  await eve.nextOf('left', { room: 'garden' });
  await dan.nextOf('presence', { room: 'garden', user: 'eve', event: 'leave' });
  await eve.close();
  await eveOnly.close();
  fay.send({ op: 'who', room: 'attic' });
  // gus closed: his leave reaches Redis; ask until it shows (bounded).
  let count = -1;
  for (let i = 0; i < 50 && count !== 0; i++) {
    fay.send({ op: 'who', room: 'attic' });
    count = (await fay.nextOf('who', { room: 'attic' })).count as number;
  }
  assert.is(count, 0, 'a closed member leaves the room everywhere');
});

Redis('a big room\'s users list on one node drops the members who left on the other', async (ctx) => {
  // Past MAX_LISTED_USERS a node caches the list; it names the other node's members after its own.
  const REMOTE = MAX_LISTED_USERS + 10;
  const ann = await connect(ctx, ctx.a!, 'ann');
  await join(ann, 'big');
  const bees: TestClient[] = [];
  for (let i = 0; i < REMOTE; i += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, REMOTE - i) }, (_, k) => connect(ctx, ctx.b!, `b${i + k}`)));
    await Promise.all(batch.map((c) => join(c, 'big')));
    bees.push(...batch);
  }
  const roster = (): number => ctx.a!.broker.backplane.remoteMembers('big').size;
  await waitFor(() => roster() === REMOTE, 10_000, `node a to hear of all ${REMOTE} members on node b`);
  const first = await join(await connect(ctx, ctx.a!, 'x1'), 'big');
  assert.is(first.count, REMOTE + 2);
  const gone = bees.slice(0, 10);
  assert.ok(gone.every((c) => (first.users as string[]).includes(c.user)), 'the first remote members are listed');
  await Promise.all(gone.map((c) => c.close()));
  await waitFor(() => roster() === REMOTE - gone.length, 10_000, 'node a to hear of the leaves');
  const second = await join(await connect(ctx, ctx.a!, 'x2'), 'big');
  assert.is(second.count, REMOTE - gone.length + 3);
  const stale = gone.map((c) => c.user).filter((u) => (second.users as string[]).includes(u));
  assert.equal(stale, [], 'no one who left is listed');
});

Redis('names are unique across nodes; a DM reaches a user on the other node; unknown users are errors', async (ctx) => {
  const hal = await connect(ctx, ctx.a!, 'hal');
  const hal2 = await connect(ctx, ctx.b!, 'hal');
  assert.is(hal.user, 'hal');
  assert.match(hal2.user, /^hal-[0-9a-f]{4}$/, 'the name taken on node A is not given again on node B');
  const ivy = await connect(ctx, ctx.b!, 'ivy');
  hal.send({ op: 'dm', to: 'ivy', text: 'psst', id: 'd1' });
  const dm = await ivy.nextOf('dm', { from: 'hal' });
  assert.is(dm.text, 'psst');
  assert.is(dm.to, 'ivy');
  await hal.nextOf('ack', { id: 'd1' });
  hal.send({ op: 'dm', to: 'nobody-here', text: '?', id: 'd2' });
  const err = await hal.nextOf('error', { ref: 'd2' });
  assert.is(err.code, 'unknown_user');
  await hal.close();
  // The name is free again once hal is gone, on either node (release reaches Redis first).
  let again: TestClient | null = null;
  for (let i = 0; i < 50; i++) {
    const c = await connect(ctx, ctx.b!, 'hal');
    if (c.user === 'hal') { again = c; break; }
    await c.close();
  }
  assert.ok(again !== null, 'hal could be taken again after hal left');
});

Redis('history and join with since read the stream: missed messages once, then live ones', async (ctx) => {
  const jo = await connect(ctx, ctx.a!, 'jo');
  const kim = await connect(ctx, ctx.b!, 'kim');
  await join(jo, 'log');
  await join(kim, 'log');
  for (let i = 0; i < 5; i++) jo.send({ op: 'send', room: 'log', text: `m${i}`, id: `h${i}` });
  const acks = [];
  for (let i = 0; i < 5; i++) acks.push(await jo.nextOf('ack', { id: `h${i}` }));
  const seq2 = acks[1].seq as number;
  kim.send({ op: 'history', room: 'log', limit: 3, id: 'q' });
  const history = await kim.nextOf('history', { room: 'log' });
  assert.equal((history.messages as Frame[]).map((m) => m.text), ['m2', 'm3', 'm4']);
  assert.is(history.seq, acks[4].seq);
  // kim leaves, jo goes on, kim comes back asking for what came after seq2.
  kim.send({ op: 'leave', room: 'log' });
  await kim.nextOf('left', { room: 'log' });
  for (let i = 5; i < 8; i++) jo.send({ op: 'send', room: 'log', text: `m${i}`, id: `h${i}` });
  for (let i = 5; i < 8; i++) await jo.nextOf('ack', { id: `h${i}` });
  // A plain join on either node says the room's seq: node b had no member left, so it learns it from Redis.
  const lu = await connect(ctx, ctx.b!, 'lu');
  assert.is((await join(lu, 'log')).seq, seq2 + 6, 'on a node new to the room');
  const mo = await connect(ctx, ctx.a!, 'mo');
  assert.is((await join(mo, 'log')).seq, seq2 + 6, 'on a node where the room is live');
  const before = kim.received.length;
  const rejoined = await join(kim, 'log', { since: seq2 });
  assert.is(rejoined.recovered, true);
  assert.is(rejoined.seq, seq2 + 6);
  jo.send({ op: 'send', room: 'log', text: 'live', id: 'live' });
  await kim.nextOf('message', { text: 'live' });
  const after = kim.received.slice(before).filter((f) => f.type === 'message');
  assert.equal(after.map((m) => m.text), ['m2', 'm3', 'm4', 'm5', 'm6', 'm7', 'live']);
  after.forEach((m, i) => assert.is(m.seq, seq2 + 1 + i));
  // A seq older than what the stream keeps (or from another incarnation) is not recovered.
  const far = await connect(ctx, ctx.b!, 'lou');
  const stale = await join(far, 'log', { since: 100_000 });
  assert.is(stale.recovered, false);
});

Redis.run();
