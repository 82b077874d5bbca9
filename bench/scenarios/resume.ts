// Reconnect storm with resume (Hubbub alone: the peers have no resume).
//
// N clients (10k; --quick 1k) are in one busy room: one more connection sends
// to it at a steady rate the whole time. The clients first connect plainly
// (connect, welcome, `join`), which is this scenario's baseline; then every
// socket is reset at once (what a proxy or a network blip does; a broker
// restart would lose the in-memory history, so `since` could not be honoured)
// and every client comes back at once the way Hubbub's own client does: with
// the welcome's `resume` secret (so, within the presence grace, no one sees
// it leave or come back and its name is kept) and `join` + `since` its last
// seq, then takes the replay. Measured: time from the drop until every client
// is caught up (has the seq its `joined` reported), server CPU over it,
// messages replayed, and both against the plain connect of the same clients
// to the same busy room at the same concurrency: the target is at most 1.5x
// (a reconnect does all a connect does, plus a secret check, a history read
// and its replay, so it cannot be cheaper; more than half again would mean
// the resume path has a cost of its own worth removing).
//
// Runs on one process and on `serve --workers 2`.
import { Histogram, summarize } from '../loadgen/histogram.js';
import { Fleet, allocateAddresses } from '../loadgen/fleet.js';
import type { ResumeOpenResult, ResumeReconnectResult } from '../loadgen/messages.js';
import { nowUs } from '../loadgen/wire.js';
import { startServer } from '../systems.js';
import { median, round, sleep, type Context } from './common.js';

export const RESUME_LAYOUTS = [
  { id: 'serve', label: 'serve (1 process)', args: [] as readonly string[] },
  { id: 'workers2', label: 'serve --workers 2', args: ['--workers', '2'] },
] as const;
export type ResumeLayout = (typeof RESUME_LAYOUTS)[number]['id'];

export interface ResumeLayoutResult {
  conns: number;
  /** The busy room's send rate, messages/s. */
  rate: number;
  /** The plain connect of the same clients: wall time, clients/s, server CPU ms per client. */
  connect: { ms: number; perSec: number; cpuMsPerConn: number; failed: number };
  /** Server CPU with everyone in the room and the sender on, % of one core. */
  steadyCpu: number;
  /** From the drop until the last client caught up. */
  reconnect: {
    ms: number; perSec: number; cpuMsPerConn: number; failed: number;
    /** Drop to caught up, per client, ms. */
    p50: number; p99: number; max: number;
    replayed: number; unrecovered: number; renamed: number; errors: string[];
  };
  /** Reconnect over plain connect: wall time, and server CPU per client. */
  timeRatio: number;
  cpuRatio: number;
}

export type ResumeResult = Partial<Record<ResumeLayout, ResumeLayoutResult>>;

export async function resumeStorm(ctx: Context): Promise<ResumeResult> {
  const out: ResumeResult = {};
  for (const layout of RESUME_LAYOUTS) {
    out[layout.id] = await resumeOnce(ctx, layout.args, layout.label, ctx.profile && layout.id === 'serve');
  }
  return out;
}

