// Takes Hubbub's idle CPU apart: N idle connections (rooms of 10, heartbeats
// on), then, over a window, the broker's CPU per thread (user and system, from
// /proc/<pid>/task/*/stat), its wake-ups (voluntary context switches) and its
// full GCs (V8's memory reducer among them). The bench's idle scenario gives
// the one figure; this says where it goes.
//
//   node dist/bench/analyze/idle-cpu.js [N=19000] [window s=30] [quiet s=20] [-- serve flags...]
//
// Run it alone on the machine. `perf record -g -p <pid>` over the window (the
// pid is printed) adds the kernel's share; Node's --perf-basic-prof names JS.
import { readdirSync, readFileSync } from 'node:fs';
import { Fleet } from '../loadgen/fleet.js';
import { startServer } from '../systems.js';

const dash = process.argv.indexOf('--');
const [n = 19_000, windowS = 30, quietS = 20] = process.argv.slice(2, dash < 0 ? undefined : dash).map(Number);
const serveFlags = dash < 0 ? [] : process.argv.slice(dash + 1);
const TICKS_PER_S = 100; // USER_HZ: /proc counts CPU time in 1/100 s

interface Thread {
  name: string;
  user: number;
  sys: number;
}

function threads(pid: number): Map<string, Thread> {
  const out = new Map<string, Thread>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), user: Number(fields[11]), sys: Number(fields[12]) });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

function wakeups(pid: number): number {
  return Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const pct = (ticks: number, seconds: number): string => `${((ticks / TICKS_PER_S / seconds) * 100).toFixed(2)}%`;

const server = await startServer('hubbub', { hubbubArgs: serveFlags, nodeArgs: ['--trace-gc'] });
const fleet = new Fleet(Math.max(2, Math.ceil(n / 12_000)));
let fullGcs = 0;
let counting = false;
// --trace-gc lines go to the server's stdout, which the bench otherwise only reads for its port.
server.proc.stdout!.on('data', (d: Buffer) => {
  if (counting) fullGcs += (d.toString().match(/Mark-Compact/g) ?? []).length;
});
try {
  const r = await fleet.connect(`idle ${n}`, {
    group: 'idle', endpoint: server.endpoint(), from: 0, count: n,
    roomPrefix: 'room-', roomSize: 10, concurrency: 64, timeoutMs: 30_000,
  });
  if (r.failed > 0) throw new Error(`${r.failed} connections failed`);
  const pid = server.pids()[0];
  console.log(`broker pid ${pid}: ${n} idle connections; quiet ${quietS} s, then a ${windowS} s window`);
  await sleep(quietS * 1000);
  counting = true;
  const before = threads(pid);
  const wake0 = wakeups(pid);
  const t0 = performance.now();
  await sleep(windowS * 1000);
  const after = threads(pid);
  const wake1 = wakeups(pid);
  const seconds = (performance.now() - t0) / 1000;
  counting = false;
  let user = 0;
  let sys = 0;
  for (const [tid, t] of after) {
    const b = before.get(tid) ?? { user: 0, sys: 0 };
    const du = t.user - b.user;
    const ds = t.sys - b.sys;
    user += du;
    sys += ds;
    if (du + ds > 0) console.log(`  thread ${tid} (${t.name}): user ${pct(du, seconds)}, sys ${pct(ds, seconds)}`);
  }
  console.log(`broker: ${pct(user + sys, seconds)} of one core (user ${pct(user, seconds)}, sys ${pct(sys, seconds)}), ` +
    `${((wake1 - wake0) / seconds).toFixed(0)} wake-ups/s, ${fullGcs} full GCs in the window`);
} finally {
  await fleet.dispose();
  await server.stop();
}
