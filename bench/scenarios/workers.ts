// Scenario "workers" (scale-out): does `hubbub serve --workers 2` deliver
// more fan-out messages/s than one process on this 2-core machine? Three
// layouts of the same server, interleaved in every run (the first layout
// rotates from run to run): one process (`serve`), `--workers 1` (the same
// work plus the primary's IPC relay: the relay's cost) and `--workers 2`.
//
// The load is shaped so that the broker, not the generator, is what
// saturates: one big room, few senders, members on LeanSocket (frames parsed
// in place from a shared read buffer; latency sampled on one frame in 8).
// Batch mode (`?batch=1`) is a config switch; it is off by default because
// here it made the generator's and the server's costs both per byte, alike. On two cores the generator
// shares the CPU with the server's processes, so every delivered message the
// generator spends less on is a message the workers can deliver. Each layout
// gets the fan-out sweep (send rate x2 per step until delivered < 80% of
// offered or p99 > 1 s twice in a row); the result is its best step, with
// the server's CPU per process (primary and workers) and the generator's.
import { join } from 'node:path';
import { Fleet } from '../loadgen/fleet.js';
import { startServer, type RunningServer } from '../systems.js';
import { fail, latencyOf, machineCpu, round, sleep, drain, sweepRates, type Context } from './common.js';

export type Layout = 'single' | 'w1' | 'w2';

export const LAYOUTS: { id: Layout; label: string; args: string[] }[] = [
  { id: 'single', label: 'serve (1 process)', args: [] },
  { id: 'w1', label: 'serve --workers 1', args: ['--workers', '1'] },
  { id: 'w2', label: 'serve --workers 2', args: ['--workers', '2'] },
];

export interface WorkersStep {
  sendRate: number;
  offered: number;
  delivered: number;
  frames: number;
  p50: number;
  p99: number;
  samples: number;
  /** % of one core, summed over the server's processes. */
  serverCpu: number;
  /** % of one core per server process, the primary (or the single process) first. */
  processCpu: number[];
  genCpu: number;
  /** The whole machine over the window, % of all cores: busy (softirq included), and softirq alone. */
  machineBusy: number;
  softirq: number;
  lost: number;
}

export interface LayoutResult {
  layout: Layout;
  members: number;
  connectMs: number;
  steps: WorkersStep[];
  /** The step that delivered the most. */
  best: WorkersStep;
}

export interface WorkersResult {
  members: number;
  /** Members in batch mode (?batch=1). */
  batch: boolean;
  layouts: Partial<Record<Layout, LayoutResult>>;
  /** Best delivered/s of --workers 2 over one process, and over --workers 1. */
  ratio: number;
  ratioW1: number;
  /** Layouts that failed (the others are kept). */
  errors: string[];
}

const GROUP = 'scale';

async function step(ctx: Context, fleet: Fleet, server: RunningServer, members: number, sendRate: number): Promise<WorkersStep> {
  const cfg = ctx.cfg.workers;
  await fleet.each({ cmd: 'rate', group: GROUP, senders: cfg.sendersPerWorker, rate: sendRate / fleet.size, textBytes: cfg.textBytes });
  await sleep(cfg.warmMs);
  const cpu0 = server.cpuByPid();
  const m0 = machineCpu();
  const t0 = performance.now();
  const id = await fleet.windowStart();
  await sleep(cfg.windowMs);
  const { sum } = await fleet.windowEnd(id);
  const cpu1 = server.cpuByPid();
  const m1 = machineCpu();
  const seconds = (performance.now() - t0) / 1000;
  await sleep(cfg.graceMs);
  const lat = latencyOf({ counters: sum, seconds, serverCpu: 0, genCpu: 0, latency: await fleet.collect(id) }, GROUP);
  const processCpu = cpu1.map(({ pid, cpu }) => round(((cpu - (cpu0.find((p) => p.pid === pid)?.cpu ?? cpu)) / seconds) * 100, 1));
  return {
    sendRate: round(sendRate, 1), offered: round(sendRate * members),
    delivered: round(sum.msgs / seconds), frames: round(sum.frames / seconds),
    p50: lat.p50, p99: lat.p99, samples: lat.samples,
    serverCpu: round(processCpu.reduce((a, b) => a + b, 0), 1), processCpu,
    genCpu: round(sum.cpuUs / 1e4 / seconds, 1),
    machineBusy: round((100 * (m1.busy - m0.busy)) / (m1.total - m0.total), 1),
    softirq: round((100 * (m1.softirq - m0.softirq)) / (m1.total - m0.total), 1),
    lost: sum.lost,
  };
}

