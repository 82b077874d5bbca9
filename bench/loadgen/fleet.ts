// Fleet: the orchestrator's side of the load generator. Forks worker
// processes, sends them commands, merges what they answer, and draws the
// progress bar while connections ramp up.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Histogram } from './histogram.js';
import type {
  CollectResult, Command, ConnectCmd, ConnectResult, Counters, Reply, StormCmd, StormResult,
} from './messages.js';
import { nowUs } from './wire.js';

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));
/** Connections per source address: well under the ~28k ephemeral ports of one. */
const CONNS_PER_ADDRESS = 8000;

// Fresh addresses for every use: a client that closes first leaves TIME_WAIT
// sockets on its address for 60 s, and bind() to an address crowded with them
// gets slow (measured: 12 ms a connection instead of 1). Each bench process
// starts at a random 127.A.0.0 block, so back-to-back runs do not meet either.
let addressCursor = ((1 + Math.floor(Math.random() * 250)) << 16) + 2;

/** Fresh loopback source addresses (127.A.0.2, 127.A.0.3, ...; never 127.0.0.1) for `conns` connections. */
export function allocateAddresses(conns: number): string[] {
  const n = Math.max(1, Math.ceil(conns / CONNS_PER_ADDRESS));
  const out: string[] = [];
  while (out.length < n) {
    const a = addressCursor++;
    const hi = (a >> 8) & 0xff;
    const lo = a & 0xff;
    if (lo === 0 || lo === 255 || (hi === 0 && lo === 1)) continue;
    out.push(`127.${(a >> 16) & 0xff}.${hi}.${lo}`);
  }
  return out;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

class Worker {
  readonly proc: ChildProcess;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  ready = 0;
  failed = 0;

  constructor() {
    this.proc = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (msg: Reply) => {
      if (msg.type === 'progress') {
        this.ready = msg.ready;
        this.failed = msg.failed;
        return;
      }
      const p = this.#pending.get(msg.id);
      if (p === undefined) return;
      this.#pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(msg.error));
    });
    this.proc.on('exit', (code, signal) => {
      for (const p of this.#pending.values()) p.reject(new Error(`load worker exited (${code ?? signal})`));
      this.#pending.clear();
    });
  }

  call<T>(cmd: Command): Promise<T> {
    const id = ++this.#nextId;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ ...cmd, id });
    });
  }
}

export class Fleet {
  readonly workers: Worker[];
  #window = 0;

