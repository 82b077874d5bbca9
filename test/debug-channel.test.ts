// The debug channel over real sockets: the token is enforced, and what the
// channel says is what is true in the broker.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Broker } from '../src/broker.js';
import { chatClient, debugSocket, startBroker, upgradeStatus, wsBase, type Msg } from './helpers/debug-helpers.js';

const Token = suite('debug channel: token');

Token('refuses no token and a wrong token with 401 before the upgrade; opens with the right one', async () => {
  const broker = await startBroker({ debugToken: 's3cret-token' });
  try {
    const base = `${wsBase(broker)}/debug`;
    assert.is(await upgradeStatus(base), 401, 'no token');
    assert.is(await upgradeStatus(`${base}?token=`), 401, 'empty token');
    assert.is(await upgradeStatus(`${base}?token=wrong`), 401, 'wrong token');
    assert.is(await upgradeStatus(`${base}?token=s3cret-token-and-more`), 401, 'a longer token');
    assert.is(await upgradeStatus(`${base}?token=s3cret-token`), 101, 'right token');
    assert.is(await upgradeStatus(base, { Authorization: 'Bearer s3cret-token' }), 101, 'right token as a Bearer header');
    const dbg = await debugSocket(broker, 's3cret-token');
    const stats = await dbg.request({ op: 'stats' });
    assert.is(stats.type, 'stats');
    dbg.close();
  } finally {
    await broker.close();
  }
});

Token('generates a token when none is configured', async () => {
  const broker = await startBroker({ debugToken: null });
  try {
    assert.ok(broker.debug!.tokenGenerated);
    assert.ok(broker.debug!.token.length >= 20, 'a generated token is long enough to guess at no cost');
    assert.is(await upgradeStatus(`${wsBase(broker)}/debug?token=${broker.debug!.token}`), 101);
    const other = await startBroker({ debugToken: null });
    assert.is.not(other.debug!.token, broker.debug!.token, 'each broker makes its own');
    await other.close();
  } finally {
    await broker.close();
  }
});

Token('debug: false turns the channel and the inspector page off', async () => {
  const broker = await startBroker({ debug: false });
  try {
    assert.is(broker.debug, null);
    assert.is(await upgradeStatus(`${wsBase(broker)}/debug?token=anything`), 404);
    const res = await fetch(`http://127.0.0.1:${broker.port}/inspect`);
    assert.is(res.status, 404);
    const chat = await chatClient(broker, 'alice', 'lobby');
    await chat.close();
  } finally {
    await broker.close();
  }
});

Token('closing the broker closes debug sockets with 1001', async () => {
  const broker = await startBroker();
  const dbg = await debugSocket(broker);
  const closed = new Promise<number>((resolve) => dbg.ws.once('close', (code) => resolve(code)));
  await dbg.request({ op: 'subscribe' });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    broker.close(),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('broker.close() hung on an open debug socket')), 5000); }),
  ]);
  clearTimeout(timer);
  assert.is(await closed, 1001);
});

Token.run();

const Truth = suite('debug channel: what it says is true');
let broker: Broker;
Truth.before.each(async () => {
  broker = await startBroker();
});
Truth.after.each(async () => {
  await broker.close();
});

function findItem(reply: Msg, id: string): Msg | undefined {
  return (reply.items as Msg[]).find((i) => i.id === id);
}

Truth('actors lists a client open in lobby; after it leaves the room it is not there; after it quits it is gone', async () => {
  const dbg = await debugSocket(broker);
  await dbg.request({ op: 'subscribe', topics: ['lifecycle'] });
  const alice = await chatClient(broker, 'alice', 'lobby');

  let page = await dbg.request({ op: 'actors', room: 'lobby' });
  assert.is(page.type, 'actors');
  assert.is(page.total, 1);
  const item = findItem(page, alice.session)!;
  assert.ok(item, 'alice is listed in lobby');
  assert.equal(
    { kind: item.kind, user: item.user, state: item.state, rooms: item.rooms },
    { kind: 'connection', user: 'alice', state: 'open', rooms: ['lobby'] },
  );
  assert.ok(item.handled >= 1, 'it has handled its join frame');
  assert.type(item.lastActiveMs, 'number');
  assert.type(item.mailbox, 'number');

  page = await dbg.request({ op: 'actors', state: 'open', user: 'alice' });
  assert.equal(page.items.map((i: Msg) => i.id), [alice.session]);
  page = await dbg.request({ op: 'actors' });
  assert.ok(findItem(page, 'supervisor'), 'the supervisor is an actor too');
  assert.is(page.total, 2);

  const stats = await dbg.request({ op: 'stats' });
  assert.is(stats.actors.byState.open, 1);
  assert.is(stats.actors.total, 2);
  assert.is(stats.rooms, 1);

  alice.send({ op: 'leave', room: 'lobby' });
  await alice.next((m) => m.type === 'left', undefined, 'alice left lobby');
  page = await dbg.request({ op: 'actors', room: 'lobby' });
  assert.is(page.total, 0, 'no one left in lobby');
  page = await dbg.request({ op: 'actors', user: 'alice' });
  assert.equal(page.items[0].rooms, [], 'alice is in no room');

  await alice.close();
  await dbg.next((m) => m.type === '@xstate.snapshot' && m.event.type === 'xstate.stop' && m.actorRef.id === alice.session, 'the stop of alice');
  page = await dbg.request({ op: 'actors' });
  assert.not.ok(findItem(page, alice.session), 'alice is gone from actors');
  assert.is(page.total, 1);
  const gone = await dbg.request({ op: 'actor', id: alice.session });
  assert.equal({ type: gone.type, code: gone.code }, { type: 'error', code: 'not_found' });
  dbg.close();
});

