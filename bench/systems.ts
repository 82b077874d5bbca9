// The systems under test: how to start each as a child process, learn its
// port, read its RSS and CPU from /proc, ask it for its heap, and kill it.
//
//   hubbub        node dist/src/cli.js serve (one event per frame)
//   hubbub-batch  the same server; its clients connect with ?batch=1
//   ws-hub        bench/baselines/ws-hub.ts
//   socketio      bench/baselines/socketio-hub.ts (Socket.IO 4, websocket only)
//   gorilla       bench/baselines/gorilla-chat (Go), when Go is installed
//
// Node servers run with --expose-gc and the probe preloaded (probe.ts).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Endpoint, WireKind } from './loadgen/wire.js';

export type SystemId = 'hubbub' | 'hubbub-batch' | 'ws-hub' | 'socketio' | 'gorilla';
export const ALL_SYSTEMS: SystemId[] = ['hubbub', 'hubbub-batch', 'ws-hub', 'socketio', 'gorilla'];

const DIST_BENCH = fileURLToPath(new URL('.', import.meta.url)); // dist/bench/
const ROOT = join(DIST_BENCH, '..', '..');
const GORILLA_SRC = join(ROOT, 'bench', 'baselines', 'gorilla-chat');
const GORILLA_BIN = join(DIST_BENCH, 'gorilla-chat');
const CLK_TCK = 100; // getconf CLK_TCK on Linux x86-64

export interface ServerOptions {
  /** Extra flags for `hubbub serve` (e.g. --heartbeat-ms). */
  hubbubArgs?: string[];
  /** Another build's cli.js to run as `hubbub` (A/B against a baseline build: bench/ab-fanout.ts). */
  hubbubCli?: string;
  /** Extra flags for node itself (e.g. --cpu-prof; cluster workers inherit them). */
  nodeArgs?: string[];
  /** Another script, with its arguments, to run as `ws-hub` (it speaks that wire): the storm's floors (analyze/storm-floor.ts). */
  wsHubScript?: string[];
}

export interface Memory {
  rss: number;
  /** JS heap used after a full GC (Node), or Go heap + goroutine stacks after runtime.GC(). */
  heap: number | null;
  /** Node: external + array buffers (socket buffers live here). */
  external: number | null;
}

/** Every server started and not yet reaped: killed if the bench itself exits or is interrupted. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const proc of live) proc.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => process.exit(130));
}

export class RunningServer {
  #probeId = 0;
  readonly #probes = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(
    readonly system: SystemId,
    readonly proc: ChildProcess,
    readonly port: number,
  ) {
    proc.on('message', (msg: { probe?: number; ok: boolean; result?: unknown; error?: string }) => {
      if (msg.probe === undefined) return;
      const p = this.#probes.get(msg.probe);
      this.#probes.delete(msg.probe);
      if (msg.ok) p?.resolve(msg.result);
      else p?.reject(new Error(msg.error));
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  endpoint(): Endpoint {
    return { kind: wireOf(this.system), host: '127.0.0.1', port: this.port, batch: this.system === 'hubbub-batch' };
  }

  /** Asks the probe of a Node server; rejects for Go. */
  probe<T>(cmd: object, timeoutMs = 120_000): Promise<T> {
    if (this.proc.send === undefined) return Promise.reject(new Error(`${this.system} has no probe`));
    const id = ++this.#probeId;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`probe ${JSON.stringify(cmd)} timed out`)), timeoutMs);
      this.#probes.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v as T); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.proc.send!({ ...cmd, id });
    });
  }

  /**
   * The server's processes: itself and its descendants (`hubbub serve
   * --workers N` is a primary and N workers). Read from /proc each time, so a
   * restarted worker is found.
   */
  pids(): number[] {
    return processTree(this.pid);
  }

  /** CPU time the server has used, seconds (user + system, all threads, summed over its processes). */
  cpuSeconds(): number {
    return this.cpuByPid().reduce((sum, p) => sum + p.cpu, 0);
  }

  /** CPU seconds of each of the server's processes (the primary first). */
  cpuByPid(): { pid: number; cpu: number }[] {
    const out: { pid: number; cpu: number }[] = [];
    for (const pid of this.pids()) {
      const fields = statFields(pid);
      if (fields !== null) out.push({ pid, cpu: (Number(fields[11]) + Number(fields[12])) / CLK_TCK }); // utime, stime (fields 14, 15)
    }
    return out;
  }

  /** RSS summed over the server's processes. */
  rss(): number {
    let sum = 0;
    for (const pid of this.pids()) {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
        if (m !== null) sum += Number(m[1]) * 1024;
      } catch {
        // It exited between the listing and the read.
      }
    }
    return sum;
  }

  /** Memory after a full GC: RSS read after the GC so both describe the same moment. */
  async memory(): Promise<Memory> {
    if (this.system === 'gorilla') {
      const res = await fetch(`http://127.0.0.1:${this.port}/debug/mem`);
      const m = (await res.json()) as { heapAlloc: number; stackInuse: number };
      return { rss: this.rss(), heap: m.heapAlloc + m.stackInuse, external: null };
    }
    const m = await this.probe<{ heapUsed: number; external: number; arrayBuffers: number }>({ cmd: 'mem' });
    return { rss: this.rss(), heap: m.heapUsed, external: m.external };
  }

  /**
   * SIGTERM, and waits (bounded) for a graceful exit: how a server run with
   * --cpu-prof writes its profiles (a primary stops its workers first).
   */
  async stopGracefully(timeoutMs = 20_000): Promise<boolean> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return true;
    const exited = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.proc.once('exit', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    this.proc.kill('SIGTERM');
    const ok = await exited;
    if (!ok) await this.stop();
    return ok;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      this.proc.once('exit', () => resolve());
      this.proc.kill('SIGKILL');
    });
  }
}

