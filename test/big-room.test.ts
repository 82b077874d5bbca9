// One room of 19,000 members: the broker in a child process, the clients
// spread over two more (each process may hold 20,000 open files at most).
// Joins must stay linear, big-room presence must come as coalesced batches,
// and one message must reach every member.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BIG_ROOM_THRESHOLD, MAX_LISTED_USERS } from '../src/constants.js';
import { spawnBroker, type BrokerProcess } from './helpers/broker.js';
import { CpuSampler } from './helpers/cpu-sampler.js';
import { LoadProcess } from './helpers/load-process.js';
import { soakSize } from './helpers/soak.js';

const TOTAL = soakSize('BIG_ROOM_MEMBERS', 19_000, 4_000);
const ROOM = 'big';
/** Wall time only guards against a hang: a busy neighbour can double it. */
const JOIN_BOUND_MS = Number(process.env.BIG_ROOM_JOIN_BOUND_MS ?? 240_000);
const WAIT_MS = 30_000;

interface Opened {
  joined: number;
  joinedCounts: number[];
  joinedAt: number[];
  usersOk: boolean;
  ms: number;
  errors: string[];
}
interface Presence {
  singles: number[];
  batches: number[];
  sample: { type: string; room: string; event: string; joined: string[]; left: string[]; count: number } | null;
  missing: number;
  errors: string[];
}
interface Bytes {
  joined: number;
  presence: number;
  batch: number;
  message: number;
  other: number;
}
interface Closed {
  closed: number;
  codes: Record<string, number>;
}
interface Delivered {
  bytes: Bytes;
  received: number;
  seqs: number[];
  texts: string[];
  missing: number;
}

const BigRoom = suite<{ broker: BrokerProcess | null; loads: LoadProcess[] }>('big room', { broker: null, loads: [] });

BigRoom.after(async (ctx) => {
  for (const load of ctx.loads) load.kill();
  if (ctx.broker !== null && ctx.broker.child.exitCode === null) ctx.broker.child.kill('SIGKILL');
});

