// Leaks: 10k connections destroyed abruptly (TCP reset, no close frame),
// twice. The actor count returns to the supervisor alone, every registry entry
// (sessions, users, rooms) is gone, and the broker's heap after GC is back
// within 10% of its baseline. The broker runs in a child process (--expose-gc,
// stats over IPC); the clients are here. Half-open peers, which stop answering
// pings without closing, are dropped within the heartbeat timeout (two turns of
// the wheel: see heartbeat.ts; counted in the wheel's visits, not in ms) and
// leave nothing behind either.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnBrokerChild, waitForStats, type BrokerChild } from './helpers/broker-child.js';
import { joinMany, rawSocketOf, resetAll } from './helpers/many-clients.js';
import { soakSize } from './helpers/soak.js';
import { once } from './helpers/wait.js';
import { turnsBeforeDrop, visitsUntil } from './helpers/heartbeat-turns.js';

const N = soakSize('HUBBUB_LEAK_CONNECTIONS', 10_000, 2_000);
const ROUNDS = 2;
/** Ten members per room: presence stays small (a 10k-member room would be a presence test). */
const ROOMS = N / 10;
const HEAP_SLACK = 0.1;
// Below soak size a quarter-round warm-up does not reach the high-water marks (buffers, tables) a full round leaves.
const WARM_UP = Math.max(ROOMS, N >= 10_000 ? N / 4 : N);

const Leaks = suite<{ b: BrokerChild | null }>('leaks', { b: null });

Leaks.after.each(async (ctx) => {
  await ctx.b?.stop();
  ctx.b = null;
});

const empty = (s: { connections: number; liveActors: number; sessions: number; users: number; rooms: number }): boolean =>
  s.connections === 0 && s.liveActors === 1 && s.sessions === 0 && s.users === 0 && s.rooms === 0;

Leaks(`${N} connections reset twice: actors, registry and heap come back`, async (ctx) => {
  const b = (ctx.b = await spawnBrokerChild({ rateLimit: 0, heartbeatIntervalMs: 60_000 }));
  const cold = await b.stats(true);
  // Warm-up: a quarter round through every code path and every room, so that
  // the baseline holds what a running broker keeps anyway: code V8 optimizes
  // only under load (most of the growth from a cold start, measured with heap
  // snapshots), lazily built modules, and the backplane's per-room history,
  // which outlives its room on purpose (HISTORY_RETENTION_MS).
  const warm = await joinMany(b.wsUrl, WARM_UP, (i) => `w${i}`, (i) => `room-${i % ROOMS}`, { timeoutMs: 120_000 });
  resetAll(warm);
  await waitForStats(b, empty, 30_000, 'the warm-up connections to be cleaned up');
  const baseline = await b.stats(true);

  const heaps: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const started = Date.now();
    const clients = await joinMany(b.wsUrl, N, (i) => `r${round}-${i}`, (i) => `room-${i % ROOMS}`, { timeoutMs: 120_000 });
    const full = await b.stats();
    assert.is(full.connections, N);
    assert.is(full.liveActors, N + 1);
    assert.is(full.sessions, N);
    assert.is(full.rooms, ROOMS);
    resetAll(clients);
    const after = await waitForStats(b, empty, 60_000, `round ${round}: every actor and registry entry to go`);
    assert.is(after.liveActors, 1, 'only the supervisor is left');
    heaps.push((await b.stats(true)).heapUsed);
    console.log(`  leaks: round ${round}: ${N} joined and reset in ${Date.now() - started} ms; RSS ${(after.rss / 2 ** 20).toFixed(0)} MiB`);
  }
  const end = await b.stats(true);
  const growth = (end.heapUsed - baseline.heapUsed) / baseline.heapUsed;
  // A leak grows with every round; what a broker keeps once (its high-water marks) does not.
  const perRound = (heaps[ROUNDS - 1] - heaps[0]) / baseline.heapUsed;
  assert.ok(Math.abs(perRound) < 0.03, `the second round left the heap where the first did (${(perRound * 100).toFixed(1)}% of the baseline)`);
  const mib = (n: number): string => (n / 2 ** 20).toFixed(2);
  console.log(`  leaks: heap after GC: cold ${mib(cold.heapUsed)} MiB, after warm-up ${mib(baseline.heapUsed)} MiB, after ${ROUNDS} x ${N} ${mib(end.heapUsed)} MiB (${(growth * 100).toFixed(1)}%; round 2 vs round 1: ${(perRound * 100).toFixed(1)}%)`);
  assert.ok(growth <= HEAP_SLACK, `heap after GC within ${HEAP_SLACK * 100}% of its baseline: ${baseline.heapUsed} -> ${end.heapUsed}`);
});