/** `profile`: CPU profiles of the plain connect and of the reconnect (one process only: the probe sees the primary alone). */
async function resumeOnce(ctx: Context, args: readonly string[], label: string, profile: boolean): Promise<ResumeLayoutResult> {
  const cfg = ctx.cfg.resume;
  const server = await startServer('hubbub', { hubbubArgs: [...args] });
  const fleet = new Fleet(cfg.workers);
  try {
    const ep = server.endpoint();
    const room = 'busy0';
    // The sender: a connection of its own, never dropped (a backend, or a user on another network).
    const s = await fleet.connect(`resume ${label} sender`, {
      group: 'sender', endpoint: ep, count: 1, from: 10_000_000, roomPrefix: 'busy', roomSize: Number.MAX_SAFE_INTEGER, concurrency: 1, timeoutMs: 30_000,
    }, [0]);
    if (s.failed > 0) throw new Error(`resume ${label}: the sender did not connect (${s.errors.join('; ')})`);
    await fleet.each({ cmd: 'rate', group: 'sender', senders: 1, rate: cfg.rate, textBytes: ctx.cfg.fanout.textBytes }, [0]);

    const per = Math.ceil(cfg.conns / fleet.size);
    const common = { host: ep.host, port: ep.port, room, concurrency: cfg.concurrencyPerWorker, timeoutMs: 30_000 };
    if (profile) await server.probe({ cmd: 'profile-start' });
    const cpu0 = server.cpuSeconds();
    const t0 = performance.now();
    const opened = await Promise.all(fleet.workers.map((w, k) => w.call<ResumeOpenResult>({
      cmd: 'resume-open', ...common, from: k * per, count: Math.max(0, Math.min(per, cfg.conns - k * per)), addresses: allocateAddresses(per),
    })));
    const connectMs = performance.now() - t0;
    const connectCpu = server.cpuSeconds() - cpu0;
    if (profile) await server.probe({ cmd: 'profile-stop', path: `${ctx.artifacts}/hubbub-resume-connect.cpuprofile` });
    const connectOk = opened.reduce((a, r) => a + r.ready, 0);
    const connectFailed = opened.reduce((a, r) => a + r.failed, 0);
    if (connectOk === 0) throw new Error(`resume ${label}: no client connected (${opened.flatMap((r) => r.errors).join('; ')})`);

    // Everyone in, the sender on: the room's steady cost, and time for the joins' presence to settle.
    await sleep(cfg.settleMs);
    const cpuS = server.cpuSeconds();
    const tS = performance.now();
    await sleep(cfg.steadyMs);
    const steadyCpu = ((server.cpuSeconds() - cpuS) / ((performance.now() - tS) / 1000)) * 100;

    if (profile) await server.probe({ cmd: 'profile-start' });
    const cpu1 = server.cpuSeconds();
    const droppedAtUs = nowUs();
    await fleet.each({ cmd: 'resume-drop' });
    const back = await Promise.all(fleet.workers.map((w) => w.call<ResumeReconnectResult>({
      cmd: 'resume-reconnect', ...common, addresses: allocateAddresses(per), droppedAtUs,
    })));
    const reconnectCpu = server.cpuSeconds() - cpu1;
    if (profile) await server.probe({ cmd: 'profile-stop', path: `${ctx.artifacts}/hubbub-resume-reconnect.cpuprofile` });
    const lastUs = Math.max(...back.map((r) => r.lastCaughtUpUs));
    const reconnectMs = (lastUs - droppedAtUs) / 1000;
    const ok = back.reduce((a, r) => a + r.ready, 0);
    const h = new Histogram();
    for (const r of back) h.merge(r.caughtUp);
    const lat = summarize(h);
    await fleet.each({ cmd: 'rate', group: 'sender', senders: 0, rate: 0, textBytes: 0 }, [0]);
    const cpuPerConnect = (connectCpu * 1000) / connectOk;
    const cpuPerReconnect = (reconnectCpu * 1000) / Math.max(1, ok);
    const result: ResumeLayoutResult = {
      conns: cfg.conns, rate: cfg.rate,
      connect: { ms: round(connectMs), perSec: round(connectOk / (connectMs / 1000)), cpuMsPerConn: round(cpuPerConnect, 3), failed: connectFailed },
      steadyCpu: round(steadyCpu, 1),
      reconnect: {
        ms: round(reconnectMs), perSec: round(ok / (reconnectMs / 1000)), cpuMsPerConn: round(cpuPerReconnect, 3),
        failed: back.reduce((a, r) => a + r.failed, 0),
        p50: lat.p50, p99: lat.p99, max: lat.max,
        replayed: back.reduce((a, r) => a + r.replayed, 0), unrecovered: back.reduce((a, r) => a + r.unrecovered, 0),
        renamed: back.reduce((a, r) => a + r.renamed, 0), errors: back.flatMap((r) => r.errors).slice(0, 5),
      },
      timeRatio: round(reconnectMs / connectMs, 2),
      cpuRatio: round(cpuPerReconnect / cpuPerConnect, 2),
    };
    const r = result.reconnect;
    ctx.log(`    ${label}: connect ${result.connect.perSec}/s (${result.connect.cpuMsPerConn} ms CPU each); reconnect+resume ${r.perSec}/s `
      + `(${r.cpuMsPerConn} ms CPU each), all caught up in ${r.ms} ms (p50 ${r.p50}, p99 ${r.p99}), ${r.replayed} replayed, `
      + `${r.unrecovered} unrecovered, ${r.renamed} renamed, ${r.failed} failed; x${result.timeRatio} time, x${result.cpuRatio} CPU`);
    return result;
  } finally {
    await fleet.each({ cmd: 'resume-close' }).catch(() => undefined);
    await fleet.dispose();
    await server.stop();
  }
}

