// Summary: the results of all runs reduced to medians per system, and to
// ratios against the baselines of the same run (the median of the per-run
// ratios, so that a noisy run moves every system alike and cancels out).
import type { FanoutResult } from '../scenarios/fanout.js';
import type { Idle100kResult, IdleResult } from '../scenarios/idle.js';
import type { AttackReport } from '../loadgen/attacker.js';
import type { AttackName, HostileResult } from '../scenarios/hostile.js';
import type { ManyRoomsResult, NoisyResult, Storm50kResult, StormResult } from '../scenarios/rooms.js';
import type { ResumeResult } from '../scenarios/resume.js';
import { LAYOUTS, type Layout, type WorkersResult } from '../scenarios/workers.js';
import { median, round } from '../scenarios/common.js';
import type { BenchConfig } from '../config.js';
import type { SystemId } from '../systems.js';

export interface MicroResult {
  messages: number;
  throughput: { batched: number; pingPong: number; direct: number };
  bytesPerIdleActor: number;
  bytesPerConnectionActor: number;
  idleActors: number;
  joinsChunk: number;
  registrations: number[];
  joins: number[];
  flatness: number;
}

type PerSystem<T> = Partial<Record<SystemId, T>>;

export interface RunResult {
  run: number;
  idle?: PerSystem<IdleResult>;
  /** Keyed by room size. */
  fanout?: Record<string, PerSystem<FanoutResult>>;
  manyRooms?: PerSystem<ManyRoomsResult>;
  storm?: PerSystem<StormResult>;
  /** Hubbub alone: the same storm against `serve --workers 2` (two cores, as gorilla has). */
  stormWorkers?: StormResult;
  /** Hubbub alone: reconnect storm with resume, one process and --workers 2. */
  resume?: ResumeResult;
  noisy?: PerSystem<NoisyResult>;
  hostile?: PerSystem<HostileResult>;
  micro?: MicroResult;
  /** Scale-out fan-out: one process vs --workers 1 vs --workers 2. */
  workers?: WorkersResult;
  /** Opt-in: idle connections across --workers; a held storm across --workers. */
  idle100k?: Idle100kResult;
  storm50k?: Storm50kResult;
  errors: string[];
}

export interface Metric {
  scenario: string;
  label: string;
  unit: string;
  /** Which way is good, for reading ratios. */
  better: 'lower' | 'higher';
  get(run: RunResult, system: SystemId): number | undefined;
}

export const SUBJECTS: SystemId[] = ['hubbub', 'hubbub-batch'];
export const BASELINES: SystemId[] = ['ws-hub', 'socketio', 'gorilla'];