Leaks('half-open peers that stop answering pings are dropped within two turns of the heartbeat wheel, leaving nothing', async (ctx) => {
  const INTERVAL = 1500;
  const HALF_OPEN = 1000;
  const b = (ctx.b = await spawnBrokerChild({ rateLimit: 0, heartbeatIntervalMs: INTERVAL }));
  const live = await joinMany(b.wsUrl, 100, (i) => `live${i}`, () => 'live');
  // Rooms of their own: a thousand leaves in one shared room would be a presence storm, another test's subject.
  const mute = await joinMany(b.wsUrl, HALF_OPEN, (i) => `mute${i}`, (i) => `mute-${i}`);
  // They stop reading: pings go unanswered, the TCP connection stays up (the kernel still ACKs).
  const pings = new Array<number>(HALF_OPEN).fill(0);
  mute.forEach((ws, i) => ws.on('ping', () => pings[i]++));
  const silentFrom = Date.now();
  for (const ws of mute) rawSocketOf(ws).pause();
  // Read after the pause, so it is no earlier than the silence: the bound below can only get looser.
  const silentAt = (await b.stats()).heartbeatVisits;
  // How soon they went is judged in turns of the broker's wheel, not in ms: a loaded machine makes turns late.
  const { lastBefore, after: s } = await visitsUntil(
    async () => {
      const st = await b.stats();
      return { visits: st.heartbeatVisits, buckets: st.heartbeatBuckets, terminated: st.heartbeatTerminated };
    },
    (r) => r.terminated >= HALF_OPEN, 2 * INTERVAL + 60_000, 'the half-open peers to be dropped', 50,
  );
  const took = Date.now() - silentFrom;
  assert.is(s.terminated, HALF_OPEN, 'exactly the silent ones: the live clients answer pings');
  const turns = turnsBeforeDrop(silentAt, lastBefore, s.buckets);
  // The pings sent to them before the broker let go wait unread in their sockets: read them, then the close.
  const closed = Promise.all(mute.map((ws) => once(ws, 'close', 30_000, 'a dropped peer to see its close')));
  for (const ws of mute) rawSocketOf(ws).resume();
  await closed;
  console.log(`  leaks: ${HALF_OPEN} half-open peers dropped in ${took} ms (interval ${INTERVAL} ms); ` +
    `some still there ${turns.toFixed(2)} turns of the wheel after the silence; at most ${Math.max(...pings)} unanswered pings`);
  assert.ok(turns < 2, `every one dropped within two turns of the wheel (two intervals; one was still there after ${turns.toFixed(2)})`);
  assert.ok(pings.every((n) => n >= 1), 'every one was pinged before it was dropped: dropped for not answering');
  const after = await waitForStats(b, (st) => st.connections === live.length && st.sessions === live.length, 5000, 'the registry to forget them');
  assert.is(after.liveActors, live.length + 1);
  assert.is(after.rooms, 1, 'the rooms only they were in are gone');
  for (const ws of live) ws.terminate();
  await waitForStats(b, empty, 10_000, 'the broker to be empty');
});

Leaks.run();