Truth('actor shows its machine state, context, mailbox, counters and recent events', async () => {
  const alice = await chatClient(broker, 'alice', 'lobby');
  alice.send({ op: 'send', room: 'lobby', text: 'hello there', id: 7 });
  await alice.next((m) => m.type === 'ack' && m.id === 7, undefined, 'the ack of the send');
  const dbg = await debugSocket(broker);
  const a = await dbg.request({ op: 'actor', id: alice.session });
  assert.is(a.type, 'actor');
  assert.is(a.id, alice.session);
  assert.is(a.user, 'alice');
  assert.is(a.state, 'open');
  assert.equal(a.context, { closeCode: null, closeReason: null });
  assert.equal(a.machine.states, ['connecting', 'open', 'closing', 'closed']);
  assert.ok(a.machine.transitions.some((t: Msg) => t.from === 'connecting' && t.event === 'REGISTERED' && t.to === 'open'));
  assert.equal({ depth: a.mailbox.depth, capacity: a.mailbox.capacity }, { depth: 0, capacity: 1024 });
  assert.is(a.counters.handled, 3, 'registered, join, send');
  assert.equal(a.rooms, ['lobby']);
  assert.match(a.remote, /^127\.0\.0\.1:\d+$/);
  const events = a.events as Msg[];
  assert.equal(events.map((e) => e.type), ['registered', 'frame', 'frame']);
  assert.equal(events[0].user, 'alice');
  assert.equal({ op: events[1].op, room: events[1].room }, { op: 'join', room: 'lobby' });
  assert.equal({ op: events[2].op, room: events[2].room, text: events[2].text }, { op: 'send', room: 'lobby', text: 'hello there' });
  assert.ok(events.every((e) => typeof e.at === 'number' && e.at > 0 && e.at <= Date.now()), 'every event has its time');

  const sup = await dbg.request({ op: 'actor', id: 'supervisor' });
  assert.is(sup.kind, 'supervisor');
  assert.equal(sup.context, { sessions: 1, users: 1, rooms: 1 });
  assert.ok((sup.events as Msg[]).some((e) => e.type === 'op' && e.op === 'join' && e.target === 'lobby' && e.actor === alice.session));
  dbg.close();
  await alice.close();
});

Truth('subscribe delivers the spawn, the transitions and the stop of a connection, shaped like xstate inspection events', async () => {
  const dbg = await debugSocket(broker);
  const sub = await dbg.request({ op: 'subscribe', topics: ['lifecycle', 'transitions'] });
  assert.equal(sub.topics, ['lifecycle', 'transitions']);
  const bob = await chatClient(broker, 'bob');
  const spawned = await dbg.next((m) => m.type === '@xstate.actor' && m.actorRef.id === bob.session, 'the spawn of bob');
  assert.equal({ topic: spawned.topic, rootId: spawned.rootId, kind: spawned.actorRef.kind }, { topic: 'lifecycle', rootId: 'supervisor', kind: 'connection' });
  const registered = await dbg.next((m) => m.topic === 'transitions' && m.actorRef.id === bob.session, 'bob REGISTERED');
  assert.equal(
    { type: registered.type, event: registered.event, from: registered.from, value: registered.snapshot.value, user: registered.actorRef.user },
    { type: '@xstate.snapshot', event: { type: 'REGISTERED' }, from: 'connecting', value: 'open', user: 'bob' },
  );
  await bob.close();
  const closed = await dbg.next((m) => m.topic === 'transitions' && m.actorRef.id === bob.session && m.snapshot.value === 'closed', 'bob closed');
  assert.is(closed.event.type, 'SOCKET_CLOSED');
  assert.is(closed.snapshot.status, 'done', 'closed is the final state');
  const stopped = await dbg.next((m) => m.topic === 'lifecycle' && m.type === '@xstate.snapshot' && m.actorRef.id === bob.session, 'the stop of bob');
  assert.equal({ event: stopped.event, status: stopped.snapshot.status }, { event: { type: 'xstate.stop', reason: 'normal' }, status: 'stopped' });
  dbg.close();
});

