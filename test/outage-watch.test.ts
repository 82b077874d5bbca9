// OutageWatch against a scripted broker: one `down` per outage whatever fails
// meanwhile (retries refused, a drop during the rejoins), one `roomBack` per
// room with the missed messages counted from the rejoin's `joined`, a gap
// told as such, a refused rejoin not waited for; and the close-code words.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backWords, closeDetail, closeWords, createClient, OutageWatch, type HubbubClient } from '../src/client/index.js';
import { nextEvent, within } from './helpers/client-waits.js';
import { FakeBroker, type FakeConnection } from './helpers/fake-broker.js';

const FAST = { backoff: { initialMs: 20, maxMs: 100 } };
const test = suite('outage watch');
let fake: FakeBroker;
test.before.each(async () => {
  fake = await FakeBroker.start();
});
test.after.each(async () => {
  await fake.close();
});

/** What the watch said, in order, as short strings. */
function record(watch: OutageWatch): string[] {
  const said: string[] = [];
  watch.on('down', (d) => said.push(`down ${d.words}`));
  watch.on('roomBack', (r) => said.push(`${r.room} ${r.caughtUp}${r.gap ? ' gap' : ''}`));
  watch.on('back', (b) => said.push(`back ${b.caughtUp}${b.gap ? ' gap' : ''}`));
  return said;
}

async function joinOp(c: FakeConnection, room: string): Promise<{ id: number; since?: number }> {
  return (await c.nextOp((op) => op.op === 'join' && op.room === room, 5000, `join ${room}`)) as { id: number; since?: number };
}

/** A client in lobby (seen up to seq 5) and side (nothing seen), on its first connection. */
async function inTwoRooms(): Promise<{ client: HubbubClient; c1: FakeConnection }> {
  const client = createClient(fake.url, { name: 'alice', ...FAST, rooms: new Map([['lobby', 5], ['side', null]]) });
  const c1 = await fake.nextConnection();
  const settled = nextEvent(client, 'joined', (j) => j.room === 'side');
  c1.welcome();
  c1.send({ type: 'joined', room: 'lobby', users: ['alice'], count: 1, recovered: true, seq: 5 });
  c1.send({ type: 'joined', room: 'side', users: ['alice'], count: 1 });
  await within(settled, 5000, 'the first joins answered');
  return { client, c1 };
}

test('one down for an outage with a refused retry and a drop during the rejoins; caught up counted per room', async () => {
  const { client, c1 } = await inTwoRooms();
  const said = record(new OutageWatch(client));
  try {
    assert.equal(said, [], 'the first connection is no outage');
    c1.ws.close(1001, 'server shutting down');
    (await fake.nextConnection()).ws.terminate(); // a retry that fails before any welcome
    const c3 = await fake.nextConnection();
    c3.welcome();
    assert.is((await joinOp(c3, 'lobby')).since, 5);
    const replayed = nextEvent(client, 'message', (m) => m.seq === 8);
    c3.send({ type: 'joined', room: 'lobby', users: ['alice'], count: 1, recovered: true, seq: 8 });
    for (const seq of [6, 7, 8]) c3.send({ type: 'message', room: 'lobby', from: 'bob', text: `missed ${seq}`, ts: 1000 + seq, seq });
    await replayed;
    c3.ws.terminate(); // dropped again before side was rejoined: the same outage
    const c4 = await fake.nextConnection();
    c4.welcome();
    await joinOp(c4, 'side');
    const back = nextEvent(client, 'joined', (j) => j.room === 'side');
    c4.send({ type: 'joined', room: 'side', users: ['alice'], count: 1 });
    await back;
    assert.equal(said, ['down the server restarted', 'lobby 3', 'side 0', 'back 3']);
    // A second outage is told again.
    c4.ws.terminate();
    const c5 = await fake.nextConnection();
    c5.welcome();
    for (const room of ['lobby', 'side']) {
      await joinOp(c5, room);
      c5.send({ type: 'joined', room, users: ['alice'], count: 1, recovered: true, seq: room === 'lobby' ? 8 : 0 });
    }
    await nextEvent(client, 'joined', (j) => j.room === 'side');
    assert.equal(said.slice(4), ['down connection lost', 'lobby 0', 'side 0', 'back 0']);
  } finally {
    client.close();
  }
});

test('a gap (not recovered, messages in the room) is told; a refused rejoin is not waited for', async () => {
  const { client, c1 } = await inTwoRooms();
  const said = record(new OutageWatch(client));
  try {
    c1.ws.terminate();
    const c2 = await fake.nextConnection();
    c2.welcome();
    await joinOp(c2, 'lobby');
    c2.send({ type: 'joined', room: 'lobby', users: ['alice'], count: 1, recovered: false, seq: 40 });
    const side = await joinOp(c2, 'side');
    const refused = nextEvent(client, 'error');
    c2.send({ type: 'error', code: 'forbidden', message: 'no', ref: side.id });
    await refused;
    assert.equal(said, ['down connection lost', 'lobby 0 gap', 'back 0 gap']);
  } finally {
    client.close();
  }
});

test('words for people: close codes and the back-online line', () => {
  assert.is(closeWords(1001), 'the server restarted');
  assert.is(closeWords(1006), 'connection lost');
  assert.is(closeWords(1013), 'too many messages, slow down');
  assert.is(closeWords(4999), 'connection lost', 'a code with no words of its own');
  assert.is(closeDetail(1001, 'server shutting down'), 'close code 1001: server shutting down');
  assert.is(closeDetail(1006, ''), 'close code 1006');
  assert.is(backWords(0, false), 'back online');
  assert.is(backWords(1, false), 'back online, 1 message caught up');
  assert.is(backWords(3, false), 'back online, 3 messages caught up');
  assert.match(backWords(0, true), /may be missing/);
});

test.run();