BigRoom(`${TOTAL} members in one room: joins linear, presence batched, one message reaches all`, async (ctx) => {
  // BIG_ROOM_PROFILE=dir writes CPU profiles of the broker and the client processes there.
  const profile = process.env.BIG_ROOM_PROFILE;
  const profArgs = profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profile];
  const broker = await spawnBroker([], 10_000, profArgs);
  ctx.broker = broker;
  const half = Math.ceil(TOTAL / 2);
  const shares = [half, TOTAL - half];
  // No localAddress: 19k stays under the ~28k ephemeral ports, and connect() needs a port to be
  // unique only per (source, destination) pair, so other tests' sockets to other ports do not
  // compete. localAddress means bind() first, which cannot share a port and, with thousands of
  // TIME_WAITs around, scanned the range on every connect (22-28 s in connect here, vs 9-12 s).
  ctx.loads = shares.map((_, k) => new LoadProcess(`clients-${k}`, profArgs));
  const cpu = new CpuSampler(broker.child.pid!);
  const started = Date.now();
  const opened = await Promise.all(ctx.loads.map((load, k) => load.request<Opened>('open', {
    url: broker.wsUrl, count: shares[k], room: ROOM, prefix: `u${k}-`,
    concurrency: 256, total: TOTAL, timeoutMs: JOIN_BOUND_MS,
  }, JOIN_BOUND_MS + 10_000)));
  const joinMs = Date.now() - started;
  console.log(`  ${TOTAL} joins in ${joinMs} ms (per process: ${opened.map((o) => o.ms).join(', ')} ms)`);
  if (cpu.available) console.log(`  broker CPU so far ${cpu.cpuAt(Date.now()).toFixed(0)} ms; errors: ${JSON.stringify(opened.flatMap((o) => o.errors).slice(0, 5))}`);
  assert.equal(opened.map((o) => o.joined), shares, `every client joined within ${JOIN_BOUND_MS} ms`);
  assert.equal(opened.flatMap((o) => o.errors), [], 'no client saw an error or a close');

  // Every join was one step of the room: the counts seen are exactly 1..TOTAL.
  const counts = opened.flatMap((o) => o.joinedCounts).sort((a, b) => a - b);
  assert.is(counts.length, TOTAL);
  assert.ok(counts.every((c, i) => c === i + 1), 'joined.count runs 1..TOTAL with no gap or repeat');
  assert.ok(opened.every((o) => o.usersOk), `joined.users lists min(count, ${MAX_LISTED_USERS}) names`);

  // Linear, not quadratic: the second half of the joins (by count) costs the broker about as
  // much CPU as the first; if each join's cost grew with the room it would cost three times as much.
  const byCount = new Float64Array(TOTAL + 1);
  opened.forEach((o) => o.joinedCounts.forEach((c, i) => { byCount[c] = o.joinedAt[i]; }));
  const mid = Math.floor(TOTAL / 2);
  const wallHalves = [byCount[mid] - started, byCount[TOTAL] - byCount[mid]];
  // The broker's CPU where /proc has it; otherwise the wall time of the same halves, said aloud.
  // Either way a ratio of the two halves of one storm, never an absolute figure.
  let halves = wallHalves;
  let measure = 'wall time (no /proc for the broker\'s CPU)';
  if (cpu.available) {
    halves = [cpu.cpuAt(byCount[mid]) - cpu.cpuAt(started), cpu.cpuAt(byCount[TOTAL]) - cpu.cpuAt(byCount[mid])];
    measure = 'broker CPU';
  }
  console.log(`  joins judged by ${measure}: halves ${halves.map((x) => x.toFixed(0)).join(' + ')} ms; wall halves ${wallHalves.join(' + ')} ms`);
  assert.ok(halves[1] < 2.2 * Math.max(halves[0], 1000), `second half of the joins cost ${halves[1].toFixed(0)} ms of ${measure} vs ${halves[0].toFixed(0)} for the first: superlinear`);

  // Presence: every client ends with a batch that has the final count.
  const presence = await Promise.all(ctx.loads.map((load) => load.request<Presence>('presence', { timeoutMs: WAIT_MS }, WAIT_MS + 5000)));
  assert.equal(presence.map((p) => p.missing), [0, 0], `every member got a batch with count ${TOTAL}`);
  const sample = presence[0].sample;
  assert.ok(sample !== null);
  assert.is(sample.type, 'presence');
  assert.is(sample.room, ROOM);
  assert.ok(Array.isArray(sample.joined) && sample.joined.length <= MAX_LISTED_USERS);
  assert.ok(Array.isArray(sample.left));
  // A member whose join made the room `count` big got at most one single presence per later
  // join while the room was small (fewer: joins that came together were one batch), and
  // nothing single after that.
  const singles = presence.flatMap((p) => p.singles);
  const joinedAt = opened.flatMap((o) => o.joinedCounts);
  const wrong = singles.map((n, i) => [n, Math.max(0, BIG_ROOM_THRESHOLD - joinedAt[i])]).filter(([n, most]) => n > most);
  assert.is(wrong.length, 0, `single presence only while the room had <= ${BIG_ROOM_THRESHOLD} members (first mismatches: ${JSON.stringify(wrong.slice(0, 5))})`);
  // Batches: at most one per second (plus the edges), never one per join.
  const maxBatches = Math.max(...presence.flatMap((p) => p.batches));
  const allowed = Math.ceil((Date.now() - started) / 1000) + 2;
  console.log(`  presence: at most ${maxBatches} batches per member (bound ${allowed})`);
  assert.ok(maxBatches <= allowed, `at most ${allowed} batches per member, got ${maxBatches}`);

  // One message reaches every member, with the room's first seq.
  const delivered = Promise.all(ctx.loads.map((load) => load.request<Delivered>('message', { timeoutMs: WAIT_MS }, WAIT_MS + 5000)));
  const sentAt = Date.now();
  await ctx.loads[0].request('send', { index: 0, room: ROOM, text: 'hello, everyone' }, 5000);
  const got = await delivered;
  console.log(`  one message to ${TOTAL} members in ${Date.now() - sentAt} ms`);
  assert.equal(got.map((g) => g.missing), [0, 0], 'every member got the message');
  assert.equal(got.map((g) => g.seqs), [[1], [1]]);
  assert.equal(got.map((g) => g.texts), [['hello, everyone'], ['hello, everyone']]);

  // The broker closes first (1001 to all): the closing side keeps the TIME_WAITs, so the
  // clients' ephemeral ports are free again for the next run.
  const closed = Promise.all(ctx.loads.map((load) => load.request<Closed>('closed', { timeoutMs: WAIT_MS }, WAIT_MS + 5000)));
  const cpuBeforeClose = cpu.cpuAt(Date.now());
  const closeStarted = Date.now();
  broker.child.kill('SIGTERM');
  const closes = await closed;
  assert.is(await broker.exited, 0);
  cpu.stop();
  // 1001 for every client the broker closed within its shutdown timeout (10 s); the rest it
  // terminates (1006). All of them in a quiet run; a busy machine leaves thousands to terminate.
  const politely = closes.reduce((n, c) => n + (c.codes[1001] ?? 0), 0);
  const others = closes.flatMap((c) => Object.keys(c.codes).filter((code) => code !== '1001' && code !== '1006'));
  console.log(`  shutdown: ${politely} of ${TOTAL} closed with 1001 in ${Date.now() - closeStarted} ms (broker CPU ${(cpu.cpuAt(Date.now()) - cpuBeforeClose).toFixed(0)} ms)`);
  assert.equal(closes.map((c) => c.closed), shares, 'every client was closed');
  assert.equal(others, [], 'closed with 1001, or 1006 when terminated after the shutdown timeout');
  assert.ok(politely > 0, 'the shutdown closed clients with 1001');
  const bytes = got.map((g) => g.bytes);
  const mb = (k: keyof Bytes): string => (bytes.reduce((n, b) => n + b[k], 0) / 1e6).toFixed(0);
  console.log(`  received: joined ${mb('joined')} MB, presence batches ${mb('batch')} MB, single presence ${mb('presence')} MB`);
  await Promise.all(ctx.loads.map((load) => load.request('exit', {}, 10_000)));
  await Promise.all(ctx.loads.map((load) => load.exited(10_000)));
});

BigRoom.run();
