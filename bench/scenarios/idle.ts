// Scenario 1, idle cost: N idle connections joined to rooms of 10, heartbeats
// on (each system's own defaults). For each N in one process: RSS per
// connection ((RSS_N - RSS_0) / N) and heap per connection, both read after a
// full GC; then server CPU over an idle window at the largest N.
//
// Each system is ramped in turn and kept up; the idle window is then measured
// for all of them at once (the machine is otherwise idle, so each server's
// /proc CPU counters are unaffected), which saves 3 x 30 s per run. It opens
// once every Node server has been quiet for `quietMs` since its last
// connection (config.ts: V8's post-growth GCs belong to the ramp).
//
// Scale-out (`--only idle100k`, opt-in: about 2-3 minutes): 100k idle
// connections across `hubbub serve --workers N` (6 workers of ~17k: a process
// holds at most 20,000 files here), the generator over ceil(100k / 12k)
// processes and fresh 127.x source addresses. RSS per connection summed over
// the primary and its workers, and idle CPU over the window, summed likewise.
import { readFileSync } from 'node:fs';
import type { Fleet } from '../loadgen/fleet.js';
import { Fleet as FleetClass } from '../loadgen/fleet.js';
import { startServer, type Memory, type RunningServer, type SystemId } from '../systems.js';
import { fail, round, sleep, workersFor, type Context } from './common.js';

export interface IdlePoint {
  n: number;
  rss: number;
  rssPerConn: number;
  heapPerConn: number | null;
  externalPerConn: number | null;
  connectMs: number;
}

export interface IdleResult {
  base: Memory;
  points: IdlePoint[];
  /** Server CPU over the idle window at the largest N, % of one core. */
  cpu: number;
  windowMs: number;
}

export const IDLE_SYSTEMS: SystemId[] = ['hubbub', 'ws-hub', 'socketio', 'gorilla'];

export async function idle(ctx: Context): Promise<Partial<Record<SystemId, IdleResult>>> {
  const cfg = ctx.cfg.idle;
  const maxN = cfg.ns[cfg.ns.length - 1];
  const live: { system: SystemId; server: RunningServer; fleet: Fleet; result: IdleResult }[] = [];
  /** When the last Node server's ramp ended (gorilla's Go runtime has no memory reducer to wait for). */
  let lastNodeRamp = 0;
  try {
    for (const system of ctx.systems.filter((s) => IDLE_SYSTEMS.includes(s))) {
      const server = await startServer(system, system === 'hubbub' ? { hubbubArgs: ctx.cfg.idleHubbubArgs } : {});
      const fleet = new FleetClass(workersFor(ctx.cfg, maxN));
      const result: IdleResult = { base: { rss: 0, heap: null, external: null }, points: [], cpu: NaN, windowMs: cfg.windowMs };
      live.push({ system, server, fleet, result });
      await sleep(300);
      const base = await server.memory();
      result.base = base;
      if (ctx.heapSnapshot && system === 'hubbub') {
        await server.probe({ cmd: 'heap-snapshot', path: `${ctx.artifacts}/hubbub-idle-0.heapsnapshot` }, 300_000);
      }
      let have = 0;
      for (const n of cfg.ns) {
        const r = await fleet.connect(`idle ${system} ${n}`, {
          group: 'idle', endpoint: server.endpoint(), from: have, count: n - have,
          roomPrefix: 'room-', roomSize: cfg.roomSize, concurrency: 64, timeoutMs: 30_000,
        });
        if (r.failed > 0) throw fail(`idle ${system} N=${n}`, r);
        have = n;
        await sleep(cfg.settleMs);
        const m = await server.memory();
        result.points.push({
          n,
          rss: m.rss,
          rssPerConn: round((m.rss - base.rss) / n),
          heapPerConn: m.heap === null || base.heap === null ? null : round((m.heap - base.heap) / n),
          externalPerConn: m.external === null || base.external === null ? null : round((m.external - base.external) / n),
          connectMs: r.ms,
        });
      }
      if (system !== 'gorilla') lastNodeRamp = performance.now();
    }
    await sleep(Math.max(0, cfg.quietMs - (performance.now() - lastNodeRamp)));
    ctx.log(`  idle window: ${cfg.windowMs / 1000} s with ${maxN} connections on each of ${live.length} systems`);
    const cpu0 = live.map((l) => l.server.cpuSeconds());
    const t0 = performance.now();
    await sleep(cfg.windowMs);
    const seconds = (performance.now() - t0) / 1000;
    live.forEach((l, i) => {
      l.result.cpu = round(((l.server.cpuSeconds() - cpu0[i]) / seconds) * 100, 2);
    });
    for (const l of live) {
      const open = (await l.fleet.counters()).open;
      if (open < maxN) ctx.log(`  warning: ${l.system} lost ${maxN - open} idle connections during the window`);
    }
    if (ctx.heapSnapshot) {
      const hub = live.find((l) => l.system === 'hubbub');
      if (hub !== undefined) {
        const path = `${ctx.artifacts}/hubbub-idle-${maxN}.heapsnapshot`;
        ctx.log(`  writing heap snapshot ${path}`);
        await hub.server.probe({ cmd: 'heap-snapshot', path }, 300_000);
      }
    }
  } finally {
    await Promise.all(live.map(async (l) => {
      await l.fleet.dispose();
      await l.server.stop();
    }));
  }
  return Object.fromEntries(live.map((l) => [l.system, l.result]));
}