export interface ResumeSummary {
  runs: number;
  conns: number;
  rate: number;
  layouts: {
    label: string; connectPerSec: number; reconnectPerSec: number; reconnectMs: number; p99: number;
    connectCpuMs: number; reconnectCpuMs: number; replayed: number; unrecovered: number; renamed: number; failed: number;
    timeRatio: number; cpuRatio: number; steadyCpu: number;
  }[];
}

/** Medians over runs per layout (the ratios: medians of the per-run ratios). */
export function summarizeResume(all: (ResumeResult | undefined)[]): ResumeSummary | null {
  const runs = all.filter((r): r is ResumeResult => r !== undefined);
  if (runs.length === 0) return null;
  const layouts: ResumeSummary['layouts'] = [];
  let conns = 0;
  let rate = 0;
  for (const l of RESUME_LAYOUTS) {
    const rs = runs.map((r) => r[l.id]).filter((x): x is ResumeLayoutResult => x !== undefined);
    if (rs.length === 0) continue;
    conns = rs[0].conns;
    rate = rs[0].rate;
    const med = (f: (x: ResumeLayoutResult) => number, digits = 0): number => round(median(rs.map(f)), digits);
    layouts.push({
      label: l.label, connectPerSec: med((x) => x.connect.perSec), reconnectPerSec: med((x) => x.reconnect.perSec),
      reconnectMs: med((x) => x.reconnect.ms), p99: med((x) => x.reconnect.p99),
      connectCpuMs: med((x) => x.connect.cpuMsPerConn, 3), reconnectCpuMs: med((x) => x.reconnect.cpuMsPerConn, 3),
      replayed: med((x) => x.reconnect.replayed), unrecovered: Math.max(...rs.map((x) => x.reconnect.unrecovered)),
      renamed: Math.max(...rs.map((x) => x.reconnect.renamed)), failed: Math.max(...rs.map((x) => x.reconnect.failed + x.connect.failed)),
      timeRatio: med((x) => x.timeRatio, 2), cpuRatio: med((x) => x.cpuRatio, 2), steadyCpu: med((x) => x.steadyCpu, 1),
    });
  }
  return { runs: runs.length, conns, rate, layouts };
}

export function renderResume(s: ResumeSummary | null): string {
  if (s === null) return '';
  const lines = ['', `reconnect storm with resume: ${s.conns} clients of one room at ${s.rate} msg/s, all reset at once, back with resume + join since (medians of ${s.runs}):`];
  for (const l of s.layouts) {
    lines.push(`  ${l.label.padEnd(18)}: connect ${l.connectPerSec}/s, reconnect+catch-up ${l.reconnectPerSec}/s (all caught up in ${l.reconnectMs} ms, p99 ${l.p99} ms); `
      + `CPU/client ${l.connectCpuMs} -> ${l.reconnectCpuMs} ms; resume/connect: time ${l.timeRatio}x, CPU ${l.cpuRatio}x; `
      + `${l.replayed} replayed, ${l.unrecovered} unrecovered, ${l.renamed} renamed, ${l.failed} failed; steady ${l.steadyCpu}% CPU`);
  }
  return lines.join('\n');
}
