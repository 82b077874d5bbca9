// What every scenario shares: the context it runs in, measuring windows
// (server CPU from /proc, generator CPU from the workers, latencies of the
// window's messages), and bounded waits.
import { readFileSync } from 'node:fs';
import type { BenchConfig } from '../config.js';
import { Fleet } from '../loadgen/fleet.js';
import { summarize, type Histogram, type LatencySummary } from '../loadgen/histogram.js';
import type { Counters } from '../loadgen/messages.js';
import type { RunningServer, ServerOptions, SystemId } from '../systems.js';
import { startServer } from '../systems.js';

export interface Context {
  cfg: BenchConfig;
  systems: SystemId[];
  /** Directory for profiles and snapshots of this bench run. */
  artifacts: string;
  /** Write a heap snapshot of Hubbub at the largest idle N (--heap-snapshot). */
  heapSnapshot: boolean;
  /** CPU-profile Hubbub's fan-out steps (--profile). */
  profile: boolean;
  log(line: string): void;
}

/** A benchmark waits on the wall clock by design: windows are measured in time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function workersFor(cfg: BenchConfig, conns: number, min = 2): number {
  return Math.max(min, Math.ceil(conns / cfg.connsPerWorker));
}

export interface Window {
  counters: Counters;
  seconds: number;
  /** Server CPU over the window, % of one core (all threads). */
  serverCpu: number;
  /** Load generator CPU over the window, % of one core, all workers summed. */
  genCpu: number;
  latency: Map<string, Histogram>;
}

/** Measures one window of `ms` on every worker; latencies are collected `graceMs` after it ends. */
export async function measure(fleet: Fleet, server: RunningServer, ms: number, graceMs: number): Promise<Window> {
  const cpu0 = server.cpuSeconds();
  const t0 = performance.now();
  const id = await fleet.windowStart();
  await sleep(ms);
  const { sum } = await fleet.windowEnd(id);
  const seconds = (performance.now() - t0) / 1000;
  const serverCpu = ((server.cpuSeconds() - cpu0) / seconds) * 100;
  await sleep(graceMs);
  const latency = await fleet.collect(id);
  return { counters: sum, seconds, serverCpu: round(serverCpu, 1), genCpu: round(sum.cpuUs / 1e4 / seconds, 1), latency };
}

export function latencyOf(w: Window, group: string): LatencySummary {
  const h = w.latency.get(group);
  return h === undefined ? { samples: 0, p50: NaN, p99: NaN, max: NaN } : summarize(h);
}

/**
 * Waits until nothing has arrived for `quietMs` (bounded by `maxMs`): no chat
 * message and no other frame either (a big room's presence backlog after a
 * join storm must not spill into the next measurement).
 */
export async function drain(fleet: Fleet, quietMs = 500, maxMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + maxMs;
  let last = (await fleet.counters()).bytes;
  let stableSince = Date.now();
  while (Date.now() < deadline) {
    await sleep(100);
    const now = (await fleet.counters()).bytes;
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= quietMs) return true;
  }
  return false;
}

/** Starts a server and a fleet, runs `body`, and always kills both. */
export async function withServer<T>(
  system: SystemId, workers: number, body: (server: RunningServer, fleet: Fleet) => Promise<T>, options: ServerOptions = {},
): Promise<T> {
  const server = await startServer(system, options);
  const fleet = new Fleet(workers);
  try {
    return await body(server, fleet);
  } finally {
    await fleet.dispose();
    await server.stop();
  }
}

/**
 * The rising-rate sweep of the fan-out scenarios: runs `step` at startRate,
 * then x factor per step, until a step loses members (at once) or two steps
 * in a row saturate (delivered < 80% of offered, or p99 over 1 s: one noisy
 * step on a shared machine must not end it). `log` is called after each step.
 */
export async function sweepRates<S extends { delivered: number; offered: number; p99: number; lost: number }>(
  startRate: number, factor: number, maxSteps: number, step: (rate: number) => Promise<S>, log: (s: S) => void,
): Promise<S[]> {
  const steps: S[] = [];
  let rate = startRate;
  let saturated = 0;
  for (let i = 0; i < maxSteps; i++) {
    const s = await step(rate);
    steps.push(s);
    log(s);
    if (s.lost > 0) break;
    saturated = s.delivered < 0.8 * s.offered || !(s.p99 <= 1000) ? saturated + 1 : 0;
    if (saturated === 2) break;
    rate *= factor;
  }
  return steps;
}

/**
 * The machine's CPU ticks from /proc/stat (all cores). Softirq time (where
 * loopback TCP delivers much of its work) is not charged to any process here,
 * and other jobs on the machine show up too: this says whether the cores were
 * saturated.
 */
export function machineCpu(): { busy: number; softirq: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, softirq, total: busy + idle + iowait };
}

export function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export function fail(what: string, result: { failed: number; errors: string[] }): Error {
  return new Error(`${what}: ${result.failed} connections failed (${result.errors.join('; ')})`);
}
