// Reconnection: a real broker stopped and started again on the same port
// (clients come back, rooms are rejoined, sends made offline go out and are
// acked, the offline queue is bounded), and a scripted broker for what a real
// one will not do on cue (resume with since and replays, answers in reverse
// order, a drop in the middle of an op, silence, a kick).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Broker } from '../src/broker.js';
import { connect, createClient } from '../src/client/index.js';
import { createLogger } from '../src/log.js';
import { FakeBroker } from './helpers/fake-broker.js';
import { nextEvent, refusal, until, within } from './helpers/client-waits.js';
import { TcpProxy } from './helpers/tcp-proxy.js';

const FAST = { backoff: { initialMs: 20, maxMs: 200 } };

function startBroker(port = 0): Promise<Broker> {
  return Broker.start({ port, host: '127.0.0.1', logger: createLogger('silent'), shutdownTimeoutMs: 2000 });
}


const restart = suite('client reconnect: broker restart');

restart('clients come back after a restart on the same port, rejoin their rooms, and offline sends are delivered', async () => {
  let broker = await startBroker();
  const port = broker.port;
  const alice = await connect(broker.url, { name: 'alice', ...FAST });
  const bob = await connect(broker.url, { name: 'bob', ...FAST });
  const small = await connect(broker.url, { name: 'small', maxQueue: 2, ...FAST });
  try {
    await alice.join('lobby');
    await bob.join('lobby');
    const before = await alice.send('lobby', 'before');
    const aliceDropped = nextEvent(alice, 'disconnect');
    const bobDropped = nextEvent(bob, 'disconnect');
    await broker.close();
    assert.equal(await aliceDropped, { code: 1001, reason: 'server shutting down', willReconnect: true });
    await bobDropped;
    assert.is(alice.state, 'reconnecting');

    // Offline: sends wait in the queue, a join waits for the connection, the queue is bounded.
    const queued = alice.send('lobby', 'sent while the broker was down');
    const sideJoin = alice.join('side');
    assert.is(alice.queued, 1);
    const q1 = refusal(small.send('x', '1')); // handled now: they are refused while other things are awaited
    const q2 = refusal(small.send('x', '2'));
    assert.is((await refusal(small.send('x', '3'))).code, 'queue_full');

    const aliceBack = nextEvent(alice, 'welcome', () => true, 15_000);
    const bobBack = nextEvent(bob, 'welcome', () => true, 15_000);
    broker = await startBroker(port);
    assert.is((await aliceBack).user, 'alice');
    await bobBack;
    const ack = await within(queued, 5000, 'the queued send is acked after the restart');
    assert.type(ack.seq, 'number');
    assert.is((await within(sideJoin, 5000, 'the offline join resolves')).room, 'side');
    assert.is(alice.queued, 0);
    // The queued sends of `small` went out too (to a room it is not in: refused, not lost).
    assert.is((await q1).code, 'not_in_room');
    assert.is((await q2).code, 'not_in_room');

    // Rejoined without being asked: both are in lobby on the new broker.
    const who = await alice.who('lobby');
    assert.equal([...who.users].sort(), ['alice', 'bob']);
    const got = nextEvent(bob, 'message', (m) => m.text === 'after');
    await alice.send('lobby', 'after');
    assert.is((await got).from, 'alice');
    assert.ok(before.seq! >= 1);
  } finally {
    alice.close();
    bob.close();
    small.close();
    await broker.close();
  }
});

restart('backoff spaces the attempts while the broker is away', async () => {
  const broker = await startBroker();
  const port = broker.port;
  const client = await connect(broker.url, { name: 'patient', backoff: { initialMs: 20, maxMs: 80, factor: 2 }, random: () => 0 });
  const delays: number[] = [];
  client.on('state', (s) => {
    if (s.state === 'reconnecting' && s.delayMs !== undefined) delays.push(s.delayMs);
  });
  await broker.close();
  try {
    await within(new Promise<void>((resolve) => client.on('state', () => delays.length >= 4 && resolve())), 5000, 'four attempts');
    assert.equal(delays.slice(0, 4), [20, 40, 80, 80]);
    const back = nextEvent(client, 'welcome', () => true, 5000);
    const again = await startBroker(port);
    await back;
    // A successful connection resets the backoff.
    const dropped = nextEvent(client, 'state', (s) => s.state === 'reconnecting');
    await again.close();
    assert.is((await dropped).delayMs, 20);
  } finally {
    client.close();
  }
});

