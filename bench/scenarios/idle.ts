// Scenario 1, idle cost: N idle connections joined to rooms of 10, heartbeats
// on (each system's own defaults). For each N in one process: RSS per
// connection ((RSS_N - RSS_0) / N) and heap per connection, both read after a
// full GC; then server CPU over an idle window at the largest N.
//
// Each system is ramped in turn and kept up; the idle window is then measured
// for all of them at once (the machine is otherwise idle, so each server's
// /proc CPU counters are unaffected), which saves 3 x 30 s per run.
//
// TODO(scale-out, issue "--workers"): 100k idle connections across
// `hubbub serve --workers N` processes: start with hubbubArgs ['--workers', N],
// spread the fleet over ceil(100k / connsPerWorker) workers, and sum RSS and
// CPU over the server's process tree (RunningServer reads one pid today).
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
  try {
    for (const system of ctx.systems.filter((s) => IDLE_SYSTEMS.includes(s))) {
      const server = await startServer(system);
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
    }
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
