// The three ways an acknowledged message could be lost or misordered, each
// shown on the code that had it: a local message (Redis away, no seq) that
// made the client forget its last seq and rejoin without `since`; two local
// messages of one sender in one millisecond taken for a replay of each
// other; and an ack delivered before its own message to a sender still
// recovering the room.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ConnectionActor } from '../src/actors/connection-actor.js';
import { connect, type HubbubClient } from '../src/client/index.js';
import { RoomBook } from '../src/client/room-book.js';
import type { ChatMessageEvent } from '../src/client/wire.js';
import { startBroker } from './helpers/broker.js';
import { TestClient, type Frame } from './helpers/client.js';
import { redisBackplane, RedisServer } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

const Book = suite('room book');

const msg = (fields: Partial<ChatMessageEvent>): ChatMessageEvent =>
  ({ type: 'message', room: 'r', from: 'ann', text: 't', ts: 1000, seq: 1, ...fields }) as ChatMessageEvent;
const local = (text: string): ChatMessageEvent => {
  const m = msg({ text }) as Partial<ChatMessageEvent>;
  delete m.seq; // as the broker sends it while its backplane is down: no seq, local:true
  return { ...m, local: true } as unknown as ChatMessageEvent;
};

Book('a local message never moves the last seq', () => {
  const book = new RoomBook();
  const rec = book.add('r', null);
  assert.is(book.seen(msg({ seq: 7 })), false);
  assert.is(rec.lastSeq, 7);
  assert.is(book.seen(local('while Redis was away')), false);
  assert.is(rec.lastSeq, 7, 'the rejoin must resume after 7, not forget it');
});

Book('two local messages of one sender in one millisecond are two messages; a sequenced repeat is a replay', () => {
  const book = new RoomBook();
  book.add('r', null);
  assert.is(book.seen(local('one')), false);
  assert.is(book.seen(local('two')), false, 'same ts, same sender, no seq: not a replay');
  assert.is(book.seen(msg({ seq: 3 })), false);
  assert.is(book.seen(msg({ seq: 3 })), true, 'the same seq, ts and sender again is a replay');
});

Book.run();

const Order = suite('ack after its message');

Order('a sender recovering a room its node is still loading gets its message before its ack', async () => {
  // Node B has no interest in the room until bea joins it: its feed loads while her
  // history is read, and her send, queued behind the join, is stored meanwhile.
  const redis = await RedisServer.start();
  const a = await startBroker({ backplane: redisBackplane(redis.url) });
  const b = await startBroker({ backplane: redisBackplane(redis.url) });
  try {
    const ann = await TestClient.connect(a.wsUrl, 'ann');
    for (let round = 0; round < 10; round++) {
      const room = `r${round}`;
      ann.send({ op: 'join', room, id: 'j' });
      await ann.nextOf('joined', { room });
      for (let i = 0; i < 3; i++) {
        ann.send({ op: 'send', room, text: `old ${i}`, id: `o${round}.${i}` });
        await ann.nextOf('ack', { id: `o${round}.${i}` });
      }
      const bea = await TestClient.connect(b.wsUrl, `bea${round}`);
      bea.ws.send(JSON.stringify({ op: 'join', room, since: 1, id: 'j' }));
      bea.ws.send(JSON.stringify({ op: 'send', room, text: `mine ${round}`, id: 's' }));
      const ack = await bea.nextOf('ack', { id: 's' }, 5000);
      const mine = bea.received.findIndex((f: Frame) => f.type === 'message' && f.text === `mine ${round}`);
      assert.ok(mine >= 0 && mine < bea.received.indexOf(ack), `round ${round}: the ack came before its message: ${JSON.stringify(bea.received.map((f) => f.type))}`);
      const seqs = bea.received.filter((f) => f.type === 'message').map((f) => f.seq as number);
      assert.equal(seqs, [2, 3, 4], 'the two she missed, then her own: in seq order, each once');
      await bea.close();
    }
    await ann.close();
  } finally {
    await a.broker.close();
    await b.broker.close();
    await redis.dispose();
  }
});

Order.run();

const Outage = suite('a Redis outage');

Outage('a client that saw local messages rejoins with since and gets what it missed', async () => {
  const redis = await RedisServer.start({ aof: true });
  const tb = await startBroker({ backplane: redisBackplane(redis.url) });
  let ann: HubbubClient | null = null;
  try {
    // A slow first retry, so the test can publish while ann is away.
    ann = await connect(tb.url, { name: 'ann', backoff: { initialMs: 400, jitter: 0 } });
    const got: ChatMessageEvent[] = [];
    ann.on('message', (m) => got.push(m));
    await ann.join('hall');
    const bob = await TestClient.connect(tb.wsUrl, 'bob');
    bob.send({ op: 'join', room: 'hall', id: 'j' });
    await bob.nextOf('joined', { room: 'hall' });
    const say = async (text: string): Promise<Frame> => {
      bob.send({ op: 'send', room: 'hall', text, id: text });
      return bob.nextOf('ack', { id: text });
    };
    assert.is((await say('before')).seq, 1);
    await redis.stop();
    await waitFor(() => !tb.broker.supervisor.backplaneUp, 5000, 'the broker to see Redis go');
    assert.is((await say('local')).stored, false);
    await waitFor(() => got.some((m) => m.text === 'local'), 3000, 'ann to get the local message');
    await redis.resume();
    await waitFor(() => tb.broker.supervisor.backplaneUp, 10_000, 'the broker to see Redis back');
    // Ann's connection drops; while she is away bob says something she must not miss.
    const away = new Promise<void>((resolve) => {
      ann!.on('state', (s) => {
        if (s.state === 'reconnecting') say('while away').then(() => resolve(), () => resolve());
      });
    });
    const actor = tb.broker.supervisor.findUser('ann') as ConnectionActor;
    tb.broker.scheduler.send(actor, { type: 'close', code: 1012, reason: 'restart' }, true);
    await away;
    await waitFor(() => got.some((m) => m.text === 'while away'), 5000, 'ann to get what was said while she was away');
    const texts = got.map((m) => m.text);
    assert.equal(texts, ['before', 'local', 'while away'], 'each once, in order');
    await bob.close();
  } finally {
    ann?.close();
    await tb.broker.close();
    await redis.dispose();
  }
});

Outage.run();

