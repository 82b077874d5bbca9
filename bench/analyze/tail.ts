// Takes a light-load latency tail apart: the many-rooms load (10k connections
// in rooms of 10, each member sending every 10 s) on one server with
// tail-probe.ts preloaded, then where each stamped message's time went inside
// the server, and what the slowest 1% overlapped (a GC, a timer callback).
//
//   node dist/bench/analyze/tail.js [--system hubbub] [--conns 10000] [--window-ms 8000] [--warm-ms 1000]
//        [--cli other-build/dist/src/cli.js] [--node-flags="--max-semi-space-size=1"] [--out trace.json] [-- serve flags...]
//
// Prints one line of end-to-end figures (the generator's, as the bench reports
// them) and the server's side:
//   send->write  a stamp's age when the server wrote it to a member's socket
//   send->read   its age when the server raised the client's frame
//   read->write  the server's own part (parse, fan-out, the slice's flush)
//   gc, slices (setImmediate callbacks), timers (setInterval callbacks by period), pings
//   the top 1% of send->write: how many overlapped a GC or a timer callback
// The figures are the server's; the machine's other load shows as send->read
// (the server not running when the frame came) and in the end-to-end tail.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Fleet } from '../loadgen/fleet.js';
import { latencyOf, measure, sleep } from '../scenarios/common.js';
import { startServer, type SystemId } from '../systems.js';

const dash = process.argv.indexOf('--');
const serveFlags = dash < 0 ? [] : process.argv.slice(dash + 1);
const { values } = parseArgs({
  args: process.argv.slice(2, dash < 0 ? undefined : dash),
  options: {
    system: { type: 'string', default: 'hubbub' },
    conns: { type: 'string', default: '10000' },
    'window-ms': { type: 'string', default: '8000' },
    'warm-ms': { type: 'string', default: '1000' },
    cli: { type: 'string' },
    'node-flags': { type: 'string', default: '' },
    out: { type: 'string', default: join(tmpdir(), `tail-${process.pid}.json`) },
  },
});
const system = values.system as SystemId;
const conns = Number(values.conns);
const ROOM_SIZE = 10;
const PERIOD_S = 10;
const TEXT_BYTES = 48; // as the bench's many-rooms scenario

interface Series {
  t: number[];
  v: number[];
  k: number[];
}
interface Trace {
  reads: Series;
  writes: Series;
  gcs: Series;
  slices: Series;
  timers: Series;
  pings: Series;
  loopDelayMs: { p50: number; p99: number; max: number };
}

function pct(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * q) / 100))];
}

const us = (x: number): string => (Number.isNaN(x) ? '-' : `${Math.round(x)}`);
const dist = (xs: number[]): string => `p50 ${us(pct(xs, 50))} p90 ${us(pct(xs, 90))} p99 ${us(pct(xs, 99))} max ${us(pct(xs, 100))} us`;

async function run(): Promise<Trace> {
  const probe = fileURLToPath(new URL('./tail-probe.js', import.meta.url));
  const nodeArgs = ['--import', probe, ...values['node-flags'].split(' ').filter((f) => f !== '')];
  const server = await startServer(system, { nodeArgs, hubbubCli: values.cli, hubbubArgs: serveFlags });
  const fleet = new Fleet(Math.max(2, Math.ceil(conns / 12_000)));
  try {
    const c = await fleet.connect(`tail ${system}`, {
      group: 'rooms', endpoint: server.endpoint(), count: conns, roomPrefix: 'room-', roomSize: ROOM_SIZE, concurrency: 64, timeoutMs: 30_000,
    });
    if (c.failed > 0) throw new Error(`${c.failed} connections failed: ${c.errors.join('; ')}`);
    const perWorker = conns / fleet.size;
    await fleet.each({ cmd: 'rate', group: 'rooms', senders: perWorker, rate: perWorker / PERIOD_S, textBytes: TEXT_BYTES });
    await sleep(Number(values['warm-ms']));
    const done = new Promise<void>((resolve) => {
      server.proc.on('message', (m: { tailDone?: string }) => {
        if (m?.tailDone !== undefined) resolve();
      });
    });
    server.proc.send({ tail: 'start' });
    const w = await measure(fleet, server, Number(values['window-ms']), 500);
    server.proc.send({ tail: 'stop', path: values.out });
    await done;
    const lat = latencyOf(w, 'rooms');
    console.log(`${system}: end to end p50 ${lat.p50} p99 ${lat.p99} max ${lat.max} ms (${lat.samples} samples), server CPU ${w.serverCpu}%, generator ${w.genCpu}%`);
    return JSON.parse(readFileSync(values.out, 'utf8')) as Trace;
  } finally {
    await fleet.dispose();
    await server.stop();
  }
}

