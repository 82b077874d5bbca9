// The supervisor driven directly: real scheduler, real memory backplane, peers
// that record what they are given, and slices run by the test. This pins down
// interleavings that real sockets produce only by chance.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ConnectionActor, type ConnectionEnv, type Peer } from '../src/actors/connection-actor.js';
import { RateLimit } from '../src/actors/rate-limit.js';
import { Scheduler } from '../src/actors/scheduler.js';
import { Supervisor } from '../src/actors/supervisor.js';
import { createLogger } from '../src/log.js';
import { MemoryBackplane } from '../src/backplane/memory-backplane.js';
import type { OutFrame } from '../src/protocol/out-frame.js';
import { parseClientOp } from '../src/protocol/protocol.js';
import { waitFor } from './helpers/wait.js';

class RecordingPeer implements Peer {
  readonly events: Record<string, unknown>[] = [];
  closed: { code: number; reason: string } | null = null;
  readonly remote = '127.0.0.1:1';
  deliver(frame: OutFrame): void {
    this.events.push(JSON.parse(frame.payload.toString()) as Record<string, unknown>);
  }
  closeAfterFlush(code: number, reason: string): void {
    this.closed = { code, reason };
  }
  paused = false;
  /** Times reading was paused. */
  pauses = 0;
  pauseReading(): void {
    this.paused = true;
    this.pauses++;
  }
  resumeReading(): void {
    this.paused = false;
  }
  readOp(frame: Buffer) {
    return parseClientOp(frame.toString());
  }
}

async function world(supervisorMailbox?: number) {
  const deferred: (() => void)[] = [];
  const scheduler = new Scheduler({ defer: (fn) => deferred.push(fn) });
  const backplane = new MemoryBackplane({ historySize: 100, historyRetentionMs: 60_000, historyRoomBytes: 1 << 20, historyBudgetBytes: 64 << 20 });
  const supervisor = new Supervisor(scheduler, createLogger('silent'), backplane, { mailboxCapacity: supervisorMailbox });
  await backplane.start(supervisor.sink());
  const env: ConnectionEnv = { scheduler, supervisor, onTransition: null };
  let n = 0;
  const connect = (name: string) => {
    const peer = new RecordingPeer();
    const actor = new ConnectionActor(`c${++n}`, peer, env, name);
    scheduler.send(supervisor, { type: 'register', actor }, true);
    return { actor, peer, op: (o: object) => scheduler.send(actor, Buffer.from(JSON.stringify(o))) };
  };
  /** One deferred callback (a scheduler slice) at a time; false when none is left. */
  const step = (): boolean => {
    const fn = deferred.shift();
    fn?.();
    return fn !== undefined;
  };
  /** Slices until none is left; fails if 1,000 did not drain it (a loop that feeds itself). */
  const run = (): void => {
    for (let i = 0; i < 1000 && step(); i++);
    assert.is(deferred.length, 0, 'the scheduler still had work after 1,000 slices');
  };
  return { scheduler, supervisor, backplane, run, step, connect, close: () => backplane.close() };
}

const seqs = (peer: RecordingPeer) => peer.events.filter((e) => e.type === 'message').map((e) => e.seq);

const test = suite('Supervisor');

test('recovery drops the duplicates of messages both in the history and held back', async () => {
  const w = await world();
  const alice = w.connect('alice');
  const bob = w.connect('bob');
  w.run();
  alice.op({ op: 'join', room: 'r' });
  w.run();
  for (let i = 1; i <= 5; i++) alice.op({ op: 'send', room: 'r', text: `m${i}` });
  w.run();
  // Under load the supervisor's mailbox holds several ops at once. Put alice's sends and
  // bob's join there together: the sends are stored first (seq 6..8) and their fan-outs
  // queued behind the join; the join reads the history (up to 8); the fan-outs then find
  // bob recovering and are held back although the history has them too.
  for (let i = 6; i <= 8; i++) {
    w.scheduler.send(w.supervisor, { type: 'op', from: alice.actor, op: { op: 'send', room: 'r', text: `m${i}` } });
  }
  w.scheduler.send(w.supervisor, { type: 'op', from: bob.actor, op: { op: 'join', room: 'r', since: 3 } });
  w.run();
  const joined = bob.peer.events.find((e) => e.type === 'joined')!;
  assert.is(joined.recovered, true);
  assert.is(joined.seq, 8);
  assert.equal(seqs(bob.peer), [4, 5, 6, 7, 8]);
  alice.op({ op: 'send', room: 'r', text: 'm9' });
  w.run();
  assert.equal(seqs(bob.peer), [4, 5, 6, 7, 8, 9]);
  await w.close();
});

