import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RoomHistory } from '../src/backplane/room-history.js';

const test = suite('RoomHistory');
const seqs = (r: { messages: { seq: number }[] }) => r.messages.map((m) => m.seq);
const fill = (h: RoomHistory, n: number) => {
  for (let i = 0; i < n; i++) h.append((seq) => Buffer.from(`m${seq}`));
};

test('assigns seq 1, 2, 3... and keeps the payload built for it', () => {
  const h = new RoomHistory(10);
  fill(h, 3);
  assert.is(h.seq, 3);
  assert.equal(h.latest(10).messages.map((m) => m.payload.toString()), ['m1', 'm2', 'm3']);
});

test('since: what came after, recovered while the history covers it', () => {
  const h = new RoomHistory(5);
  fill(h, 12); // keeps 8..12
  assert.is(h.oldest, 8);
  assert.equal(seqs(h.since(9)), [10, 11, 12]);
  assert.ok(h.since(9).recovered);
  assert.ok(h.since(7).recovered, 'since = oldest - 1 misses nothing');
  assert.equal(seqs(h.since(7)), [8, 9, 10, 11, 12]);
  assert.not.ok(h.since(6).recovered, 'seq 7 is gone');
  assert.equal(seqs(h.since(6)), [8, 9, 10, 11, 12]);
  assert.equal(seqs(h.since(12)), []);
  assert.ok(h.since(12).recovered);
  assert.not.ok(h.since(13).recovered, 'a seq from the future (another incarnation) cannot be trusted');
});

test('latest: at most limit, oldest first, across wrap-around', () => {
  const h = new RoomHistory(4);
  fill(h, 9);
  assert.equal(seqs(h.latest(2)), [8, 9]);
  assert.equal(seqs(h.latest(100)), [6, 7, 8, 9]);
});

test('an empty history recovers from 0 and from nothing else', () => {
  const h = new RoomHistory(4);
  assert.ok(h.since(0).recovered);
  assert.equal(seqs(h.since(0)), []);
  assert.not.ok(h.since(3).recovered);
});

test('capacity 0 keeps nothing but still counts', () => {
  const h = new RoomHistory(0);
  fill(h, 3);
  assert.is(h.seq, 3);
  assert.equal(seqs(h.latest(5)), []);
  assert.not.ok(h.since(1).recovered);
});

test.run();
