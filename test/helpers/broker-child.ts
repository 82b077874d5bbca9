// A broker in a child process, driven over IPC: for tests that need the
// broker's own numbers (heap after GC, RSS, actor and registry counts) while
// the load comes from another process (each process may hold 20k open files).
//
// Run as a script (`node --expose-gc broker-child.js '<config JSON>'`), it starts a
// broker and answers { type: 'stats' } with BrokerStats. `spawnBrokerChild`
// below is the parent's side.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Broker, type BrokerConfig } from '../../src/broker.js';
import { createLogger } from '../../src/log.js';
import { waitFor, withTimeout } from './wait.js';

export interface BrokerStats {
  connections: number;
  liveActors: number;
  sessions: number;
  users: number;
  rooms: number;
  heartbeatTerminated: number;
  /** Buckets the heartbeat wheel has visited, and how many make one turn (one interval). */
  heartbeatVisits: number;
  heartbeatBuckets: number;
  slowConsumers: number;
  /** Supervisor handler exceptions and failed actors: 0 unless something went wrong inside. */
  supervisorErrors: number;
  actorFailures: number;
  /** After a full GC (twice) when `gc` was asked for; bytes. */
  heapUsed: number;
  rss: number;
}

type Request = { type: 'stats'; gc?: boolean; id: number };
type Reply = { type: 'stats'; id: number; stats: BrokerStats } | { type: 'ready'; url: string };

const CHILD_PATH = fileURLToPath(import.meta.url);

export interface BrokerChild {
  child: ChildProcess;
  url: string;
  wsUrl: string;
  pid: number;
  stats(gc?: boolean): Promise<BrokerStats>;
  /** Ends the child (SIGKILL if it does not go within 5 s); resolves with its exit code or signal. */
  stop(): Promise<number | string>;
  /** Resolves if the child exits on its own (a crash, in these tests). */
  exited: Promise<number | string>;
}

/** `logLevel`: the child's log level (stderr), default HUBBUB_LOG_LEVEL or silent. */
export async function spawnBrokerChild(config: Partial<BrokerConfig> = {}, nodeArgs: string[] = ['--expose-gc'], logLevel?: string): Promise<BrokerChild> {
  const env = logLevel === undefined ? process.env : { ...process.env, HUBBUB_LOG_LEVEL: logLevel };
  const child = fork(CHILD_PATH, [JSON.stringify(config)], { execArgv: nodeArgs, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  child.on('error', () => {}); // IPC to a child that is gone: the pending stats() times out and says so
  const pending = new Map<number, (s: BrokerStats) => void>();
  let nextId = 0;
  const ready = new Promise<string>((resolve) => {
    child.on('message', (m: Reply) => {
      if (m.type === 'ready') {
        resolve(m.url);
        return;
      }
      pending.get(m.id)?.(m.stats);
      pending.delete(m.id);
    });
  });
  const url = await withTimeout(
    Promise.race([ready, exited.then((c) => Promise.reject(new Error(`broker child exited (${c}) before it was ready`)))]),
    10_000, 'the broker child to start',
  );
  return {
    child, url, wsUrl: `${url.replace(/^http/, 'ws')}ws`, pid: child.pid!, exited,
    stats(gc = false) {
      const id = ++nextId;
      const reply = new Promise<BrokerStats>((resolve) => pending.set(id, resolve));
      child.send({ type: 'stats', gc, id } satisfies Request);
      return withTimeout(reply, 10_000, 'stats from the broker child');
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return withTimeout(exited, 5000, 'the broker child to exit').catch(() => {
        child.kill('SIGKILL');
        return exited;
      });
    },
  };
}

/** Polls the child's stats until `cond` holds; fails after `timeoutMs` with the last stats. */
export async function waitForStats(b: BrokerChild, cond: (s: BrokerStats) => boolean, timeoutMs: number, what: string): Promise<BrokerStats> {
  let last: BrokerStats | null = null;
  await waitFor(async () => cond((last = await b.stats())), timeoutMs, () => `${what} (last stats ${JSON.stringify(last)})`, 50);
  return last!;
}

// --- the child's side ---

async function runChild(): Promise<void> {
  const overrides = JSON.parse(process.argv[2] ?? '{}') as Partial<BrokerConfig>;
  // A drop is a leave at once, as tests of other things expect; name-grace.test.ts sets a grace.
  const broker = await Broker.start({ port: 0, host: '127.0.0.1', presenceGraceMs: 0, logger: createLogger(process.env.HUBBUB_LOG_LEVEL ?? 'silent'), ...overrides });
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('message', (m: Request) => {
    if (m.type !== 'stats') return;
    if (m.gc === true && gc !== undefined) {
      gc();
      gc();
    }
    const mem = process.memoryUsage();
    const state = broker.supervisor.state;
    const stats: BrokerStats = {
      connections: broker.chat.heartbeat.size,
      liveActors: broker.scheduler.liveActors,
      sessions: state.sessions.size,
      users: state.users.size,
      rooms: state.rooms.size,
      heartbeatTerminated: broker.chat.heartbeat.terminated,
      heartbeatVisits: broker.chat.heartbeat.visits,
      heartbeatBuckets: broker.chat.heartbeat.buckets,
      slowConsumers: broker.chat.counters.slowConsumers,
      supervisorErrors: broker.supervisor.handlerErrors,
      actorFailures: broker.scheduler.stats().failures,
      heapUsed: mem.heapUsed,
      rss: mem.rss,
    };
    process.send!({ type: 'stats', id: m.id, stats } satisfies Reply);
  });
  process.on('SIGTERM', () => {
    broker.close().then(() => process.exit(0), () => process.exit(1));
  });
  process.on('disconnect', () => process.exit(0)); // the test process went away
  process.send!({ type: 'ready', url: broker.url } satisfies Reply);
}

if (process.argv[1] === CHILD_PATH) await runChild();