/** 40000 -> "40k". */
function kilo(n: number): string {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

export function metrics(cfg: BenchConfig): Metric[] {
  const out: Metric[] = [];
  const idlePoint = (r: RunResult, s: SystemId, n: number) => r.idle?.[s === 'hubbub-batch' ? 'hubbub' : s]?.points.find((p) => p.n === n);
  for (const n of cfg.idle.ns) {
    out.push({ scenario: 'idle', label: `RSS/conn N=${n}`, unit: 'B', better: 'lower', get: (r, s) => s === 'hubbub-batch' ? undefined : idlePoint(r, s, n)?.rssPerConn });
    out.push({ scenario: 'idle', label: `heap/conn N=${n}`, unit: 'B', better: 'lower', get: (r, s) => s === 'hubbub-batch' ? undefined : idlePoint(r, s, n)?.heapPerConn ?? undefined });
  }
  const maxN = cfg.idle.ns[cfg.idle.ns.length - 1];
  out.push({ scenario: 'idle', label: `idle CPU N=${maxN}`, unit: '%', better: 'lower', get: (r, s) => s === 'hubbub-batch' ? undefined : r.idle?.[s]?.cpu });
  for (const { members, startRate } of cfg.fanout.rooms) {
    const f = (r: RunResult, s: SystemId) => r.fanout?.[String(members)]?.[s];
    // The sweep's first rate is the same for every system: latency compared under the same load.
    out.push({
      scenario: 'fanout', label: `p99 @ ${kilo(startRate * members)}/s M=${members}`, unit: 'ms', better: 'lower',
      get: (r, s) => f(r, s)?.steps.find((x) => x.sendRate === startRate)?.p99,
    });
    out.push({ scenario: 'fanout', label: `max delivered/s M=${members}`, unit: 'msg/s', better: 'higher', get: (r, s) => f(r, s)?.maxDelivered });
    out.push({ scenario: 'fanout', label: `max frames/s M=${members}`, unit: 'frame/s', better: 'higher', get: (r, s) => f(r, s)?.maxFrames });
    out.push({ scenario: 'fanout', label: `p99 @ half max M=${members}`, unit: 'ms', better: 'lower', get: (r, s) => f(r, s)?.half?.p99 });
  }
  out.push({ scenario: 'manyRooms', label: 'many rooms p50', unit: 'ms', better: 'lower', get: (r, s) => r.manyRooms?.[s]?.p50 });
  out.push({ scenario: 'manyRooms', label: 'many rooms p99', unit: 'ms', better: 'lower', get: (r, s) => r.manyRooms?.[s]?.p99 });
  out.push({ scenario: 'manyRooms', label: 'many rooms server CPU', unit: '%', better: 'lower', get: (r, s) => r.manyRooms?.[s]?.serverCpu });
  out.push({ scenario: 'storm', label: `storm accepted/s (${cfg.storm.conns})`, unit: 'conn/s', better: 'higher', get: (r, s) => r.storm?.[s]?.acceptedPerSec });
  out.push({ scenario: 'storm', label: 'storm failures', unit: '', better: 'lower', get: (r, s) => r.storm?.[s]?.failed });
  // CPU per accepted connection over the storm (from /proc; Go's is both cores'): what the rate costs, noise aside.
  out.push({ scenario: 'storm', label: 'storm server CPU/conn', unit: 'µs', better: 'lower', get: (r, s) => r.storm?.[s]?.serverUsPerConn });
  out.push({ scenario: 'storm', label: 'storm generator CPU/conn', unit: 'µs', better: 'lower', get: (r, s) => r.storm?.[s]?.genUsPerConn });
  // Hubbub on two processes (serve --workers 2: a primary that accepts, two workers) in the hubbub
  // column, against the peers' own storm (the same figures as the rows above), for its ratios.
  const w2 = (r: RunResult, s: SystemId) => (s === 'hubbub' ? r.stormWorkers : s === 'hubbub-batch' ? undefined : r.storm?.[s]);
  out.push({ scenario: 'storm', label: 'storm, H --workers 2: conn/s', unit: 'conn/s', better: 'higher', get: (r, s) => w2(r, s)?.acceptedPerSec });
  out.push({ scenario: 'storm', label: 'storm, H --workers 2: failed', unit: '', better: 'lower', get: (r, s) => w2(r, s)?.failed });
  out.push({ scenario: 'storm', label: 'storm, H --workers 2: CPU/conn', unit: 'µs', better: 'lower', get: (r, s) => w2(r, s)?.serverUsPerConn });
  out.push({ scenario: 'noisy', label: 'noisy: B p99 quiet', unit: 'ms', better: 'lower', get: (r, s) => r.noisy?.[s]?.quiet.p99 });
  out.push({ scenario: 'noisy', label: 'noisy: B p99 flooded', unit: 'ms', better: 'lower', get: (r, s) => r.noisy?.[s]?.flood.p99 });
  // No ratio where the flooder sent nothing in the window (dropped before it): there was no flood to be isolated from.
  // No ratio where room A carried nothing in the window: the flooder was gone (gorilla drops it).
  // Not its sends/s: a shaped flooder (Hubbub's defaults) sends nothing for seconds while the
  // backlog it queued in TCP during the warm-up is read at the rate, yet room A is busy.
  out.push({ scenario: 'noisy', label: 'noisy: flooded/quiet p99', unit: 'x', better: 'lower', get: (r, s) => ((r.noisy?.[s]?.floodDelivered ?? 0) > 0 ? r.noisy?.[s]?.ratio : undefined) });
  out.push({ scenario: 'noisy', label: 'noisy: room A deliveries/s', unit: 'msg/s', better: 'higher', get: (r, s) => r.noisy?.[s]?.floodDelivered });
  out.push({ scenario: 'noisy', label: 'noisy: flooder sends/s', unit: 'msg/s', better: 'higher', get: (r, s) => r.noisy?.[s]?.floodSent });
  // Hubbub with its rate limit off: what the scheduler alone does with a flooder that gets every frame read.
  out.push({ scenario: 'noisy', label: 'noisy, --rate 0: B p99 flooded', unit: 'ms', better: 'lower', get: (r, s) => r.noisy?.[s]?.unlimited?.flood.p99 });
  out.push({ scenario: 'noisy', label: 'noisy, --rate 0: flooded/quiet', unit: 'x', better: 'lower', get: (r, s) => r.noisy?.[s]?.unlimited?.ratio });
  out.push({ scenario: 'noisy', label: 'noisy, --rate 0: flooder sends/s', unit: 'msg/s', better: 'higher', get: (r, s) => r.noisy?.[s]?.unlimited?.floodSent });
  out.push({ scenario: 'noisy', label: 'noisy, --rate 0: room A deliveries/s', unit: 'msg/s', better: 'higher', get: (r, s) => r.noisy?.[s]?.unlimited?.floodDelivered });
  // hostile: the bystander's ping p99 under each attack over its quiet p99 (target <= 2), and what the attack got.
  for (const a of ['busy-client', 'slowloris', 'joins', 'history-flood', 'history-fill'] as const) {
    out.push({ scenario: 'hostile', label: `hostile ${a}: bystander p99 attack/quiet`, unit: 'x', better: 'lower', get: (r, s) => r.hostile?.[s]?.[a]?.ratio });
  }
  out.push({ scenario: 'hostile', label: 'hostile busy-client: ops answered', unit: '', better: 'higher', get: (r, s) => hostileReport(r, s, 'busy-client', 'busy')?.answered });
  out.push({ scenario: 'hostile', label: 'hostile slowloris: sockets closed by the server', unit: '', better: 'higher', get: (r, s) => hostileReport(r, s, 'slowloris', 'slowloris')?.closedByServer });
  out.push({ scenario: 'hostile', label: 'hostile joins: rooms joined', unit: '', better: 'lower', get: (r, s) => hostileReport(r, s, 'joins', 'joins')?.joined });
  out.push({ scenario: 'hostile', label: 'hostile history-flood: pages served', unit: '', better: 'lower', get: (r, s) => hostileReport(r, s, 'history-flood', 'history-flood')?.pages });
  out.push({ scenario: 'hostile', label: 'hostile history-fill: RSS growth', unit: 'MB', better: 'lower', get: (r, s) => r.hostile?.[s]?.['history-fill']?.rssGrowthMb });
  out.push({ scenario: 'hostile', label: 'hostile history-fill: kept after GC (heap + external)', unit: 'MB', better: 'lower', get: (r, s) => r.hostile?.[s]?.['history-fill']?.keptMb });
  out.push({ scenario: 'hostile', label: 'hostile history-fill: RSS growth after GC', unit: 'MB', better: 'lower', get: (r, s) => r.hostile?.[s]?.['history-fill']?.rssAfterGcMb });
  out.push({ scenario: 'hostile', label: 'hostile history-fill: MB sent', unit: 'MB', better: 'higher', get: (r, s) => {
    const rep = hostileReport(r, s, 'history-fill', 'history-fill');
    return rep === undefined ? undefined : round(rep.sentBytes / 1e6);
  } });
  return out;
}

function hostileReport<K extends AttackReport['kind']>(r: RunResult, s: SystemId, name: AttackName, kind: K): Extract<AttackReport, { kind: K }> | undefined {
  const rep = r.hostile?.[s]?.[name]?.report;
  return rep?.kind === kind ? (rep as Extract<AttackReport, { kind: K }>) : undefined;
}

export interface SummaryRow {
  scenario: string;
  label: string;
  unit: string;
  better: 'lower' | 'higher';
  /** Median over runs, per system. */
  medians: PerSystem<number>;
  /** `${subject}/${baseline}` -> median over runs of subject ÷ baseline. */
  ratios: Record<string, number>;
}

export interface MicroSummary {
  batchedMsgsPerSec: number;
  pingPongMsgsPerSec: number;
  directCallsPerSec: number;
  directOverScheduler: number;
  bytesPerIdleActor: number;
  bytesPerConnectionActor: number;
  joinsPerSecFirstChunk: number;
  joinsPerSecLastChunk: number;
  flatness: number;
}

export interface ScaleOutSummary {
  members: number;
  batch: boolean;
  runs: number;
  /** Per layout, medians over runs of its best step. */
  layouts: { layout: Layout; label: string; delivered: number; frames: number; p99: number; serverCpu: number; genCpu: number }[];
  /** Median of the per-run ratios. */
  ratio: number;
  ratioW1: number;
}

function summarizeScaleOut(runs: RunResult[]): ScaleOutSummary | null {
  const results = runs.map((r) => r.workers).filter((w): w is WorkersResult => w !== undefined);
  if (results.length === 0) return null;
  const med = (f: (w: WorkersResult) => number | undefined): number => median(results.map((w) => f(w) ?? NaN));
  return {
    members: results[0].members,
    batch: results[0].batch,
    runs: results.length,
    layouts: LAYOUTS.map(({ id, label }) => ({
      layout: id, label,
      delivered: round(med((w) => w.layouts[id]?.best.delivered)),
      frames: round(med((w) => w.layouts[id]?.best.frames)),
      p99: round(med((w) => w.layouts[id]?.best.p99), 1),
      serverCpu: round(med((w) => w.layouts[id]?.best.serverCpu)),
      genCpu: round(med((w) => w.layouts[id]?.best.genCpu)),
    })),
    ratio: round(med((w) => w.ratio), 2),
    ratioW1: round(med((w) => w.ratioW1), 2),
  };
}

/** The opt-in scale-out scenarios, medians over runs (null when not run). */
export interface ScaleSummary {
  idle100k: { conns: number; workers: number; rssPerConn: number; heapPerConn: number; cpu: number; connectPerSec: number; runs: number } | null;
  storm50k: { conns: number; workers: number; acceptedPerSec: number; failed: number; open: number; connectP99: number; runs: number } | null;
}

function summarizeScale(runs: RunResult[]): ScaleSummary {
  const idle = runs.map((r) => r.idle100k).filter((x): x is Idle100kResult => x !== undefined);
  const storms = runs.map((r) => r.storm50k).filter((x): x is Storm50kResult => x !== undefined);
  return {
    idle100k: idle.length === 0 ? null : {
      conns: idle[0].conns, workers: idle[0].workers, runs: idle.length,
      rssPerConn: round(median(idle.map((x) => x.rssPerConn))), heapPerConn: round(median(idle.map((x) => x.heapPerConn))), cpu: round(median(idle.map((x) => x.cpu)), 2),
      connectPerSec: round(median(idle.map((x) => x.connectPerSec))),
    },
    storm50k: storms.length === 0 ? null : {
      conns: storms[0].conns, workers: storms[0].workers, runs: storms.length,
      acceptedPerSec: round(median(storms.map((x) => x.acceptedPerSec))), failed: Math.max(...storms.map((x) => x.failed)),
      open: Math.min(...storms.map((x) => x.open)), connectP99: round(median(storms.map((x) => x.connectP99)), 1),
    },
  };
}

export function summarize(cfg: BenchConfig, runs: RunResult[], systems: SystemId[]): { rows: SummaryRow[]; micro: MicroSummary | null; scaleOut: ScaleOutSummary | null; scale: ScaleSummary } {
  const rows: SummaryRow[] = [];
  for (const m of metrics(cfg)) {
    const medians: PerSystem<number> = {};
    for (const s of systems) {
      const v = median(runs.map((r) => m.get(r, s) ?? NaN));
      if (Number.isFinite(v)) medians[s] = round(v, v < 10 ? 2 : 0);
    }
    if (Object.keys(medians).length === 0) continue;
    const ratios: Record<string, number> = {};
    for (const subject of SUBJECTS.filter((s) => systems.includes(s))) {
      for (const base of BASELINES.filter((s) => systems.includes(s))) {
        const v = median(runs.map((r) => (m.get(r, subject) ?? NaN) / (m.get(r, base) ?? NaN)));
        if (Number.isFinite(v)) ratios[`${subject}/${base}`] = round(v, 2);
      }
    }
    rows.push({ scenario: m.scenario, label: m.label, unit: m.unit, better: m.better, medians, ratios });
  }
  const micros = runs.map((r) => r.micro).filter((m): m is MicroResult => m !== undefined);
  const micro = micros.length === 0 ? null : {
    batchedMsgsPerSec: median(micros.map((m) => m.throughput.batched)),
    pingPongMsgsPerSec: median(micros.map((m) => m.throughput.pingPong)),
    directCallsPerSec: median(micros.map((m) => m.throughput.direct)),
    directOverScheduler: round(median(micros.map((m) => m.throughput.direct / m.throughput.batched)), 1),
    bytesPerIdleActor: median(micros.map((m) => m.bytesPerIdleActor)),
    bytesPerConnectionActor: median(micros.map((m) => m.bytesPerConnectionActor)),
    joinsPerSecFirstChunk: median(micros.map((m) => m.joins[0])),
    joinsPerSecLastChunk: median(micros.map((m) => m.joins[m.joins.length - 1])),
    flatness: median(micros.map((m) => m.flatness)),
  };
  return { rows, micro, scaleOut: summarizeScaleOut(runs), scale: summarizeScale(runs) };
}
