// The primary process of `hubbub serve --workers N`: N worker processes
// (node:cluster), each one broker with one scheduler — one M with one P, in
// Go's words — sharing the listening port (the primary accepts and hands
// connections round-robin). Workers are joined through a backplane: Redis when
// --redis is given (each worker is then a node of its own), otherwise the
// ClusterHub here, over the IPC channels.
//
// The primary also keeps the per-IP connection count for every worker
// (--max-conns-per-ip; transport/ip-limit.ts): each accept asks it.
//
// The primary serves no client. It restarts a worker that dies (its users'
// presence ends at once: the hub drops them, or Redis reaps the dead node),
// and on SIGTERM/SIGINT it stops the workers gracefully (each closes its
// clients with 1001) and exits once they have.
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { Batcher, isEnvelope, type ToHub, type ToWorker } from './backplane/cluster-protocol.js';
import { ClusterHub } from './backplane/cluster-hub.js';
import { IpCountHost, isIpSlotAsk } from './transport/ip-limit.js';

export interface PrimaryOptions {
  workers: number;
  /** True: no Redis; the primary is the workers' backplane. */
  hub: boolean;
  historySize: number;
  historyRetentionMs: number;
  historyRoomBytes: number;
  historyBudgetBytes: number;
  /** Time a worker gets to close its clients before it is killed, ms. */
  shutdownTimeoutMs: number;
  /** The per-IP cap, counted here for every worker; 0: none. */
  maxConnsPerIp: number;
  log: Logger;
}

/** What a worker tells the primary once its broker listens. */
export interface ListeningNote {
  hubbub: 'listening';
  url: string;
}

export function isListeningNote(msg: unknown): msg is ListeningNote {
  return typeof msg === 'object' && msg !== null && (msg as { hubbub?: unknown }).hubbub === 'listening';
}

/** A worker that dies is restarted after this, doubled per failure in a row up to RESTART_DELAY_MAX_MS. */
const RESTART_DELAY_MS = 1000;
const RESTART_DELAY_MAX_MS = 30_000;

export function runPrimary(options: PrimaryOptions): void {
  const log = options.log;
  const outboxes = new Map<number, Batcher<ToWorker>>();
  const outbox = (id: number): Batcher<ToWorker> | undefined => {
    let b = outboxes.get(id);
    if (b === undefined) {
      const worker = cluster.workers?.[id];
      if (worker === undefined) return undefined;
      b = new Batcher((envelope) => {
        // A worker that is exiting may close its channel under a pending batch: nothing to deliver then.
        if (worker.isConnected()) worker.send(envelope, undefined, (err) => { if (err) log.debug({ err: err.message }, 'IPC send failed'); });
      });
      outboxes.set(id, b);
    }
    return b;
  };
  const hub = options.hub
    ? new ClusterHub({
      historySize: options.historySize,
      historyRetentionMs: options.historyRetentionMs,
      historyRoomBytes: options.historyRoomBytes,
      historyBudgetBytes: options.historyBudgetBytes,
      send: (id, op) => outbox(id)?.push(op),
    })
    : null;
  const ipCount = options.maxConnsPerIp > 0 ? new IpCountHost(options.maxConnsPerIp) : null;

  let stopping = false;
  let announced = false;
  const listening = new Map<number, string>();
  /** Exits in a row of each worker slot without listening in between (for the restart backoff). */
  const failures = new Map<number, number>();

  const fork = (index: number): Worker => {
    const worker = cluster.fork({ HUBBUB_WORKER: String(index) });
    worker.on('error', (err: Error) => log.debug({ worker: index, err: err.message }, 'worker channel error'));
    worker.on('message', (msg: unknown) => {
      if (hub !== null && isEnvelope<ToHub>(msg)) {
        for (const op of msg.ops) hub.handle(worker.id, op);
      } else if (ipCount !== null && isIpSlotAsk(msg)) {
        const answer = ipCount.handle(worker.id, msg);
        if (answer !== null && worker.isConnected()) worker.send(answer, undefined, () => {});
      } else if (isListeningNote(msg)) {
        listening.set(worker.id, msg.url);
        failures.set(index, 0);
        if (!announced && listening.size === options.workers) {
          announced = true;
          log.info({ url: msg.url, pid: process.pid, workers: options.workers, backplane: hub === null ? 'redis' : 'cluster' },
            `hubbub listening on ${msg.url} with ${options.workers} workers`);
        } else if (announced) {
          log.info({ worker: index, pid: worker.process.pid }, 'worker replaced');
        }
      }
    });
    worker.on('exit', (code, signal) => {
      const listened = listening.delete(worker.id);
      outboxes.delete(worker.id);
      hub?.dropWorker(worker.id);
      ipCount?.dropWorker(worker.id);
      if (stopping) return;
      if (!announced && !listened) {
        // It could not start (port taken, bad option): its siblings cannot either.
        log.error({ worker: index, code, signal }, 'a worker failed to start; stopping');
        stop('startup failure', 1);
        return;
      }
      const n = (failures.get(index) ?? 0) + 1;
      failures.set(index, n);
      const delay = Math.min(RESTART_DELAY_MAX_MS, RESTART_DELAY_MS * 2 ** (n - 1));
      log.error({ worker: index, code, signal }, `worker exited; restarting it in ${delay} ms`);
      setTimeout(() => {
        if (!stopping) fork(index);
      }, delay).unref();
    });
    return worker;
  };
  for (let i = 0; i < options.workers; i++) fork(i);

  function stop(signal: string, exitCode = 0): void {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: stopping workers (each closes its clients with 1001)');
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    const exits = workers.map((w) => new Promise<void>((resolve) => {
      if (w.isDead()) resolve();
      else w.once('exit', () => resolve());
    }));
    for (const w of workers) w.process.kill('SIGTERM');
    const killer = setTimeout(() => {
      for (const w of workers) if (!w.isDead()) w.process.kill('SIGKILL');
    }, options.shutdownTimeoutMs + 2000);
    Promise.all(exits).then(() => {
      clearTimeout(killer);
      hub?.close();
      process.exit(exitCode);
    }, () => process.exit(1));
  }
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
