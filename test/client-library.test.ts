// The client library against a real broker: ops settle on their own answers
// (by id, even when answers overtake each other), refusals carry the broker's
// code, events are typed, and the package exports it as hubbub/client.
import { existsSync, readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Broker } from '../src/broker.js';
import { connect, HubbubClientError, type HubbubClient } from '../src/client/index.js';
import { createLogger } from '../src/log.js';
import { nextEvent, refusal } from './helpers/client-waits.js';

const test = suite('client library');
let broker: Broker;
let alice: HubbubClient;
let bob: HubbubClient;

test.before(async () => {
  broker = await Broker.start({ port: 0, host: '127.0.0.1', logger: createLogger('silent') });
  alice = await connect(broker.url, { name: 'alice' });
  bob = await connect(broker.url, { name: 'bob' });
});

test.after(async () => {
  alice?.close();
  bob?.close();
  await broker?.close();
});


test('connect resolves after the welcome with the name given', () => {
  assert.is(alice.user, 'alice');
  assert.is(alice.state, 'open');
  assert.ok(alice.session.length > 0);
});

test('join resolves with the member list; presence reaches the others', async () => {
  const joinedA = await alice.join('lobby');
  const { id, ...rest } = joinedA;
  assert.equal(rest, { type: 'joined', room: 'lobby', users: ['alice'], count: 1, seq: 0 });
  assert.ok(id !== undefined, 'the broker echoes the join op id');
  const presence = nextEvent(alice, 'presence', (p) => p.room === 'lobby');
  const joinedB = await bob.join('lobby');
  assert.is(joinedB.count, 2);
  assert.equal(await presence, { type: 'presence', room: 'lobby', user: 'bob', event: 'join' });
});

test('send resolves on its ack with the message seq; the others get the message', async () => {
  const got = nextEvent(bob, 'message', (m) => m.text === 'hello');
  const ack1 = await alice.send('lobby', 'hello');
  const ack2 = await alice.send('lobby', 'again');
  assert.is(ack1.type, 'ack');
  assert.is(ack2.seq, ack1.seq! + 1);
  const m = await got;
  assert.is(m.from, 'alice');
  assert.is(m.seq, ack1.seq);
  assert.is(alice.lastSeq('lobby'), ack2.seq);
});

test('concurrent ops of every kind each settle with their own answer', async () => {
  // The broker answers ping itself and room ops through the supervisor, so answers may come in any order.
  const [ack, rtt, who, refused, ack2] = await Promise.allSettled([
    alice.send('lobby', 'one'), alice.ping(), alice.who('lobby'), alice.send('not-mine', 'x'), alice.send('lobby', 'two'),
  ]);
  assert.ok(ack.status === 'fulfilled' && ack2.status === 'fulfilled' && rtt.status === 'fulfilled' && who.status === 'fulfilled');
  assert.is(ack2.value.seq, ack.value.seq! + 1);
  assert.type(rtt.value, 'number');
  assert.is(who.value.room, 'lobby');
  assert.ok(refused.status === 'rejected' && (refused.reason as HubbubClientError).code === 'not_in_room');
});

test('dm resolves on its ack and arrives as a dm event', async () => {
  const got = nextEvent(bob, 'dm');
  await alice.dm('bob', 'psst');
  assert.equal({ ...(await got), ts: 0 }, { type: 'dm', from: 'alice', to: 'bob', text: 'psst', ts: 0 });
});

test('refusals reject with the broker code and the op id, and nothing else is affected', async () => {
  const e1 = await refusal(alice.send('nowhere', 'x'));
  assert.is(e1.code, 'not_in_room');
  assert.type(e1.ref, 'number');
  assert.is((await refusal(alice.dm('nobody', 'x'))).code, 'unknown_user');
  assert.is((await refusal(alice.join(''))).code, 'bad_request');
  assert.not.ok(alice.rooms.includes(''), 'a refused room is not rejoined later');
  assert.is((await refusal(alice.leave('never-joined'))).code, 'not_in_room');
  assert.is((await alice.send('lobby', 'still fine')).type, 'ack');
});

test('who and leave resolve with their answers', async () => {
  const who = await alice.who('lobby');
  assert.equal([...who.users].sort(), ['alice', 'bob']);
  const gone = nextEvent(alice, 'presence', (p) => p.room === 'lobby' && 'user' in p && p.user === 'bob' && p.event === 'leave');
  const left = await bob.leave('lobby');
  assert.equal([left.type, left.room, typeof left.id], ['left', 'lobby', 'number']);
  await gone;
  assert.equal(bob.rooms, []);
  assert.is((await alice.who('lobby')).count, 1);
});

test('after close every op rejects with closed', async () => {
  const carol = await connect(broker.url, { name: 'carol' });
  const closed = nextEvent(carol, 'close');
  carol.close();
  assert.is((await closed).code, 1000);
  assert.is(carol.state, 'closed');
  assert.is((await refusal(carol.send('lobby', 'x'))).code, 'closed');
});

test('connect to a port nobody listens on fails with connect_failed', async () => {
  const dead = await Broker.start({ port: 0, host: '127.0.0.1', logger: createLogger('silent') });
  const url = dead.url;
  await dead.close();
  assert.is((await refusal(connect(url))).code, 'connect_failed');
});

test('the package exports hubbub/client with type declarations', async () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    exports: Record<string, { types: string; browser: string; default: string }>;
  };
  const entry = pkg.exports['./client'];
  for (const file of [entry.types, entry.browser, entry.default]) {
    assert.ok(existsSync(new URL(`../../${file}`, import.meta.url)), `${file} exists`);
  }
  const specifier = 'hubbub/client'; // a variable: resolved by Node at run time, through package.json "exports"
  const mod = (await import(specifier)) as typeof import('../src/client/index.js');
  assert.type(mod.connect, 'function');
  assert.type(mod.createClient, 'function');
  assert.is(mod.HubbubClientError, HubbubClientError, 'the same module as the source import');
});

test.run();