async function sweep(ctx: Context, layout: (typeof LAYOUTS)[number]): Promise<LayoutResult> {
  const cfg = ctx.cfg.workers;
  const members = cfg.members;
  // --profile: V8 CPU profiles of every process of the layout (cluster workers inherit --cpu-prof),
  // written when the server exits gracefully.
  const profileDir = ctx.profile ? join(ctx.artifacts, `scale-out-${layout.id}`) : null;
  const server = await startServer(cfg.batch ? 'hubbub-batch' : 'hubbub', {
    hubbubArgs: layout.args,
    nodeArgs: profileDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-interval=500'],
  });
  const fleet = new Fleet(cfg.loadWorkers);
  try {
    const c = await fleet.connect(`scale-out ${layout.id} ${members}`, {
      group: GROUP, endpoint: server.endpoint(), count: members, lean: true,
      roomPrefix: 'scale', roomSize: Number.MAX_SAFE_INTEGER, concurrency: 32, timeoutMs: 60_000,
    });
    if (c.failed > 0) throw fail(`scale-out ${layout.id}`, c);
    await sleep(1200); // big-room presence is flushed once per second; let it pass
    if (!(await drain(fleet, 500, 60_000))) ctx.log(`    ${layout.id}: still receiving a minute after the joins`);
    const steps = await sweepRates(cfg.startRate, cfg.factor, cfg.maxSteps, (rate) => step(ctx, fleet, server, members, rate), (s) => {
      ctx.log(`    ${layout.label} send ${s.sendRate}/s: delivered ${s.delivered}/s of ${s.offered}, frames ${s.frames}/s, p50 ${s.p50} p99 ${s.p99} ms, cpu srv ${s.serverCpu}% [${s.processCpu.join(' + ')}] gen ${s.genCpu}%, machine ${s.machineBusy}% (softirq ${s.softirq}%)${s.lost > 0 ? `, lost ${s.lost}` : ''}`);
    });
    await fleet.each({ cmd: 'rate', group: GROUP, senders: 0, rate: 0, textBytes: 0 });
    const best = steps.reduce((a, b) => (b.delivered > a.delivered ? b : a));
    return { layout: layout.id, members, connectMs: c.ms, steps, best };
  } finally {
    await fleet.dispose();
    if (profileDir !== null) {
      if (await server.stopGracefully()) ctx.log(`    CPU profiles of ${layout.id}: ${profileDir}`);
      else ctx.log(`    ${layout.id} did not exit in time: no CPU profiles`);
    } else await server.stop();
  }
}

/** One run of the scenario: every layout once, starting at a layout that rotates with the run. */
export async function workers(ctx: Context, run: number): Promise<WorkersResult> {
  const order = LAYOUTS.map((_, i) => LAYOUTS[(i + run - 1) % LAYOUTS.length]);
  const layouts: WorkersResult['layouts'] = {};
  const errors: string[] = [];
  for (const layout of order) {
    try {
      layouts[layout.id] = await sweep(ctx, layout);
    } catch (err) {
      errors.push(`scale-out ${layout.id}: ${err instanceof Error ? err.message : String(err)}`);
      ctx.log(`    FAILED ${errors[errors.length - 1]}`);
    }
  }
  const best = (id: Layout): number => layouts[id]?.best.delivered ?? NaN;
  const result: WorkersResult = {
    members: ctx.cfg.workers.members, batch: ctx.cfg.workers.batch, layouts,
    ratio: round(best('w2') / best('single'), 2), ratioW1: round(best('w2') / best('w1'), 2), errors,
  };
  ctx.log(`    scale-out: --workers 2 / one process = ${result.ratio}x, --workers 2 / --workers 1 = ${result.ratioW1}x`);
  return result;
}