restart('a client that drops before any message came rejoins from its first join\'s seq: it gets what it missed, nothing older', async () => {
  const broker = await startBroker();
  const proxy = await TcpProxy.start([broker.port]);
  const bob = await connect(broker.url, { name: 'bob', ...FAST });
  const cy = await connect(proxy.url, { name: 'cy', ...FAST });
  try {
    await bob.join('lobby');
    await bob.send('lobby', 'before cy came');
    const joined = await cy.join('lobby');
    assert.is(joined.seq, 1, 'a plain join carries the room\'s seq');
    assert.is(joined.recovered, undefined);
    const down = nextEvent(cy, 'disconnect');
    proxy.partition('cy', 60_000);
    await down;
    const missed = [await bob.send('lobby', 'missed 1'), await bob.send('lobby', 'missed 2')];
    const got: string[] = [];
    cy.on('message', (m) => got.push(m.text));
    const rejoined = nextEvent(cy, 'joined', () => true, 10_000);
    proxy.heal('cy');
    const back = await rejoined;
    assert.is(back.recovered, true, 'resumed from seq 1, which the broker still keeps');
    await until(() => got.length >= 2, 5000, () => `the two missed messages (got ${JSON.stringify(got)})`);
    assert.equal(got, ['missed 1', 'missed 2']);
    assert.equal(missed.map((a) => a.seq), [2, 3]);
  } finally {
    cy.close();
    bob.close();
    await proxy.close();
    await broker.close();
  }
});

restart.run();

const scripted = suite('client reconnect: scripted broker');
// A fake broker per test: a connection left over by one test must never be handed to the next.
let fake: FakeBroker;
scripted.before.each(async () => {
  fake = await FakeBroker.start();
});
scripted.after.each(async () => {
  await fake.close();
});

scripted('rejoins with since = the last seq seen, and drops replayed messages', async () => {
  const client = createClient(fake.url, { name: 'alice', ...FAST });
  const seen: string[] = [];
  client.on('message', (m) => seen.push(`${m.seq}:${m.text}`));
  try {
    const c1 = await fake.nextConnection();
    c1.welcome();
    const joined = client.join('lobby');
    const join1 = await c1.nextOp((op) => op.op === 'join');
    assert.equal(join1, { op: 'join', room: 'lobby', id: join1.id }, 'no since on a first join');
    c1.send({ type: 'joined', room: 'lobby', users: ['alice'], count: 1 });
    await joined;
    const m5 = { type: 'message', room: 'lobby', from: 'bob', text: 'five', ts: 1000, seq: 5 } as const;
    const got5 = nextEvent(client, 'message', (m) => m.seq === 5);
    c1.send(m5);
    await got5;
    c1.ws.terminate();

    const c2 = await fake.nextConnection();
    c2.welcome();
    const join2 = await c2.nextOp((op) => op.op === 'join');
    assert.equal(join2, { op: 'join', room: 'lobby', id: join2.id, since: 5 });
    c2.send({ type: 'joined', room: 'lobby', users: ['alice'], count: 1 });
    c2.send(m5); // replayed by a broker that resumes inclusively: not shown twice
    c2.send({ type: 'message', room: 'lobby', from: 'bob', text: 'six', ts: 1001, seq: 6 });
    // A broker restarted without history counts from 1 again: new messages, not replays.
    const got1 = nextEvent(client, 'message', (m) => m.text === 'new one');
    c2.send({ type: 'message', room: 'lobby', from: 'bob', text: 'new one', ts: 2000, seq: 1 });
    await got1;
    assert.equal(seen, ['5:five', '6:six', '1:new one']);
    assert.is(client.lastSeq('lobby'), 1);
  } finally {
    client.close();
  }
});

scripted('answers in reverse order settle the right promises', async () => {
  const client = createClient(fake.url, { name: 'alice', ...FAST });
  try {
    const c = await fake.nextConnection();
    c.welcome();
    await within(client.opened(), 5000, 'the client to open');
    const a = client.send('r', 'a');
    const b = client.send('r', 'b');
    const p = client.ping();
    const d = client.dm('bob', 'd');
    const opA = await c.nextOp((op) => op.op === 'send' && op.text === 'a');
    const opB = await c.nextOp((op) => op.op === 'send' && op.text === 'b');
    const opP = await c.nextOp((op) => op.op === 'ping');
    const opD = await c.nextOp((op) => op.op === 'dm');
    c.send({ type: 'error', code: 'unknown_user', message: 'no bob', ref: opD.id });
    c.send({ type: 'pong', id: opP.id });
    c.send({ type: 'ack', id: opB.id!, seq: 8 });
    c.send({ type: 'ack', id: opA.id!, seq: 7 });
    assert.is((await a).seq, 7);
    assert.is((await b).seq, 8);
    assert.type(await p, 'number');
    assert.is((await refusal(d)).code, 'unknown_user');
  } finally {
    client.close();
  }
});