export interface Idle100kResult {
  conns: number;
  workers: number;
  /** RSS summed over the server's processes: empty, then with every connection open. */
  baseRss: number;
  rss: number;
  rssPerConn: number;
  /** RSS of each process at the end, the primary first. */
  processRss: number[];
  /** JS heap used per connection, summed over the processes (each after its own full GC). */
  heapPerConn: number;
  /** Processes that answered the GC (the primary and its workers). */
  processes: number;
  connectMs: number;
  connectPerSec: number;
  /** Server CPU over the idle window, % of one core, summed over its processes; and per process. */
  cpu: number;
  processCpu: number[];
  windowMs: number;
  /** Connections still open at the end of the window (all of them, or some were lost). */
  open: number;
}

/** 100k idle connections across `serve --workers N`: RSS/conn and idle CPU of the whole process tree. */
export async function idle100k(ctx: Context): Promise<Idle100kResult> {
  const cfg = ctx.cfg.scaleIdle;
  const server = await startServer('hubbub', { hubbubArgs: ['--workers', String(cfg.workers), ...ctx.cfg.idleHubbubArgs] });
  const fleet = new FleetClass(workersFor(ctx.cfg, cfg.conns));
  try {
    await sleep(cfg.settleMs);
    const base = await gcAll(server);
    const r = await fleet.connect(`idle ${cfg.conns} over ${cfg.workers} workers`, {
      group: 'idle', endpoint: server.endpoint(), count: cfg.conns,
      roomPrefix: 'room-', roomSize: cfg.roomSize, concurrency: 64, timeoutMs: 60_000,
    });
    if (r.failed > 0) throw fail(`idle100k N=${cfg.conns}`, r);
    await sleep(Math.max(cfg.settleMs, cfg.quietMs));
    ctx.log(`  idle window: ${cfg.windowMs / 1000} s with ${cfg.conns} connections over ${cfg.workers} workers`);
    const cpu0 = server.cpuByPid();
    const t0 = performance.now();
    await sleep(cfg.windowMs);
    const cpu1 = server.cpuByPid();
    const seconds = (performance.now() - t0) / 1000;
    const processCpu = cpu1.map(({ pid, cpu }) => round(((cpu - (cpu0.find((p) => p.pid === pid)?.cpu ?? cpu)) / seconds) * 100, 2));
    const open = (await fleet.counters()).open;
    if (open < cfg.conns) ctx.log(`  warning: ${cfg.conns - open} idle connections lost during the window`);
    const after = await gcAll(server);
    const processRss = server.pids().map((pid) => rssOf(pid));
    const rss = processRss.reduce((a, b) => a + b, 0);
    const result: Idle100kResult = {
      conns: cfg.conns, workers: cfg.workers, baseRss: base.rss, rss: after.rss, rssPerConn: round((after.rss - base.rss) / cfg.conns), processRss,
      heapPerConn: round((after.heap - base.heap) / cfg.conns), processes: after.processes,
      connectMs: r.ms, connectPerSec: round(cfg.conns / (r.ms / 1000)),
      cpu: round(processCpu.reduce((a, b) => a + b, 0), 2), processCpu, windowMs: cfg.windowMs, open,
    };
    ctx.log(`    ${cfg.conns} idle over ${cfg.workers} workers: RSS/conn ${result.rssPerConn} B, heap/conn ${result.heapPerConn} B (${(rss / 2 ** 20).toFixed(0)} MiB in ${processRss.length} processes), idle CPU ${result.cpu}% [${processCpu.join(' + ')}], connected in ${(r.ms / 1000).toFixed(1)} s`);
    return result;
  } finally {
    await fleet.dispose();
    await server.stop();
  }
}

/**
 * A full GC in the primary and in every worker (the probe relays to the
 * workers' probes), then RSS summed over the tree and the heaps summed: both
 * read after the GCs, as the single-process idle scenario does.
 */
async function gcAll(server: RunningServer): Promise<{ rss: number; heap: number; processes: number }> {
  const all = await server.probe<{ heapUsed: number }[]>({ cmd: 'mem-all' });
  return { rss: server.rss(), heap: all.reduce((s, m) => s + m.heapUsed, 0), processes: all.length };
}

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}