/** Fields of /proc/<pid>/stat after the command name (field 3 first), or null if it is gone. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** `root` and every process below it, from the parent pids in /proc. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const fields = statFields(pid);
    if (fields === null) continue;
    const ppid = Number(fields[1]);
    let list = children.get(ppid);
    if (list === undefined) children.set(ppid, (list = []));
    list.push(pid);
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]) ?? []));
  return out;
}

export function wireOf(system: SystemId): WireKind {
  return system === 'hubbub-batch' ? 'hubbub' : system;
}

/** Is Go installed with Debian's gorilla package? Returns why not, or null. */
export function goMissing(): string | null {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
  } catch {
    return 'go is not installed';
  }
  if (!existsSync('/usr/share/gocode/src/github.com/gorilla/websocket/conn.go')) {
    return 'golang-github-gorilla-websocket-dev is not installed';
  }
  return null;
}

/** Builds the Go baseline against Debian's gorilla package, in GOPATH mode: no network. */
export function buildGorilla(): void {
  mkdirSync(DIST_BENCH, { recursive: true });
  execFileSync('go', ['build', '-o', GORILLA_BIN, '.'], {
    cwd: GORILLA_SRC,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOFLAGS: '', GOPROXY: 'off',
      GOCACHE: process.env.GOCACHE ?? join(tmpdir(), 'hubbub-bench-gocache'),
    },
  });
}

function command(system: SystemId, options: ServerOptions): { cmd: string; args: string[]; node: boolean } {
  const nodeFlags = ['--expose-gc', '--import', join(DIST_BENCH, 'probe.js'), ...(options.nodeArgs ?? [])];
  switch (system) {
    case 'hubbub':
    case 'hubbub-batch':
      return {
        cmd: process.execPath, node: true,
        // --max-semi-space-size=1: how Hubbub launches itself (shebang, npm start); see src/cli.ts.
        // First, so that a V8 flag in nodeArgs overrides it (V8 keeps a flag's last value).
        args: ['--max-semi-space-size=1', ...nodeFlags, options.hubbubCli ?? join(ROOT, 'dist', 'src', 'cli.js'), 'serve', '--port', '0', '--host', '127.0.0.1', '--log-level', 'info', ...(options.hubbubArgs ?? [])],
      };
    case 'ws-hub':
      return { cmd: process.execPath, node: true, args: [...nodeFlags, ...(options.wsHubScript ?? [join(DIST_BENCH, 'baselines', 'ws-hub.js')])] };
    case 'socketio':
      return { cmd: process.execPath, node: true, args: [...nodeFlags, join(DIST_BENCH, 'baselines', 'socketio-hub.js')] };
    case 'gorilla':
      return { cmd: GORILLA_BIN, node: false, args: ['-addr', '127.0.0.1:0'] };
  }
}

/** Starts a system and resolves once it listens (its port read from its first lines of output). */
export function startServer(system: SystemId, options: ServerOptions = {}): Promise<RunningServer> {
  const { cmd, args, node } = command(system, options);
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe', ...(node ? ['ipc' as const] : [])] });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => fail(new Error(`${system} did not start in 15 s: ${out}${err}`)), 15_000);
    const fail = (e: Error): void => {
      clearTimeout(timer);
      proc.kill('SIGKILL');
      reject(e);
    };
    proc.stderr!.on('data', (d: Buffer) => {
      if (err.length < 4000) err += d.toString();
    });
    let started = false;
    proc.stdout!.on('data', (d: Buffer) => {
      if (started) return;
      // The last few KB only: a server run with --trace-gc prints GC lines before its port.
      out = (out + d.toString()).slice(-4000);
      // Baselines print LISTENING <port>; hubbub logs its url.
      const m = /LISTENING (\d+)/.exec(out) ?? /"url":"http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (m !== null) {
        started = true;
        clearTimeout(timer);
        resolve(new RunningServer(system, proc, Number(m[1])));
      }
    });
    proc.once('exit', (code, signal) => fail(new Error(`${system} exited (${code ?? signal}) before listening: ${out}${err}`)));
  });
}
