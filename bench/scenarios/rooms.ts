// Scenario 3, many rooms: 10k connections in 1,000 rooms of 10, each member
// sending one message every 10 s (so 1,000 sends/s, 10,000 deliveries/s):
// latency and server CPU.
//
// Scenario 5, noisy neighbour: room A (a flooder and 9 members) on one load
// worker, room B (10 members, one sender at a steady rate) on another. B's
// p99 is measured without the flood, then while the flooder sends as fast as
// its socket drains; the target is a ratio of at most 2. Hubbub runs twice:
// on its defaults, where the rate limit shapes the flooder to 1,000 frames/s
// (it stops reading the socket; the flooder stays connected and loses
// nothing), and with the limit off (`--rate 0`, the `unlimited` figures),
// where the flooder gets whatever the event loop gives it. A system that
// drops the flooder (gorilla: its send channel overflows) reports no ratio,
// and its flooder's sends/s say why.
//
// Scenario 4, connection storm: connections opened as fast as the generator
// can (a bounded number in flight per worker), each closed once ready, so the
// server never passes its open-file cap: accepted connections/s and failures.
// Scale-out (`--only storm50k`, opt-in): 50k connections, all held open, across
// `hubbub serve --workers 4` (a process holds at most 20,000 files here).
import { summarize, Histogram } from '../loadgen/histogram.js';
import { startServer, type ServerOptions, type SystemId } from '../systems.js';
import { Fleet } from '../loadgen/fleet.js';
import { fail, latencyOf, machineCpu, measure, round, sleep, withServer, workersFor, type Context } from './common.js';

export interface ManyRoomsResult {
  conns: number;
  rooms: number;
  delivered: number;
  p50: number;
  p99: number;
  max: number;
  serverCpu: number;
  genCpu: number;
  lost: number;
}

export async function manyRooms(ctx: Context, system: SystemId, profile: boolean): Promise<ManyRoomsResult> {
  const cfg = ctx.cfg.manyRooms;
  return withServer(system, workersFor(ctx.cfg, cfg.conns), async (server, fleet) => {
    const c = await fleet.connect(`many rooms ${system}`, {
      group: 'rooms', endpoint: server.endpoint(), count: cfg.conns,
      roomPrefix: 'room-', roomSize: cfg.roomSize, concurrency: 64, timeoutMs: 30_000,
    });
    if (c.failed > 0) throw fail(`many rooms ${system}`, c);
    const perWorker = cfg.conns / fleet.size;
    await fleet.each({ cmd: 'rate', group: 'rooms', senders: perWorker, rate: perWorker / (cfg.periodMs / 1000), textBytes: ctx.cfg.fanout.textBytes });
    await sleep(cfg.warmMs);
    if (profile) await server.probe({ cmd: 'profile-start' });
    const w = await measure(fleet, server, cfg.windowMs, 500);
    if (profile) await server.probe({ cmd: 'profile-stop', path: `${ctx.artifacts}/hubbub-many-rooms.cpuprofile` });
    const lat = latencyOf(w, 'rooms');
    return {
      conns: cfg.conns, rooms: cfg.conns / cfg.roomSize, delivered: round(w.counters.msgs / w.seconds),
      p50: lat.p50, p99: lat.p99, max: lat.max, serverCpu: w.serverCpu, genCpu: w.genCpu, lost: w.counters.lost,
    };
  });
}

export interface NoisyResult {
  quiet: { p50: number; p99: number; max: number; samples: number };
  flood: { p50: number; p99: number; max: number; samples: number };
  /** B's p99 under the flood over its p99 without it. */
  ratio: number;
  /** Deliveries/s in room A during the flood, and the flooder's sends/s. */
  floodDelivered: number;
  floodSent: number;
  serverCpu: number;
  /** Connections the server dropped during the flood (gorilla drops a client whose send channel overflows). */
  lostInFlood: number;
  /** Hubbub only: the same with its rate limit off (`--rate 0`). */
  unlimited?: NoisyResult;
}

export async function noisy(ctx: Context, system: SystemId): Promise<NoisyResult> {
  const result = await noisyOnce(ctx, system, {});
  if (system === 'hubbub') result.unlimited = await noisyOnce(ctx, system, { hubbubArgs: ['--rate', '0'] });
  return result;
}

async function noisyOnce(ctx: Context, system: SystemId, serverOptions: { hubbubArgs?: string[] }): Promise<NoisyResult> {
  const cfg = ctx.cfg.noisy;
  const textBytes = ctx.cfg.fanout.textBytes;
  return withServer(system, 2, async (server, fleet) => {
    const spec = { endpoint: server.endpoint(), count: cfg.roomSize, roomSize: Number.MAX_SAFE_INTEGER, concurrency: 16, timeoutMs: 30_000 };
    const a = await fleet.connect(`noisy ${system} room A`, { ...spec, group: 'A', roomPrefix: 'A' }, [0]);
    const b = await fleet.connect(`noisy ${system} room B`, { ...spec, group: 'B', roomPrefix: 'B', from: cfg.roomSize }, [1]);
    if (a.failed + b.failed > 0) throw fail(`noisy ${system}`, { failed: a.failed + b.failed, errors: [...a.errors, ...b.errors] });
    await fleet.each({ cmd: 'rate', group: 'B', senders: 1, rate: cfg.quietRate, textBytes }, [1]);
    await sleep(cfg.warmMs);
    const quiet = await measure(fleet, server, cfg.windowMs, 300);
    const before = (await fleet.counters()).lost;
    await fleet.each({ cmd: 'flood', group: 'A', on: true, textBytes }, [0]);
    await sleep(cfg.warmMs);
    const flood = await measure(fleet, server, cfg.windowMs, 300);
    const lostInFlood = (await fleet.counters()).lost - before;
    await fleet.each({ cmd: 'flood', group: 'A', on: false, textBytes }, [0]);
    await fleet.each({ cmd: 'rate', group: 'B', senders: 0, rate: 0, textBytes }, [1]);
    const q = latencyOf(quiet, 'B');
    const f = latencyOf(flood, 'B');
    const groupA = flood.counters.groups.A ?? { msgs: 0, sent: 0 };
    if (groupA.msgs === 0) ctx.log(`  noisy ${system} ${serverOptions.hubbubArgs?.join(' ') ?? ''}: room A carried nothing in the window (the flooder was gone): no ratio`);
    return {
      quiet: q, flood: f, ratio: round(f.p99 / q.p99, 2),
      floodDelivered: round(groupA.msgs / flood.seconds), floodSent: round(groupA.sent / flood.seconds),
      serverCpu: flood.serverCpu, lostInFlood,
    };
  }, serverOptions);
}