test('a member who leaves while recovering gets nothing more and leaks no recovery', async () => {
  const w = await world();
  const alice = w.connect('alice');
  const bob = w.connect('bob');
  w.run();
  alice.op({ op: 'join', room: 'r' });
  alice.op({ op: 'send', room: 'r', text: 'x' });
  w.run();
  // Both in the supervisor's mailbox at once, as when the history comes from Redis after the
  // leave (bob's own connection hands over one join per turn: its leave would come after the replay).
  w.scheduler.send(w.supervisor, { type: 'op', from: bob.actor, op: { op: 'join', room: 'r', since: 0 } });
  w.scheduler.send(w.supervisor, { type: 'op', from: bob.actor, op: { op: 'leave', room: 'r' } });
  w.run();
  assert.equal(seqs(bob.peer), []);
  assert.ok(bob.peer.events.some((e) => e.type === 'left'));
  assert.is(w.supervisor.room('r')!.live.recovering, 0);
  await w.close();
});

test('acks carry the seq the backplane assigned; dm and who answer in order', async () => {
  const w = await world();
  const alice = w.connect('alice');
  const bob = w.connect('bob');
  w.run();
  alice.op({ op: 'join', room: 'r', id: 'j' });
  alice.op({ op: 'send', room: 'r', text: 'hi', id: 's1' });
  alice.op({ op: 'dm', to: 'bob', text: 'psst', id: 'd1' });
  alice.op({ op: 'who', room: 'r' });
  w.run();
  const types = alice.peer.events.map((e) => e.type);
  assert.equal(types.slice(0, 2), ['welcome', 'joined']);
  assert.ok(alice.peer.events.some((e) => e.type === 'ack' && e.id === 's1' && e.seq === 1));
  assert.ok(alice.peer.events.some((e) => e.type === 'ack' && e.id === 'd1'));
  assert.ok(bob.peer.events.some((e) => e.type === 'dm' && e.from === 'alice' && e.text === 'psst'));
  await w.close();
});

test('joined, left and who echo the id of the op they answer', async () => {
  const w = await world();
  const alice = w.connect('alice');
  w.run();
  alice.op({ op: 'join', room: 'r', id: 'j1' });
  alice.op({ op: 'who', room: 'r', id: 7 });
  alice.op({ op: 'leave', room: 'r', id: 'l1' });
  alice.op({ op: 'join', room: 'q' });
  w.run();
  const by = (type: string) => alice.peer.events.filter((e) => e.type === type).map((e) => e.id);
  assert.equal(by('joined'), ['j1', undefined]);
  assert.equal(by('who'), [7]);
  assert.equal(by('left'), ['l1']);
  await w.close();
});

test("a full supervisor mailbox holds the senders back: every op is served in order, none refused", async () => {
  const w = await world(8);
  const alice = w.connect('alice');
  const bob = w.connect('bob');
  w.run();
  alice.op({ op: 'join', room: 'r' });
  bob.op({ op: 'join', room: 'r' });
  w.run();
  // 40 sends each, far more than the supervisor's 8 slots, all waiting in the connections' mailboxes.
  for (let i = 0; i < 40; i++) {
    alice.op({ op: 'send', room: 'r', text: `a${i}`, id: `a${i}` });
    bob.op({ op: 'send', room: 'r', text: `b${i}`, id: `b${i}` });
  }
  let most = 0;
  while (w.step()) most = Math.max(most, w.supervisor.mailbox.size);
  const errors = [...alice.peer.events, ...bob.peer.events].filter((e) => e.type === 'error');
  assert.equal(errors, [], 'no op refused');
  const texts = (peer: RecordingPeer, from: string) =>
    peer.events.filter((e) => e.type === 'message' && e.from === from).map((e) => e.text);
  const expected = (p: string) => Array.from({ length: 40 }, (_, i) => `${p}${i}`);
  for (const peer of [alice.peer, bob.peer]) {
    assert.equal(texts(peer, 'alice'), expected('a'), 'every one of alice\'s messages, in order');
    assert.equal(texts(peer, 'bob'), expected('b'), 'every one of bob\'s messages, in order');
  }
  assert.ok(most <= 8 + 2 * 2, `past its capacity by at most two messages per waiting connection (was ${most})`);
  assert.ok(alice.peer.pauses > 0 && bob.peer.pauses > 0, 'a held-back connection stops reading its socket');
  assert.not.ok(alice.peer.paused || bob.peer.paused, 'and reads again once served');
  await w.close();
});

test('a client that floods frames before it is welcomed is closed with 1008', async () => {
  const w = await world();
  const peer = new RecordingPeer();
  const env: ConnectionEnv = { scheduler: w.scheduler, supervisor: w.supervisor, onTransition: null };
  const actor = new ConnectionActor('early', peer, env, 'eager', 4); // never registered
  for (let i = 0; i < 4; i++) w.scheduler.send(actor, Buffer.from('{"op":"ping"}'));
  w.run();
  assert.is(peer.closed, null, 'up to a mailbox of frames is held');
  for (let i = 0; i < 4; i++) w.scheduler.send(actor, Buffer.from('{"op":"ping"}'));
  w.run();
  assert.equal(peer.closed, { code: 1008, reason: 'too many frames before the welcome' });
  await w.close();
});

