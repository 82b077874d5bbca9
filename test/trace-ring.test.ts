// TraceRing: one bounded ring for every actor's recent messages.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Actor, type ActorKind } from '../src/actors/actor.js';
import { TraceRing, summarizeFrame } from '../src/debug/trace-ring.js';

class Probe extends Actor<unknown> {
  readonly kind: ActorKind = 'system';
  handle(): void {}
}

/** Actors keep times relative to a start (Smi timestamps), so tests use real ones. */
const T0 = Date.now();

function at(actor: Probe, time: number): Probe {
  actor.lastRunAt = T0 + time;
  return actor;
}

const Ring = suite('TraceRing');

Ring('returns one actor\'s records oldest first, up to the limit, with their times', () => {
  const ring = new TraceRing(16);
  const a = new Probe('a');
  const b = new Probe('b');
  ring.record(at(a, 1000), Buffer.from('{"op":"join","room":"lobby"}'));
  ring.record(at(b, 1001), { type: 'registered', user: 'bob' });
  ring.record(at(a, 1002), { type: 'close', code: 4000, reason: 'kicked' });
  ring.record(at(a, 1003), Buffer.from('{"op":"send","room":"lobby","text":"hi","id":3}'));
  assert.equal(ring.recent('a', 10), [
    { at: T0 + 1000, type: 'frame', length: 28, op: 'join', room: 'lobby' },
    { at: T0 + 1002, type: 'close', code: 4000, reason: 'kicked' },
    { at: T0 + 1003, type: 'frame', length: 47, op: 'send', room: 'lobby', id: 3, text: 'hi' },
  ]);
  assert.equal(ring.recent('a', 2).map((e) => e.at - T0), [1002, 1003], 'the limit keeps the newest');
  assert.equal(ring.recent('b', 10), [{ at: T0 + 1001, type: 'registered', user: 'bob' }]);
  assert.equal(ring.recent('nobody', 10), []);
});

Ring('wraps around: it holds the last `capacity` records and says since when', () => {
  const ring = new TraceRing(4);
  const a = new Probe('a');
  const b = new Probe('b');
  for (let i = 0; i < 6; i++) ring.record(at(i < 2 ? b : a, 100 + i), { type: 'tick' });
  assert.is(ring.size, 4);
  assert.is(ring.total, 6);
  assert.is(ring.since, T0 + 102);
  assert.equal(ring.recent('b', 10), [], 'b\'s records were overwritten');
  assert.equal(ring.recent('a', 10).map((e) => e.at - T0), [102, 103, 104, 105]);
  assert.equal(ring.last(), { at: T0 + 105, type: 'tick' });
});

Ring('keeps supervisor messages as op, target and actor id, never the objects', () => {
  const ring = new TraceRing(8);
  const sup = new Probe('supervisor');
  const from = new Probe('c7');
  ring.record(at(sup, 5), { type: 'op', from, op: { op: 'send', room: 'lobby', text: 'x'.repeat(1000) } });
  ring.record(at(sup, 6), { type: 'op', from, op: { op: 'dm', to: 'alice', text: 'psst' } });
  ring.record(at(sup, 7), { type: 'unregister', actor: from });
  ring.record(at(sup, 8), { type: 'room-message', room: 'lobby', seq: 41, payload: Buffer.alloc(10) });
  ring.record(at(sup, 9), { type: 'published', who: { actorId: 'c7', id: 1 }, room: 'lobby', seq: 42 });
  assert.equal(ring.recent('supervisor', 10), [
    { at: T0 + 5, type: 'op', actor: 'c7', op: 'send', target: 'lobby' },
    { at: T0 + 6, type: 'op', actor: 'c7', op: 'dm', target: 'alice' },
    { at: T0 + 7, type: 'unregister', actor: 'c7' },
    { at: T0 + 8, type: 'room-message', room: 'lobby', seq: 41 },
    { at: T0 + 9, type: 'published', actor: 'c7', room: 'lobby', seq: 42 },
  ]);
});

Ring('a long frame keeps only its head, and says how long it was', () => {
  const ring = new TraceRing(2);
  const a = new Probe('a');
  const long = `{"op":"send","room":"r","text":"${'y'.repeat(60_000)}"}`;
  ring.record(at(a, 1), Buffer.from(long));
  const [ev] = ring.recent('a', 1);
  assert.is(ev.length, long.length);
  assert.is(ev.op, undefined, 'a cut frame is not parsed');
  assert.ok((ev.text as string).length <= 81, 'shown as a short head');
  assert.ok((ev.text as string).startsWith('{"op":"send"'));
});

Ring('top ranks actors by their records in the ring', () => {
  const ring = new TraceRing(100);
  const a = new Probe('a');
  const b = new Probe('b');
  for (let i = 0; i < 5; i++) ring.record(a, Buffer.from('x'));
  for (let i = 0; i < 9; i++) ring.record(b, Buffer.from('x'));
  assert.equal(ring.top(5), [{ id: 'b', recent: 9 }, { id: 'a', recent: 5 }]);
  assert.equal(ring.top(1), [{ id: 'b', recent: 9 }]);
});

Ring('summarizeFrame shows what is not JSON as text', () => {
  assert.equal(summarizeFrame('hello', 5), { length: 5, text: 'hello' });
  assert.equal(summarizeFrame('[1,2]', 5), { length: 5, text: '[1,2]' });
});

Ring.run();