export interface StormResult {
  conns: number;
  ok: number;
  failed: number;
  acceptedPerSec: number;
  connectP50: number;
  connectP99: number;
  /** CPU per accepted connection over the storm, µs: the server (all its processes) and the generator (all workers). */
  serverUsPerConn?: number;
  genUsPerConn?: number;
  /** The server's and the generator's CPU over the storm, % of one core; the whole machine's busy share, % of all cores. */
  serverCpu?: number;
  genCpu?: number;
  machineBusy?: number;
  client?: 'lean' | 'ws';
  errors: string[];
}

export async function storm(ctx: Context, system: SystemId, profile = false, serverOptions: ServerOptions = {}): Promise<StormResult> {
  const cfg = ctx.cfg.storm;
  return withServer(system, Math.max(cfg.workers, workersFor(ctx.cfg, cfg.conns)), async (server, fleet) => {
    if (profile) await server.probe({ cmd: 'profile-start' });
    const server0 = server.cpuSeconds();
    const gen0 = (await fleet.counters()).cpuUs;
    const m0 = machineCpu();
    const r = await fleet.storm(`storm ${system} ${cfg.conns}`, {
      endpoint: server.endpoint(), count: cfg.conns, concurrency: cfg.concurrencyPerWorker, timeoutMs: 30_000, lean: cfg.client === 'lean',
    });
    const serverSec = server.cpuSeconds() - server0;
    const genSec = ((await fleet.counters()).cpuUs - gen0) / 1e6;
    const m1 = machineCpu();
    if (profile) await server.probe({ cmd: 'profile-stop', path: `${ctx.artifacts}/${system}-storm.cpuprofile` });
    const h = new Histogram();
    h.merge(r.connectLatency);
    const lat = summarize(h);
    const wall = r.wallMs / 1000;
    const result: StormResult = {
      conns: cfg.conns, ok: r.ready, failed: r.failed, acceptedPerSec: round(r.ready / wall),
      connectP50: lat.p50, connectP99: lat.p99, errors: r.errors,
      serverUsPerConn: round((serverSec * 1e6) / Math.max(1, r.ready)), genUsPerConn: round((genSec * 1e6) / Math.max(1, r.ready)),
      serverCpu: round((serverSec / wall) * 100), genCpu: round((genSec / wall) * 100),
      machineBusy: round((100 * (m1.busy - m0.busy)) / (m1.total - m0.total)), client: cfg.client,
    };
    ctx.log(`    ${result.acceptedPerSec} conn/s (${cfg.client} clients); CPU per connection: server ${result.serverUsPerConn} µs, generator ${result.genUsPerConn} µs; busy: server ${result.serverCpu}%, generator ${result.genCpu}%, machine ${result.machineBusy}% of 2 cores`);
    return result;
  }, serverOptions);
}

export interface Storm50kResult extends StormResult {
  workers: number;
  /** Connections open at the end (held by the generator, so by the server). */
  open: number;
  /** RSS summed over the server's processes with every connection open. */
  rss: number;
}

/** The storm at scale: every connection stays open, spread over `serve --workers N`. */
export async function storm50k(ctx: Context): Promise<Storm50kResult> {
  const cfg = ctx.cfg.scaleStorm;
  const server = await startServer('hubbub', { hubbubArgs: ['--workers', String(cfg.workers)] });
  const fleet = new Fleet(Math.max(4, workersFor(ctx.cfg, cfg.conns)));
  try {
    const r = await fleet.storm(`storm ${cfg.conns} over ${cfg.workers} workers`, {
      endpoint: server.endpoint(), count: cfg.conns, concurrency: cfg.concurrencyPerWorker, timeoutMs: 30_000, hold: true,
    });
    const h = new Histogram();
    h.merge(r.connectLatency);
    const lat = summarize(h);
    const open = (await fleet.counters()).open;
    const result: Storm50kResult = {
      conns: cfg.conns, workers: cfg.workers, ok: r.ready, failed: r.failed, acceptedPerSec: round(r.ready / (r.wallMs / 1000)),
      connectP50: lat.p50, connectP99: lat.p99, errors: r.errors, open, rss: server.rss(),
    };
    ctx.log(`    storm ${cfg.conns} held over ${cfg.workers} workers: ${result.acceptedPerSec} conn/s, failed ${result.failed}, open ${open}, connect p50 ${lat.p50} p99 ${lat.p99} ms`);
    return result;
  } finally {
    await fleet.dispose();
    await server.stop();
  }
}