Truth('subscribe to stats delivers a sample once a second; events streams handled messages', async () => {
  const dbg = await debugSocket(broker);
  await dbg.request({ op: 'subscribe', topics: ['stats', 'events'] });
  const carol = await chatClient(broker, 'carol', 'dev');
  const ev = await dbg.next((m) => m.type === '@xstate.event' && m.actorRef.id === carol.session && m.event.op === 'join', 'the join frame as an event');
  assert.equal({ topic: ev.topic, type: ev.event.type, room: ev.event.room }, { topic: 'events', type: 'frame', room: 'dev' });
  const stats = await dbg.next((m) => m.topic === 'stats', 'a stats sample', 3000);
  assert.is(stats.type, 'stats');
  assert.is(stats.actors.byState.open, 1);
  assert.type(stats.rates.messagesPerSec, 'number');
  const history = await dbg.request({ op: 'history' });
  assert.ok(history.samples.length >= 1, 'the sample is in the history');
  dbg.close();
  await carol.close();
});

Truth('kick closes the client with 4000 and the reason', async () => {
  const dave = await chatClient(broker, 'dave', 'lobby');
  const dbg = await debugSocket(broker);
  const reply = await dbg.request({ op: 'kick', id: dave.session, reason: 'flooding' });
  assert.equal({ type: reply.type, target: reply.target, user: reply.user }, { type: 'kicked', target: dave.session, user: 'dave' });
  assert.equal(await dave.closed(), { code: 4000, reason: 'flooding' });
  const err = await dbg.request({ op: 'kick', id: 'supervisor' });
  assert.is(err.code, 'not_found', 'only connections can be kicked');
  dbg.close();
});

Truth('pages, sorts and filters; errors are replies that keep the socket open', async () => {
  const clients = [];
  for (const name of ['u1', 'u2', 'u3', 'u4', 'u5']) clients.push(await chatClient(broker, name, name === 'u5' ? 'big' : 'lobby'));
  // u3 handles more messages than anyone else
  for (let i = 0; i < 5; i++) clients[2].send({ op: 'ping', id: i });
  await clients[2].next((m) => m.type === 'pong' && m.id === 4, undefined, 'the last pong');
  const dbg = await debugSocket(broker);
  const p1 = await dbg.request({ op: 'actors', kind: 'connection', sort: 'id', limit: 2 });
  const p2 = await dbg.request({ op: 'actors', kind: 'connection', sort: 'id', limit: 2, offset: 2 });
  const p3 = await dbg.request({ op: 'actors', kind: 'connection', sort: 'id', limit: 2, offset: 4 });
  assert.is(p1.total, 5);
  const ids = [...p1.items, ...p2.items, ...p3.items].map((i: Msg) => i.id);
  assert.equal(ids, clients.map((c) => c.session), 'pages in id order, no overlap, nothing missing');
  const busiest = await dbg.request({ op: 'actors', kind: 'connection', sort: 'handled', limit: 1 });
  assert.is(busiest.items[0].user, 'u3');
  const quietest = await dbg.request({ op: 'actors', kind: 'connection', sort: 'handled', order: 'asc', limit: 1 });
  assert.is.not(quietest.items[0].user, 'u3');
  const big = await dbg.request({ op: 'actors', room: 'big' });
  assert.equal(big.items.map((i: Msg) => i.user), ['u5']);
  const q = await dbg.request({ op: 'actors', q: 'U4' });
  assert.equal(q.items.map((i: Msg) => i.user), ['u4'], 'q matches user names without case');
  const nobody = await dbg.request({ op: 'actors', room: 'nowhere' });
  assert.equal({ total: nobody.total, items: nobody.items }, { total: 0, items: [] });
  const top = await dbg.request({ op: 'top', limit: 3 });
  assert.is(top.items[0].id, 'supervisor', 'every op passes through the supervisor');
  assert.ok(top.items.some((i: Msg) => i.user === 'u3'));

  const bad = await dbg.request({ op: 'actors', sort: 'shoe-size' });
  assert.equal({ type: bad.type, code: bad.code }, { type: 'error', code: 'bad_request' });
  const unknown = await dbg.request({ op: 'reboot' });
  assert.is(unknown.code, 'unknown_op');
  const missing = await dbg.request({ op: 'actor' });
  assert.is(missing.code, 'bad_request');
  dbg.ws.send('{not json');
  const badJson = await dbg.next((m) => m.code === 'bad_json', 'the bad_json error');
  assert.is(badJson.type, 'error');
  const still = await dbg.request({ op: 'stats' });
  assert.is(still.type, 'stats', 'the socket is still open');
  dbg.close();
  for (const c of clients) await c.close();
});

Truth('the inspector page is served at /inspect', async () => {
  const res = await fetch(`http://127.0.0.1:${broker.port}/inspect`);
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/html/);
  assert.match(await res.text(), /hubbub inspector/i);
});

Truth.run();