  constructor(size: number) {
    this.workers = Array.from({ length: size }, () => new Worker());
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * Connects `count` connections spread evenly over the workers (or over the
   * given worker indexes), with a progress bar labelled `label`.
   */
  async connect(label: string, spec: Omit<ConnectCmd, 'cmd' | 'addresses' | 'from'> & { from?: number }, on?: number[]): Promise<ConnectResult> {
    const targets = on ?? this.workers.map((_, i) => i);
    const from = spec.from ?? 0;
    const per = Math.ceil(spec.count / targets.length);
    const jobs: Promise<ConnectResult>[] = [];
    targets.forEach((w, k) => {
      const count = Math.max(0, Math.min(per, spec.count - k * per));
      if (count === 0) return;
      this.workers[w].ready = 0;
      this.workers[w].failed = 0;
      jobs.push(this.workers[w].call<ConnectResult>({
        ...spec, cmd: 'connect', from: from + k * per, count, addresses: allocateAddresses(count),
      }));
    });
    const bar = progressBar(label, spec.count, () => targets.reduce((s, w) => s + this.workers[w].ready + this.workers[w].failed, 0));
    try {
      const results = await Promise.all(jobs);
      return {
        ready: results.reduce((s, r) => s + r.ready, 0),
        failed: results.reduce((s, r) => s + r.failed, 0),
        ms: Math.max(...results.map((r) => r.ms)),
        errors: results.flatMap((r) => r.errors).slice(0, 5),
      };
    } finally {
      bar.done();
    }
  }

  async storm(label: string, spec: Omit<StormCmd, 'cmd' | 'addresses' | 'from'>): Promise<StormResult & { wallMs: number }> {
    const per = Math.ceil(spec.count / this.size);
    const t = Date.now();
    const bar = progressBar(label, spec.count, () => this.workers.reduce((s, w) => s + w.ready + w.failed, 0));
    try {
      const results = await Promise.all(this.workers.map((w, k) => {
        w.ready = 0;
        w.failed = 0;
        const count = Math.max(0, Math.min(per, spec.count - k * per));
        return w.call<StormResult>({ ...spec, cmd: 'storm', from: k * per, count, addresses: allocateAddresses(count) });
      }));
      const latency = new Histogram();
      for (const r of results) latency.merge(r.connectLatency);
      return {
        ready: results.reduce((s, r) => s + r.ready, 0),
        failed: results.reduce((s, r) => s + r.failed, 0),
        ms: Math.max(...results.map((r) => r.ms)),
        errors: results.flatMap((r) => r.errors).slice(0, 5),
        connectLatency: latency.toSparse(),
        wallMs: Date.now() - t,
      };
    } finally {
      bar.done();
    }
  }

  /** Sends a command to some workers (all by default) and returns their answers. */
  each<T>(cmd: Command, on?: number[]): Promise<T[]> {
    const targets = on ?? this.workers.map((_, i) => i);
    return Promise.all(targets.map((w) => this.workers[w].call<T>(cmd)));
  }

  /** Opens a measuring window on every worker; returns its id. */
  async windowStart(): Promise<number> {
    const window = ++this.#window;
    await this.each({ cmd: 'window-start', window, t0: nowUs() });
    return window;
  }

  /** Ends the counting of a window: counters summed over workers, plus each worker's. */
  async windowEnd(window: number): Promise<{ sum: Counters; perWorker: Counters[] }> {
    const perWorker = await this.each<Counters>({ cmd: 'window-end', window });
    return { sum: sumCounters(perWorker), perWorker };
  }

  /** Latencies of messages sent in the window, merged per group. */
  async collect(window: number): Promise<Map<string, Histogram>> {
    const results = await this.each<CollectResult>({ cmd: 'collect', window });
    const out = new Map<string, Histogram>();
    for (const r of results) {
      for (const [group, sparse] of Object.entries(r.groups)) {
        let h = out.get(group);
        if (h === undefined) out.set(group, (h = new Histogram()));
        h.merge(sparse);
      }
    }
    return out;
  }

  async counters(): Promise<Counters> {
    return sumCounters(await this.each<Counters>({ cmd: 'counters' }));
  }

  /** Kills every worker: the kernel closes their sockets at once. */
  async dispose(): Promise<void> {
    await Promise.all(this.workers.map((w) => new Promise<void>((resolve) => {
      if (w.proc.exitCode !== null || w.proc.signalCode !== null) return resolve();
      w.proc.once('exit', () => resolve());
      w.proc.kill('SIGKILL');
    })));
  }
}

function sumCounters(list: Counters[]): Counters {
  const out: Counters = { msgs: 0, frames: 0, bytes: 0, sent: 0, lost: 0, open: 0, cpuUs: 0, groups: {} };
  for (const c of list) {
    out.msgs += c.msgs;
    out.frames += c.frames;
    out.bytes += c.bytes;
    out.sent += c.sent;
    out.lost += c.lost;
    out.open += c.open;
    out.cpuUs += c.cpuUs;
    for (const [name, g] of Object.entries(c.groups)) {
      const o = (out.groups[name] ??= { msgs: 0, sent: 0 });
      o.msgs += g.msgs;
      o.sent += g.sent;
    }
  }
  return out;
}

/** A progress bar on stderr: redrawn in place on a terminal, a line every few seconds otherwise. */
function progressBar(label: string, total: number, current: () => number): { done(): void } {
  const tty = process.stderr.isTTY === true;
  const started = Date.now();
  let lastLine = 0;
  const draw = (final: boolean): void => {
    const n = current();
    const frac = total === 0 ? 1 : Math.min(1, n / total);
    const width = 30;
    const fill = Math.round(frac * width);
    const secs = (Date.now() - started) / 1000;
    const text = `  ${label.padEnd(28)} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${n}/${total} ${secs.toFixed(1)}s`;
    if (tty) process.stderr.write(`\r${text}${final ? '\n' : ''}`);
    else if (final || Date.now() - lastLine > 5000) {
      lastLine = Date.now();
      process.stderr.write(`${text}\n`);
    }
  };
  const timer = setInterval(() => draw(false), 200);
  return {
    done() {
      clearInterval(timer);
      draw(true);
    },
  };
}
