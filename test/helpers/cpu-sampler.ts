// CPU time of another process over time, from /proc/<pid>/stat (Linux).
// Load tests judge cost by CPU seconds, not wall time: this machine is shared,
// and a busy neighbour stretches wall time without changing the work done.
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's utime and stime (getconf CLK_TCK: 100 on Linux). */
const TICKS_PER_S = 100;

/** CPU ms (user + system) the process has used, or null without /proc. */
export function cpuMsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_S; // utime, stime
  } catch {
    return null;
  }
}

export class CpuSampler {
  readonly #samples: { at: number; cpuMs: number }[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(readonly pid: number, everyMs = 50) {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), everyMs);
    this.#timer.unref();
  }

  /** False when /proc is not there (not Linux): callers skip CPU assertions. */
  get available(): boolean {
    return this.#samples.length > 0;
  }

  /** CPU ms used by the process up to wall time `at` (Date.now()), interpolated between samples. */
  cpuAt(at: number): number {
    const s = this.#samples;
    if (s.length === 0) return NaN;
    if (at <= s[0].at) return s[0].cpuMs;
    for (let i = 1; i < s.length; i++) {
      if (s[i].at >= at) {
        const a = s[i - 1];
        const b = s[i];
        return a.cpuMs + ((b.cpuMs - a.cpuMs) * (at - a.at)) / Math.max(1, b.at - a.at);
      }
    }
    return s[s.length - 1].cpuMs;
  }

  stop(): void {
    this.#sample();
    clearInterval(this.#timer);
  }

  #sample(): void {
    const cpuMs = cpuMsOf(this.pid);
    if (cpuMs !== null) this.#samples.push({ at: Date.now(), cpuMs });
  }
}
