// RoomFeed without Redis: what reaches the sink, in which order, for the
// orders in which channel traffic and LOAD answers can arrive.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BackplaneSink, Requester } from '../src/backplane/backplane.js';
import { RoomFeed } from '../src/backplane/redis-room-feed.js';

/** A sink that records what it is told, as short strings. */
function recorder(): { sink: BackplaneSink; log: string[] } {
  const log: string[] = [];
  const sink: BackplaneSink = {
    roomMessage: (_room, seq, payload) => log.push(`msg ${seq} ${payload.toString()}`),
    published: (who, _room, seq) => log.push(`ack ${who.id} ${seq}`),
    publishFailed: () => log.push('publish-failed'),
    history: () => log.push('history'),
    historyFailed: () => log.push('history-failed'),
    linkChanged: (up) => log.push(`link ${up}`),
    roomReady: (room) => log.push(`ready ${room}`),
    remotePresence: (_room, user, event) => log.push(`${event} ${user}`),
    claimed: () => log.push('claimed'),
    directMessage: () => log.push('dm'),
    dmResult: () => log.push('dm-result'),
    members: () => log.push('members'),
    roomList: () => log.push('rooms'),
  };
  return { sink, log };
}

const m = (seq: number) => ({ seq, payload: Buffer.from(`m${seq}`) });
const who = (id: string): Requester => ({ actorId: 'c1', id });

const Feed = suite('RoomFeed');

Feed('first load: traffic up to the loaded seq is dropped, the rest follows ready in order', () => {
  const { sink, log } = recorder();
  const feed = new RoomFeed('r', sink);
  const gen = feed.beginLoad();
  feed.message(4, Buffer.from('m4')); // published before LOAD ran: before the join
  feed.presence('bob', 'n2', 'join');
  feed.message(5, Buffer.from('m5'));
  feed.loaded(gen, 4, new Map([['amy', 'n2']]), []);
  assert.equal(log, ['ready r', 'msg 5 m5']);
  assert.equal([...feed.roster.keys()].sort(), ['amy', 'bob'], 'snapshot plus the events kept meanwhile');
  feed.message(6, Buffer.from('m6'));
  feed.message(6, Buffer.from('m6'));
  assert.equal(log.slice(2), ['msg 6 m6'], 'a seq seen already is dropped');
});

Feed('a gap starts a reload; stored and live messages merge in seq order without duplicates', () => {
  const { sink, log } = recorder();
  const feed = new RoomFeed('r', sink);
  let reloads = 0;
  feed.onGap = () => reloads++;
  feed.loaded(feed.beginLoad(), 10, new Map(), []);
  log.length = 0;
  feed.message(13, Buffer.from('m13'));
  assert.is(reloads, 1);
  assert.is(feed.state, 'reloading');
  feed.message(14, Buffer.from('m14'));
  const gen = feed.beginLoad();
  feed.loaded(gen, 14, new Map(), [m(11), m(12), m(13), m(14)]);
  assert.equal(log, ['msg 11 m11', 'msg 12 m12', 'msg 13 m13', 'msg 14 m14']);
  assert.is(feed.last, 14);
});

Feed('an ack waits for its message; a stale LOAD answer is ignored', () => {
  const { sink, log } = recorder();
  const feed = new RoomFeed('r', sink);
  const first = feed.beginLoad();
  const second = feed.beginLoad();
  feed.loaded(first, 99, new Map(), []);
  assert.equal(log, [], 'only the latest LOAD counts');
  feed.loaded(second, 2, new Map(), []);
  log.length = 0;
  feed.acked(3, who('a'));
  assert.equal(log, [], 'seq 3 not delivered yet');
  feed.message(3, Buffer.from('m3'));
  assert.equal(log, ['msg 3 m3', 'ack a 3']);
  feed.acked(3, who('b'));
  assert.equal(log.slice(2), ['ack b 3'], 'delivered already: at once');
});

Feed('link down: a loading room is ready at once, waiting acks go out; the reload after tells presence changes', () => {
  const { sink, log } = recorder();
  const feed = new RoomFeed('r', sink);
  feed.loaded(feed.beginLoad(), 5, new Map([['amy', 'n2']]), []);
  feed.acked(7, who('x'));
  log.length = 0;
  feed.linkDown();
  assert.equal(log, ['ack x 7'], 'stored already; its echo waits for Redis');
  feed.acked(8, who('y'));
  assert.equal(log.slice(1), ['ack y 8']);
  log.length = 0;
  // Redis is back: amy left meanwhile, cy came; 6..8 were stored by others.
  feed.loaded(feed.beginLoad(), 8, new Map([['cy', 'n3']]), [m(6), m(7), m(8)]);
  assert.equal(log, ['leave amy', 'join cy', 'msg 6 m6', 'msg 7 m7', 'msg 8 m8']);

  const { sink: sink2, log: log2 } = recorder();
  const fresh = new RoomFeed('q', sink2);
  fresh.beginLoad();
  fresh.linkDown();
  assert.equal(log2, ['ready q'], 'a join while Redis is away is answered');
  fresh.loaded(fresh.beginLoad(), 41, new Map(), [m(40), m(41)]);
  assert.is(fresh.last, 41, 'a room never loaded starts after the seq found');
  assert.equal(log2, ['ready q'], 'nothing from before the join');
});

Feed('interest ended before the room was ready: ready is still sent once, and waiters run', () => {
  const { sink, log } = recorder();
  const feed = new RoomFeed('r', sink);
  feed.beginLoad();
  let ran = false;
  feed.whenReady(() => { ran = true; });
  feed.drop();
  assert.equal(log, ['ready r']);
  assert.ok(ran);
  feed.drop();
  assert.equal(log, ['ready r'], 'once');
});

Feed.run();
