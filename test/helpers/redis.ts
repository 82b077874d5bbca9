// A real redis-server for tests: started by the test on a free loopback port,
// in a fresh directory, and stopped (or killed) by it. Debian's redis-server
// (.ci/run installs it when missing).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { RedisBackplane, type RedisBackplaneOptions } from '../../src/backplane/redis-backplane.js';
import { createLogger } from '../../src/log.js';
import { withTimeout } from './wait.js';

export interface RedisOptions {
  /** Append-only file with fsync on every write: what was acknowledged survives a restart. */
  aof?: boolean;
}

/** Every redis-server a test started and has not stopped: killed if the test process exits early. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export class RedisServer {
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  readonly dir = mkdtempSync(join(tmpdir(), 'hubbub-redis-'));

  private constructor(readonly port: number, readonly options: RedisOptions) {}

  static async start(options: RedisOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), options);
    await server.resume();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  /** Starts redis-server (again) on the same port and directory; resolves once it accepts connections. */
  async resume(timeoutMs = 10_000): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--daemonize', 'no'];
    if (this.options.aof) args.push('--appendonly', 'yes', '--appendfsync', 'always');
    else args.push('--appendonly', 'no');
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    running.add(child);
    this.#exited = new Promise((resolve) => child.once('exit', () => {
      running.delete(child);
      resolve();
    }));
    const output: string[] = [];
    const ready = new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        output.push(line);
        if (line.includes('Ready to accept connections')) resolve();
      });
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output.slice(-5).join(' | ')}`)));
    });
    await withTimeout(ready, timeoutMs, `redis-server on port ${this.port} to accept connections`);
  }

  /** SIGSTOP / SIGCONT: a Redis that hangs with its sockets open, then wakes. */
  freeze(frozen: boolean): void {
    this.#child?.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
  }

  /** SIGTERM: a clean shutdown (the AOF is flushed). */
  async stop(timeoutMs = 10_000): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    this.#child = null;
    child.kill('SIGTERM');
    await withTimeout(this.#exited, timeoutMs, 'redis-server to exit');
  }

  /** Stops it for good and removes its directory. */
  async dispose(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (child !== null) {
      child.kill('SIGKILL');
      await withTimeout(this.#exited, 5000, 'redis-server to die').catch(() => {});
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A port that was free a moment ago (bound and released on 127.0.0.1). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A Redis backplane for an in-process test broker; short presence expiry unless overridden. */
export function redisBackplane(url: string, overrides: Partial<RedisBackplaneOptions> = {}): RedisBackplane {
  return new RedisBackplane({
    url,
    historySize: 100,
    historyRetentionMs: 600_000,
    presenceTtlMs: 1500,
    log: createLogger(process.env.HUBBUB_LOG_LEVEL ?? 'silent'),
    connectWaitMs: 3000,
    ...overrides,
  });
}