function analyze(tr: Trace): void {
  const { reads, writes, gcs, slices, timers, pings } = tr;
  const span = (Math.max(...writes.t) - Math.min(...writes.t)) / 1e6;
  const readAt = new Map<number, number>(); // send stamp -> when the server raised the frame
  for (let i = 0; i < reads.t.length; i++) {
    const stamp = Math.round(reads.t[i] - reads.v[i]);
    if (!readAt.has(stamp)) readAt.set(stamp, reads.t[i]);
  }
  const toRead: number[] = [];
  const inServer: number[] = [];
  for (let i = 0; i < writes.t.length; i++) {
    const r = readAt.get(Math.round(writes.t[i] - writes.v[i]));
    if (r === undefined) continue;
    toRead.push(writes.v[i] - (writes.t[i] - r));
    inServer.push(writes.t[i] - r);
  }
  console.log(`  send->write  ${dist(writes.v)} (${writes.t.length} writes over ${span.toFixed(1)} s)`);
  console.log(`  send->read   ${dist(toRead)}`);
  console.log(`  read->write  ${dist(inServer)}`);
  const gcShare = gcs.v.reduce((a, b) => a + b, 0) / (span * 1e4);
  console.log(`  gc           ${(gcs.t.length / span).toFixed(1)}/s, ${dist(gcs.v)}, ${gcShare.toFixed(2)}% of the time`);
  const busy = slices.v.reduce((a, b) => a + b, 0) / (span * 1e4);
  console.log(`  slices       ${(slices.t.length / span).toFixed(0)}/s, ${dist(slices.v)}, ${busy.toFixed(1)}% of the time`);
  const periods = [...new Set(timers.k)].sort((a, b) => a - b);
  for (const p of periods) {
    const d = timers.v.filter((_, i) => timers.k[i] === p);
    console.log(`  timer ${p} ms  ${(d.length / span).toFixed(1)}/s, ${dist(d)}`);
  }
  console.log(`  pings        ${(pings.t.length / span).toFixed(0)}/s; event-loop delay p50 ${tr.loopDelayMs.p50.toFixed(2)} p99 ${tr.loopDelayMs.p99.toFixed(2)} max ${tr.loopDelayMs.max.toFixed(2)} ms`);
  // What the slowest 1% of writes overlapped, between their send and their write.
  const stalls = [
    ...gcs.t.map((t, i) => ({ kind: 'gc', from: t, to: t + gcs.v[i] })),
    ...timers.t.map((t, i) => ({ kind: 'timer', from: t, to: t + timers.v[i] })),
  ].sort((a, b) => a.from - b.from);
  const slow = pct(writes.v, 99);
  const counts = new Map<string, number>();
  for (let i = 0; i < writes.t.length; i++) {
    if (writes.v[i] < slow) continue;
    const from = writes.t[i] - writes.v[i];
    const kinds = new Set(stalls.filter((s) => s.to >= from && s.from <= writes.t[i]).map((s) => s.kind));
    const key = [...kinds].sort().join('+') || 'neither';
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  console.log(`  slowest 1% (>= ${us(slow)} us) overlapped: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}`);
}

analyze(await run());