scripted('a drop mid-op: sends fail as disconnected, a join waits for the rejoin, a leave counts as done', async () => {
  const client = createClient(fake.url, { name: 'alice', ...FAST });
  try {
    const c1 = await fake.nextConnection();
    c1.welcome();
    await within(client.opened(), 5000, 'the client to open');
    const joinR = client.join('r');
    const joinLeft = client.join('gone');
    const joinedGone = c1.nextOp((op) => op.op === 'join' && op.room === 'gone');
    await c1.nextOp((op) => op.op === 'join' && op.room === 'r');
    await joinedGone;
    c1.send({ type: 'joined', room: 'gone', users: ['alice'], count: 1 });
    await joinLeft;
    const send = client.send('r', 'lost?');
    const leave = client.leave('gone');
    await c1.nextOp((op) => op.op === 'send');
    await c1.nextOp((op) => op.op === 'leave');
    c1.ws.terminate();
    assert.is((await refusal(send)).code, 'disconnected');
    assert.equal(await leave, { type: 'left', room: 'gone' });
    const c2 = await fake.nextConnection();
    c2.welcome();
    const rejoin = await c2.nextOp((op) => op.op === 'join');
    assert.is((rejoin as { room: string }).room, 'r', 'only r is rejoined: gone was left');
    c2.send({ type: 'joined', room: 'r', users: ['alice'], count: 1 });
    assert.is((await joinR).room, 'r');
  } finally {
    client.close();
  }
});

scripted('a broker that stops answering is dropped and reconnected to', async () => {
  const client = createClient(fake.url, { name: 'alice', pingIntervalMs: 100, ...FAST });
  try {
    const c1 = await fake.nextConnection();
    c1.welcome();
    const drop = nextEvent(client, 'disconnect', () => true, 5000);
    await within(client.opened(), 5000, 'the client to open');
    await c1.nextOp((op) => op.op === 'ping', 5000, 'a liveness ping');
    const dropped = await drop;
    assert.is(dropped.code, 1006);
    assert.ok(dropped.willReconnect);
    const c2 = await fake.nextConnection();
    c2.welcome();
    await within(client.opened(), 5000, 'the client to open');
  } finally {
    client.close();
  }
});

scripted('a liveness timer that runs late pings first: a healthy broker is not dropped for the silence of a stalled loop', async () => {
  const client = createClient(fake.url, { name: 'alice', pingIntervalMs: 100, ...FAST });
  let disconnects = 0;
  client.on('disconnect', () => disconnects++);
  try {
    const c = await fake.nextConnection();
    c.welcome();
    await within(client.opened(), 5000, 'the client to open');
    // The loop stalls for three intervals (a loaded process; a browser throttles a
    // background tab's timers far more): the first tick then finds 300 ms of silence.
    const until = Date.now() + 350;
    while (Date.now() < until) { /* stalled on purpose */ }
    for (let i = 0; i < 3; i++) {
      await c.nextOp((op) => op.op === 'ping', 5000, `liveness ping ${i + 1}`);
      c.send({ type: 'pong' });
    }
    assert.is(disconnects, 0, 'answered pings keep it connected');
    assert.is(fake.connections.filter((k) => k.ws.readyState === k.ws.OPEN).length, 1, 'still the one connection: no reconnection');
  } finally {
    client.close();
  }
});

scripted('a kicked client (4000) does not come back; waiting ops fail with closed', async () => {
  const client = createClient(fake.url, { name: 'alice', ...FAST });
  const c = await fake.nextConnection();
  c.welcome();
  await within(client.opened(), 5000, 'the client to open');
  const join = client.join('r');
  await c.nextOp((op) => op.op === 'join');
  const closed = nextEvent(client, 'close');
  c.ws.close(4000, 'kicked');
  assert.equal(await closed, { code: 4000, reason: 'kicked' });
  assert.is(client.state, 'closed');
  assert.is((await refusal(join)).code, 'closed');
  assert.is(fake.connections.at(-1), c, 'no new connection');
});

scripted.run();
