// A/B of Hubbub's fan-out at fixed rates: two or more builds side by side in one run.
//
//   flock /tmp/bench.lock node dist/bench/ab-fanout.js --variant A=/tmp/base/dist/src/cli.js \
//     --variant B=dist/src/cli.js [--variant C=dist/src/cli.js@SOME_ENV=1] \
//     [--members 1000] [--rates 10,400,800] [--reps 3] [--batch]
//
// Every variant (name=cli.js, optionally @ENV=value,... for its process) is
// started at once and gets its own room of `members` (one fleet, a group per
// server), joined once; then every (rate, repetition) measures each variant in
// turn (the order rotates per repetition, so none always goes first on a
// warmer machine), one sending at a time, with a drain between windows. It
// prints each window and the medians per rate, with ratios to the first
// variant (p99, and CPU per delivery, which a noisy machine moves less than
// latency). Fixed rates, not the bench's sweep: the sweep's "half of max" moves
// with the max, which is not what an A/B of latency at one load should compare.
// A variant's cli.js may also be another server speaking Hubbub's protocol
// that prints LISTENING <port> (a ws-hub with timing added, say).
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchConfig } from './config.js';
import { Fleet } from './loadgen/fleet.js';
import { drain, latencyOf, measure, median, round, sleep, workersFor } from './scenarios/common.js';
import { startServer, type RunningServer } from './systems.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const { values } = parseArgs({
  options: {
    variant: { type: 'string', multiple: true },
    members: { type: 'string', default: '1000' },
    rates: { type: 'string', default: '10,400,800' },
    reps: { type: 'string', default: '3' },
    batch: { type: 'boolean', default: false },
    /** Append each server's stderr to <dir>/<variant>.log (for temporary instrumentation). */
    'stderr-dir': { type: 'string' },
  },
});
const variants: { name: string; cli: string; env: Record<string, string>; server?: RunningServer }[] = (values.variant ?? []).map((v) => {
  const [head, envs] = v.split('@');
  const [name, cli] = head.split('=');
  const env = Object.fromEntries((envs ?? '').split(',').filter(Boolean).map((kv) => kv.split('=')));
  return { name, cli: cli || join(ROOT, 'dist', 'src', 'cli.js'), env };
});
if (variants.length < 2) throw new Error('give at least two --variant name=cli.js[@ENV=value,...]');

const cfg = benchConfig(false).fanout;
const members = Number(values.members);
const rates = values.rates!.split(',').map(Number);
const reps = Number(values.reps);
const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** srvNs, genNs: CPU ns per delivered message (less sensitive to a noisy machine than latency). */
interface Sample { p50: number; p99: number; max: number; delivered: number; frames: number; srv: number; gen: number; srvNs: number; genNs: number }

const system = values.batch ? 'hubbub-batch' : 'hubbub';
const fleet = new Fleet(workersFor(benchConfig(false), members * variants.length));
const results = new Map<string, Sample[]>();
const deadline = Date.now() + 15 * 60_000; // every load loop is bounded in time too

try {
  for (const v of variants) {
    const saved = { ...process.env };
    Object.assign(process.env, v.env); // the child inherits it
    v.server = await startServer(system, { hubbubCli: v.cli });
    process.env = saved;
    const dir = values['stderr-dir'];
    if (dir !== undefined) {
      const out = createWriteStream(join(dir, `${v.name}.log`), { flags: 'a' });
      v.server.proc.stderr!.on('data', (d: Buffer) => out.write(d));
    }
    const c = await fleet.connect(`${v.name} ${members}`, {
      group: v.name, endpoint: v.server.endpoint(), count: members,
      roomPrefix: `ab${v.name}`, roomSize: Number.MAX_SAFE_INTEGER, concurrency: 64, timeoutMs: 60_000,
    });
    if (c.failed > 0) throw new Error(`${v.name}: ${c.failed} connections failed: ${c.errors.join('; ')}`);
  }
  await sleep(1200); // big-room presence goes out once per second
  if (!(await drain(fleet, 500, 60_000))) throw new Error('presence backlog did not drain in a minute');
  for (const rate of rates) {
    for (let r = 0; r < reps && Date.now() < deadline; r++) {
      const k = r % variants.length;
      const order = [...variants.slice(k), ...variants.slice(0, k)];
      for (const v of order) {
        await fleet.each({ cmd: 'rate', group: v.name, senders: cfg.sendersPerWorker, rate: rate / fleet.size, textBytes: cfg.textBytes });
        await sleep(cfg.warmMs);
        if (values['stderr-dir'] !== undefined) v.server!.proc.stderr!.emit('data', Buffer.from(`WINDOW ${rate} rep ${r}\n`));
        const w = await measure(fleet, v.server!, cfg.windowMs, cfg.graceMs);
        await fleet.each({ cmd: 'rate', group: v.name, senders: 0, rate: 0, textBytes: 0 });
        const lat = latencyOf(w, v.name);
        const s: Sample = {
          p50: lat.p50, p99: lat.p99, max: lat.max, delivered: round(w.counters.msgs / w.seconds),
          frames: round(w.counters.frames / w.seconds), srv: w.serverCpu, gen: w.genCpu,
          srvNs: 0, genNs: 0,
        };
        s.srvNs = round((s.srv * 1e7) / s.delivered);
        s.genNs = round((s.gen * 1e7) / s.delivered);
        const key = `${rate}/${v.name}`;
        results.set(key, [...(results.get(key) ?? []), s]);
        log(`  ${v.name} ${rate} msg/s: p50 ${s.p50} p99 ${s.p99} max ${s.max} ms, delivered ${s.delivered}/s, frames ${s.frames}/s, cpu srv ${s.srv}% gen ${s.gen}%, ns/delivery srv ${s.srvNs} gen ${s.genNs}`);
        if (!(await drain(fleet, 300, 30_000))) log('  (no drain within 30 s)');
      }
    }
  }
  const pick = (rate: number, name: string, f: keyof Sample): number => median((results.get(`${rate}/${name}`) ?? []).map((s) => s[f]));
  log(`\nmedians of ${reps}, ${members} members${values.batch ? ', batch' : ''}:`);
  for (const v of variants) log(`  ${v.name} = ${v.cli} ${JSON.stringify(v.env)}`);
  const base = variants[0].name;
  for (const rate of rates) {
    for (const v of variants) {
      const f = (k: keyof Sample): number => round(pick(rate, v.name, k), 2);
      log(`  ${String(rate).padStart(5)} msg/s ${v.name.padEnd(4)} p50 ${f('p50')} p99 ${f('p99')} (x${round(f('p99') / pick(rate, base, 'p99'), 2)}) max ${f('max')} ms, delivered ${f('delivered')}/s, frames ${f('frames')}/s, cpu srv ${f('srv')}% gen ${f('gen')}%, ns/delivery srv ${f('srvNs')} (x${round(f('srvNs') / pick(rate, base, 'srvNs'), 2)}) gen ${f('genNs')} (x${round(f('genNs') / pick(rate, base, 'genNs'), 2)})`);
    }
  }
} finally {
  await fleet.dispose();
  for (const v of variants) await v.server?.stop();
}