test('joins that change rooms are work: a burst of 40 is spread over several slices, each ending by its work', async () => {
  const w = await world();
  const { actor, peer } = w.connect('joiner');
  w.run();
  for (let i = 0; i < 40; i++) actor.offer(Buffer.from(JSON.stringify({ op: 'join', room: `r${i}` })), false);
  const before = w.scheduler.stats().workYields;
  const joinedAfter: number[] = [];
  while (w.step()) joinedAfter.push(peer.events.filter((e) => e.type === 'joined').length);
  assert.is(joinedAfter.at(-1), 40, 'every join answered');
  // 4 KiB of work each: 16 fill a slice's 64 KiB, so the burst takes at least three slices, not one.
  assert.ok(joinedAfter[0] <= 16, `the first slice joined ${joinedAfter[0]}`);
  assert.ok(w.scheduler.stats().workYields - before >= 2, 'the slices ended by their work');
  await w.close();
});

test('reading stops once the frames waiting hold 256 KiB, though the mailbox has room; it resumes once they are handled', async () => {
  const w = await world();
  const { actor, peer } = w.connect('bulky');
  w.run();
  const frame = Buffer.from(JSON.stringify({ op: 'ping', pad: 'x'.repeat(48 * 1024) }));
  for (let i = 0; i < 5; i++) actor.offer(frame, peer.paused);
  assert.not.ok(peer.paused, '5 x 48 KiB (240 KiB) waiting: still read');
  actor.offer(frame, peer.paused);
  assert.ok(peer.paused, 'the sixth passes 256 KiB: reading stops, with 6 frames of a 1,024-frame mailbox');
  assert.is(actor.mailbox.size, 6);
  w.run();
  assert.is(peer.events.filter((e) => e.type === 'pong').length, 6, 'every frame handled, none dropped');
  assert.not.ok(peer.paused, 'and read again once they are');
  await w.close();
});

test('frames sent before the welcome wait for it, then take the rate limit\'s tokens like any others', async () => {
  const w = await world();
  const clock = { t: 0 };
  const rl = new RateLimit(1000, 5, () => clock.t);
  const peer = new RecordingPeer();
  const actor = new ConnectionActor('early', peer, { scheduler: w.scheduler, supervisor: w.supervisor, onTransition: null, rateLimit: rl }, 'eager');
  for (let i = 0; i < 7; i++) w.scheduler.send(actor, Buffer.from(JSON.stringify({ op: 'ping', id: i })));
  w.run();
  assert.is(peer.events.length, 0, 'parked until registered');
  w.scheduler.send(w.supervisor, { type: 'register', actor }, true);
  w.run();
  const pongs = () => peer.events.filter((e) => e.type === 'pong').map((e) => e.id);
  assert.is(peer.events[0].type, 'welcome');
  assert.equal(pongs(), [0, 1, 2, 3, 4], 'the burst');
  assert.ok(peer.paused, 'no token: the socket is not read meanwhile');
  clock.t += 2; // two tokens; the actor's timer brings them
  await waitFor(() => {
    w.run();
    return pongs().length === 7;
  }, 3000, 'the last two pongs');
  assert.equal(pongs(), [0, 1, 2, 3, 4, 5, 6], 'in order');
  assert.not.ok(peer.paused, 'reading resumes once nothing is held');
  await w.close();
});

test('a member whose delivery throws is stopped alone (1011); the members after it still get every message', async () => {
  const w = await world();
  const members = ['m1', 'm2', 'm3', 'm4'].map((n) => w.connect(n));
  w.run();
  for (const m of members) m.op({ op: 'join', room: 'r' });
  w.run();
  // The second member's socket breaks: its deliver throws from now on.
  const broken = members[1];
  broken.peer.deliver = () => { throw new Error('socket broke'); };
  members[0].op({ op: 'send', room: 'r', text: 'one' });
  members[0].op({ op: 'send', room: 'r', text: 'two' });
  w.run();
  for (const m of [members[0], members[2], members[3]]) assert.equal(seqs(m.peer), [1, 2], `${m.actor.user} got both`);
  assert.equal(broken.peer.closed, { code: 1011, reason: 'internal error' });
  assert.ok(broken.actor.dead);
  assert.is(w.supervisor.handlerErrors, 1, 'counted once: stopped at its first failure');
  // The others heard it leave, and the room goes on without it.
  assert.ok(members[3].peer.events.some((e) => e.type === 'presence' && e.user === 'm2' && e.event === 'leave'));
  members[2].op({ op: 'who', room: 'r' });
  w.run();
  assert.equal((members[2].peer.events.find((e) => e.type === 'who')!.users as string[]).sort(), ['m1', 'm3', 'm4']);
  await w.close();
});

test.run();
