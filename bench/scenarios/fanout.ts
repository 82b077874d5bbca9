// Scenario 2, fan-out: one room of M members (1,000; 10,000), a few senders
// among them at rising rates (x2 per step) until the system saturates
// (delivered < 80% of offered or p99 over 1 s in two steps in a row: one
// noisy step on a shared machine must not end the sweep; or members dropped,
// which ends it at once). Each step:
// delivered messages/s and frames/s across all members, latency p50/p99/max
// of the messages sent in the window. Then one more step at half of the
// maximum delivered rate, where the issue sets its p99 target.
import { round, sleep, withServer, latencyOf, measure, drain, workersFor, fail, sweepRates, type Context, type Window } from './common.js';
import type { SystemId } from '../systems.js';
import type { Fleet } from '../loadgen/fleet.js';

export interface FanoutStep {
  /** Chat messages sent per second (all senders). */
  sendRate: number;
  /** Deliveries per second asked for: sendRate x members. */
  offered: number;
  delivered: number;
  frames: number;
  p50: number;
  p99: number;
  max: number;
  samples: number;
  serverCpu: number;
  genCpu: number;
  /** Members dropped by the server during the step. */
  lost: number;
}

export interface FanoutResult {
  members: number;
  connectMs: number;
  steps: FanoutStep[];
  maxDelivered: number;
  maxFrames: number;
  /** The step at half of maxDelivered, after a drain. */
  half: FanoutStep | null;
  /**
   * True when `half` is the sweep's own step nearest half of the maximum: the
   * saturating steps had the server drop members as slow consumers (the
   * generator could not read that fast), so the room could not be measured again.
   */
  halfFromSweep?: boolean;
  profile?: string;
}

const GROUP = 'fan';

async function step(fleet: Fleet, server: Parameters<typeof measure>[1], ctx: Context, members: number, sendRate: number): Promise<FanoutStep> {
  const cfg = ctx.cfg.fanout;
  await fleet.each({ cmd: 'rate', group: GROUP, senders: cfg.sendersPerWorker, rate: sendRate / fleet.size, textBytes: cfg.textBytes });
  await sleep(cfg.warmMs);
  const w: Window = await measure(fleet, server, cfg.windowMs, cfg.graceMs);
  const lat = latencyOf(w, GROUP);
  return {
    sendRate: round(sendRate, 1),
    offered: round(sendRate * members),
    delivered: round(w.counters.msgs / w.seconds),
    frames: round(w.counters.frames / w.seconds),
    p50: lat.p50, p99: lat.p99, max: lat.max, samples: lat.samples,
    serverCpu: w.serverCpu, genCpu: w.genCpu, lost: w.counters.lost,
  };
}

export async function fanout(ctx: Context, system: SystemId, members: number, startRate: number, profile: boolean): Promise<FanoutResult> {
  const cfg = ctx.cfg.fanout;
  return withServer(system, workersFor(ctx.cfg, members), async (server, fleet) => {
    const c = await fleet.connect(`fan-out ${system} ${members}`, {
      group: GROUP, endpoint: server.endpoint(), count: members,
      roomPrefix: 'fan', roomSize: Number.MAX_SAFE_INTEGER, concurrency: 64, timeoutMs: 60_000,
    });
    if (c.failed > 0) throw fail(`fan-out ${system} ${members}`, c);
    await sleep(1200); // big-room presence is flushed once per second; let it pass
    const drained = await drain(fleet, 500, 60_000);
    if (!drained) ctx.log(`    ${system} M=${members}: still receiving a minute after the joins (presence backlog)`);
    const result: FanoutResult = { members, connectMs: c.ms, steps: [], maxDelivered: 0, maxFrames: 0, half: null };
    if (profile) await server.probe({ cmd: 'profile-start' });
    result.steps = await sweepRates(startRate, cfg.factor, cfg.maxSteps, (rate) => step(fleet, server, ctx, members, rate), (s) => {
      ctx.log(`    ${system} M=${members} send ${s.sendRate}/s: delivered ${s.delivered}/s of ${s.offered}, frames ${s.frames}/s, p50 ${s.p50} p99 ${s.p99} max ${s.max} ms, cpu srv ${s.serverCpu}% gen ${s.genCpu}%${s.lost > 0 ? `, lost ${s.lost}` : ''}`);
    });
    if (profile) {
      result.profile = `${ctx.artifacts}/hubbub-fanout-${members}.cpuprofile`;
      await server.probe({ cmd: 'profile-stop', path: result.profile });
    }
    result.maxDelivered = Math.max(...result.steps.map((s) => s.delivered));
    result.maxFrames = Math.max(...result.steps.map((s) => s.frames));
    await fleet.each({ cmd: 'rate', group: GROUP, senders: 0, rate: 0, textBytes: 0 });
    const open = (await fleet.counters()).open;
    // After the saturating steps the members still read a backlog of 10+ s (p99 of those
    // steps); 30 s was too short on this machine and the half step was skipped.
    const settled = open === members && (await drain(fleet, 500, 60_000));
    if (settled) {
      result.half = await step(fleet, server, ctx, members, result.maxDelivered / 2 / members);
      const h = result.half;
      ctx.log(`    ${system} M=${members} half of max (${h.offered}/s): p50 ${h.p50} p99 ${h.p99} max ${h.max} ms`);
    } else {
      const why = open < members ? `${members - open} members dropped` : 'still receiving a minute later';
      // The sweep ran each rate the same way (warm-up, window) on its way up: its step
      // nearest half of the maximum, if near enough, stands for the half-rate step.
      const target = result.maxDelivered / 2;
      const near = result.steps.filter((st) => st.lost === 0 && Math.abs(st.delivered - target) <= 0.25 * target)
        .sort((a, b) => Math.abs(a.delivered - target) - Math.abs(b.delivered - target))[0];
      if (near !== undefined) {
        result.half = near;
        result.halfFromSweep = true;
        ctx.log(`    ${system} M=${members}: no half-rate step (${why}); the sweep's step at ${near.delivered}/s stands for it: p50 ${near.p50} p99 ${near.p99} max ${near.max} ms`);
      } else {
        ctx.log(`    ${system} M=${members}: no half-rate step (${why})`);
      }
    }
    return result;
  });
}
