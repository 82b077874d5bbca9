// The server API over real HTTP: every call, the key, bad bodies, idempotent
// publish, room rules that never limit it, and the same calls acting across
// `--workers 2` and two nodes joined by a real redis-server.
import { request } from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRoomRules, type RoomRules } from '../src/actors/room-access.js';
import { spawnBroker, startBroker, type TestBroker } from './helpers/broker.js';
import { TestClient } from './helpers/client.js';
import { redisBackplane, RedisServer } from './helpers/redis.js';

const KEY = 'api-key-for-tests-0123456789';

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** One API call on a fresh connection (agent: false), so that with --workers the calls spread over the workers. */
function call(base: string, path: string, body?: unknown, key: string | null = KEY): Promise<Answer> {
  const headers: Record<string, string> = body === undefined ? {} : { 'Content-Type': 'application/json' };
  if (key !== null) headers.Authorization = `Bearer ${key}`;
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { method: body === undefined ? 'GET' : 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const Api = suite<{ tb: TestBroker }>('server API', { tb: null as unknown as TestBroker });

Api.before(async (ctx) => {
  const policy = parseRoomRules({ announce: 'r', '*': 'rw' }, 'test') as RoomRules;
  ctx.tb = await startBroker({ apiKey: KEY, roomPolicy: policy });
});
Api.after(async (ctx) => {
  await ctx.tb.broker.close();
});

Api('without the key, or with a wrong one, every call is 401; without --api-key the API is 404', async ({ tb }) => {
  for (const key of [null, 'wrong-key-wrong-key', `${KEY}x`]) {
    const a = await call(tb.url, '/api/rooms', undefined, key);
    assert.is(a.status, 401);
    assert.is(a.body.error, 'unauthorized');
  }
  const off = await startBroker();
  try {
    const a = await call(off.url, '/api/rooms');
    assert.is(a.status, 404);
    assert.is(a.body.error, 'disabled');
  } finally {
    await off.broker.close();
  }
});

Api('publish: sequenced, stored and delivered like a client\'s, with server:true and data; history, presence and rooms see it', async ({ tb }) => {
  const alice = await TestClient.connect(tb.wsUrl, 'alice');
  alice.send({ op: 'join', room: 'orders', id: 'j' });
  await alice.nextOf('joined', { room: 'orders' });
  alice.send({ op: 'send', room: 'orders', text: 'first', id: 's' });
  const ack = await alice.nextOf('ack', { id: 's' });
  const pub = await call(tb.url, '/api/publish', { room: 'orders', text: 'order 7 shipped', data: { order: 7, items: [1, 2] } });
  assert.is(pub.status, 200);
  assert.is(pub.body.seq, (ack.seq as number) + 1, 'the API publish takes the next seq of the room');
  const m = await alice.nextOf('message', { text: 'order 7 shipped' });
  assert.equal(m.data, { order: 7, items: [1, 2] });
  assert.is(m.server, true);
  assert.is(m.from, 'server');
  assert.is(m.seq, pub.body.seq);
  const hist = await call(tb.url, '/api/history?room=orders&limit=10');
  assert.is(hist.status, 200);
  assert.equal((hist.body.messages as { text: string }[]).map((x) => x.text), ['first', 'order 7 shipped']);
  assert.is(hist.body.seq, pub.body.seq);
  const who = await call(tb.url, '/api/presence?room=orders');
  assert.equal(who.body, { room: 'orders', users: ['alice'], count: 1 });
  const rooms = await call(tb.url, '/api/rooms');
  assert.equal(rooms.body.rooms, [{ room: 'orders', count: 1 }]);
  await alice.close();
});

Api('a retried publish with the same id is stored and delivered once, also when the retries race', async ({ tb }) => {
  const bob = await TestClient.connect(tb.wsUrl, 'bob');
  bob.send({ op: 'join', room: 'idem', id: 'j' });
  await bob.nextOf('joined', { room: 'idem' });
  const body = { room: 'idem', text: 'once', id: 'evt-42' };
  const answers = await Promise.all([call(tb.url, '/api/publish', body), call(tb.url, '/api/publish', body), call(tb.url, '/api/publish', body)]);
  const again = await call(tb.url, '/api/publish', body);
  for (const a of [...answers, again]) assert.is(a.body.seq, answers[0].body.seq);
  assert.is(again.body.duplicate, true);
  const other = await call(tb.url, '/api/publish', { room: 'idem', text: 'after', id: 'evt-43' });
  await bob.nextOf('message', { text: 'after' });
  assert.is(bob.received.filter((f) => f.type === 'message' && f.text === 'once').length, 1);
  assert.is(other.body.seq, (answers[0].body.seq as number) + 1);
  await bob.close();
});

Api('room rules never limit the API: it writes to a room clients may only read', async ({ tb }) => {
  const carol = await TestClient.connect(tb.wsUrl, 'carol');
  carol.send({ op: 'join', room: 'announce', id: 'j' });
  await carol.nextOf('joined', { room: 'announce' });
  carol.send({ op: 'send', room: 'announce', text: 'nope', id: 's' });
  assert.is((await carol.nextOf('error', { ref: 's' })).code, 'forbidden');
  assert.is((await call(tb.url, '/api/publish', { room: 'announce', text: 'maintenance at 6', from: 'ops' })).status, 200);
  const m = await carol.nextOf('message', { room: 'announce' });
  assert.is(m.from, 'ops');
  assert.is(m.server, true);
  await carol.close();
});

Api('send reaches one user as a dm marked server:true; an unknown user is 404; disconnect closes with 4000 and the reason', async ({ tb }) => {
  const dave = await TestClient.connect(tb.wsUrl, 'dave');
  const sent = await call(tb.url, '/api/send', { to: 'dave', text: 'your order shipped', data: { order: 9 } });
  assert.equal(sent, { status: 200, body: { delivered: true } });
  const dm = await dave.nextOf('dm');
  assert.is(dm.server, true);
  assert.equal(dm.data, { order: 9 });
  assert.is((await call(tb.url, '/api/send', { to: 'nobody', text: 'x' })).status, 404);
  const kicked = await call(tb.url, '/api/disconnect', { user: 'dave', reason: 'account closed' });
  assert.equal(kicked.body, { disconnected: 1 });
  const closed = await dave.closed();
  assert.equal(closed, { code: 4000, reason: 'account closed' });
  assert.equal((await call(tb.url, '/api/disconnect', { user: 'dave' })).body, { disconnected: 0 });
});

Api('bad calls get a JSON error with a stable code and leave the broker serving', async ({ tb }) => {
  const cases: [string, unknown, number, string][] = [
    ['/api/publish', '{not json', 400, 'bad_json'],
    ['/api/publish', '[1,2]', 400, 'bad_json'],
    ['/api/publish', { text: 'no room' }, 400, 'bad_request'],
    ['/api/publish', { room: 'r' }, 400, 'bad_request'],
    ['/api/publish', { room: 'a\u202Eb', text: 'x' }, 400, 'bad_request'],
    ['/api/publish', { room: 'r', text: 5 }, 400, 'bad_request'],
    ['/api/publish', { room: 'r', text: 'x'.repeat(2_000_000) }, 413, 'too_big'],
    ['/api/publish', { room: 'r', text: 'x'.repeat(20_000) }, 413, 'too_large'],
    ['/api/history?room=r&limit=0', undefined, 400, 'bad_request'],
    ['/api/presence', undefined, 400, 'bad_request'],
    ['/api/nothing', undefined, 404, 'not_found'],
    ['/api/rooms', {}, 405, 'method_not_allowed'],
    ['/api/send', { to: 'x' }, 400, 'bad_request'],
  ];
  for (const [path, body, status, code] of cases) {
    const a = await call(tb.url, path, body);
    assert.is(a.status, status, `${path} ${String(JSON.stringify(body)).slice(0, 40)}`);
    assert.is(a.body.error, code);
    assert.type(a.body.message, 'string');
  }
  assert.is((await call(tb.url, '/api/rooms')).status, 200);
});

Api.run();

const Nodes = suite('server API across nodes');

Nodes('--workers 2: publish, send, presence and disconnect act on every worker', async () => {
  const broker = await spawnBroker(['--workers', '2', '--api-key', KEY]);
  try {
    const erin = await TestClient.connect(broker.wsUrl, 'erin');
    erin.send({ op: 'join', room: 'w', id: 'j' });
    await erin.nextOf('joined', { room: 'w' });
    const seqs: number[] = [];
    for (let i = 0; i < 6; i++) {
      const a = await call(broker.url, '/api/publish', { room: 'w', text: `m${i}`, id: `w-${i}` });
      assert.is(a.status, 200);
      seqs.push(a.body.seq as number);
    }
    for (let i = 0; i < 6; i++) await erin.nextOf('message', { text: `m${i}` });
    // Retries of one id on fresh connections (so on both workers): stored once, the primary remembers it.
    const retries = [];
    for (let i = 0; i < 4; i++) retries.push(await call(broker.url, '/api/publish', { room: 'w', text: 'm0 again', id: 'w-0' }));
    for (const r of retries) assert.equal(r.body, { seq: seqs[0], duplicate: true });
    assert.equal(seqs, [...seqs].sort((a, b) => a - b), 'one seq order for the room');
    assert.ok(!erin.received.some((f) => f.text === 'm0 again'), 'no retry was delivered');
    for (let i = 0; i < 4; i++) {
      assert.is((await call(broker.url, '/api/send', { to: 'erin', text: `dm${i}` })).status, 200);
      await erin.nextOf('dm', { text: `dm${i}` });
      const who = await call(broker.url, '/api/presence?room=w', undefined);
      assert.equal(who.body.users, ['erin']);
    }
    await erin.close();
  } finally {
    broker.child.kill('SIGTERM');
    await broker.exited;
  }
});

Nodes('two nodes through Redis: a call to one node reaches a user on the other', async () => {
  const redis = await RedisServer.start();
  const a = await startBroker({ backplane: redisBackplane(redis.url) });
  const b = await startBroker({ backplane: redisBackplane(redis.url), apiKey: KEY });
  try {
    const frank = await TestClient.connect(a.wsUrl, 'frank');
    frank.send({ op: 'join', room: 'x', id: 'j' });
    await frank.nextOf('joined', { room: 'x' });
    const pub = await call(b.url, '/api/publish', { room: 'x', text: 'via b', id: 'r-1' });
    assert.is(pub.status, 200);
    assert.equal((await call(b.url, '/api/publish', { room: 'x', text: 'via b', id: 'r-1' })).body, { seq: pub.body.seq, duplicate: true });
    assert.is((await frank.nextOf('message', { text: 'via b' })).seq, pub.body.seq);
    assert.equal((await call(b.url, '/api/send', { to: 'frank', text: 'dm via b' })).body, { delivered: true });
    await frank.nextOf('dm', { text: 'dm via b' });
    const who = await call(b.url, '/api/presence?room=x');
    assert.equal(who.body.users, ['frank']);
    assert.equal((await call(b.url, '/api/rooms')).body, { rooms: [{ room: 'x', count: 1 }] }, 'b has no member: the list is Redis\'s');
    const hist = await call(b.url, '/api/history?room=x');
    assert.equal((hist.body.messages as { text: string }[]).map((m) => m.text), ['via b'], 'the retry was not stored');
    assert.equal((await call(b.url, '/api/disconnect', { user: 'frank', reason: 'bye from b' })).body, { disconnected: 1 });
    assert.equal(await frank.closed(), { code: 4000, reason: 'bye from b' });
    assert.equal((await call(b.url, '/api/disconnect', { user: 'nobody' })).body, { disconnected: 0 });
  } finally {
    await a.broker.close();
    await b.broker.close();
    await redis.dispose();
  }
});

Nodes.run();
