// Brokers for tests: in-process on 127.0.0.1 port 0 with a silent logger, or
// as a child process running the real CLI (for signals and big loads).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Broker, type BrokerConfig } from '../../src/broker.js';
import { createLogger } from '../../src/log.js';
import { waitFor, withTimeout } from './wait.js';

export interface TestBroker {
  broker: Broker;
  /** http://127.0.0.1:port/ */
  url: string;
  /** ws://127.0.0.1:port/ws */
  wsUrl: string;
}

/** Starts a broker in this process; `overrides` win over the test defaults. */
export async function startBroker(overrides: Partial<BrokerConfig> = {}): Promise<TestBroker> {
  // A drop is a leave at once, as tests of other things expect; name-grace.test.ts sets a grace.
  const broker = await Broker.start({ port: 0, host: '127.0.0.1', presenceGraceMs: 0, logger: createLogger('silent'), ...overrides });
  return { broker, url: broker.url, wsUrl: wsUrlOf(broker.url) };
}

/**
 * Waits until the broker holds no session and no socket: a closed client's
 * unregistration runs after its close handshake, with no event a client sees.
 * Tests that reuse user names call this between cases.
 */
export function waitForNoSessions(broker: Broker, timeoutMs = 3000): Promise<void> {
  return waitFor(
    () => broker.supervisor.state.sessions.size === 0 && broker.chat.heartbeat.size === 0,
    timeoutMs,
    'the broker to drop every session and socket',
  );
}

export function wsUrlOf(httpUrl: string): string {
  return `${httpUrl.replace(/^http/, 'ws')}ws`;
}

/** dist/src/cli.js, from this file's place in dist/test/helpers/. */
export const CLI_PATH = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

export interface BrokerProcess {
  child: ChildProcess;
  url: string;
  wsUrl: string;
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  exited: Promise<number | string>;
  /** Every stdout line after the startup line (JSON log records). */
  lines: string[];
}

/**
 * Runs `node dist/src/cli.js serve --host 127.0.0.1 --port 0 ...args` and
 * resolves once its startup log line (JSON with `url`) is out. `nodeArgs` go
 * to node itself (e.g. --cpu-prof). `launcher`: a command that runs node, e.g.
 * ['sh', '-c', 'ulimit -n 256 && exec "$@"', 'sh'] for a lower open-file limit.
 */
export async function spawnBroker(args: string[] = [], timeoutMs = 10_000, nodeArgs: string[] = [], launcher: string[] = []): Promise<BrokerProcess> {
  const [command, ...before] = [...launcher, process.execPath];
  const child = spawn(command, [...before, ...nodeArgs, CLI_PATH, 'serve', '--host', '127.0.0.1', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  const lines: string[] = [];
  let started: ((url: string) => void) | null = null;
  const startedP = new Promise<string>((resolve) => { started = resolve; });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (started !== null) {
      const record = parseJson(line);
      if (typeof record?.url === 'string') {
        started(record.url);
        started = null;
        return;
      }
    }
    lines.push(line);
  });
  try {
    const url = await withTimeout(
      Promise.race([startedP, exited.then((code) => Promise.reject(new Error(`broker process exited (${code}) before listening`)))]),
      timeoutMs,
      'the broker process to log its url',
    );
    return { child, url, wsUrl: wsUrlOf(url), exited, lines };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

function parseJson(line: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(line);
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
