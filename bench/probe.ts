// Probe: preloaded into every Node server under test (`node --import probe.js`)
// so the bench can ask any of them, over the IPC channel it was forked with,
// for its memory after a full GC, a heap snapshot, or a CPU profile of a
// chosen window. The servers' own code is not touched.
//
//   {cmd:'mem'}                    -> process.memoryUsage() after gc() (needs --expose-gc)
//   {cmd:'heap-snapshot', path}    -> writes a .heapsnapshot
//   {cmd:'profile-start'}          -> starts the V8 CPU profiler (inspector)
//   {cmd:'profile-stop', path}     -> writes a .cpuprofile (Chrome DevTools format)
//   {cmd:'mem-all'}                -> 'mem' of this process and of each cluster worker
//                                     (their probes, asked over the cluster's IPC), pid by pid
//
// Cluster workers inherit the probe with the primary's execArgv; they answer
// the primary, which relays (mem-all).
import cluster, { type Worker } from 'node:cluster';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { writeHeapSnapshot } from 'node:v8';

type ProbeCmd =
  | { id: number; cmd: 'mem' }
  | { id: number; cmd: 'heap-snapshot'; path: string }
  | { id: number; cmd: 'profile-start' }
  | { id: number; cmd: 'profile-stop'; path: string }
  | { id: number; cmd: 'mem-all' };

let session: Session | null = null;

function post<T>(s: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    s.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result as T)));
  });
}

function mem(): object {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    gc();
  }
  return { ...process.memoryUsage(), gc: gc !== undefined, pid: process.pid };
}

let workerProbeId = 0;

/** Asks one cluster worker's probe for its memory (after its own full GC). */
function workerMem(worker: Worker): Promise<unknown> {
  const id = ++workerProbeId;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`worker ${worker.process.pid} did not answer mem in 60 s`)), 60_000);
    const onMessage = (m: { probe?: number; ok?: boolean; result?: unknown; error?: string }): void => {
      if (m?.probe !== id) return;
      if (m.ok === true) done(null, m.result);
      else done(new Error(m.error));
    };
    const done = (err: Error | null, result?: unknown): void => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      if (err !== null) reject(err);
      else resolve(result);
    };
    worker.on('message', onMessage);
    worker.send({ cmd: 'mem', id });
  });
}

async function handle(msg: ProbeCmd): Promise<unknown> {
  switch (msg.cmd) {
    case 'mem':
      return mem();
    case 'mem-all': {
      const workers = cluster.isPrimary ? Object.values(cluster.workers ?? {}).filter((w): w is Worker => w?.isConnected() === true) : [];
      return [mem(), ...(await Promise.all(workers.map(workerMem)))];
    }
    case 'heap-snapshot':
      return writeHeapSnapshot(msg.path);
    case 'profile-start':
      session = new Session();
      session.connect();
      await post(session, 'Profiler.enable');
      await post(session, 'Profiler.setSamplingInterval', { interval: 200 });
      await post(session, 'Profiler.start');
      return null;
    case 'profile-stop': {
      if (session === null) throw new Error('profiler not started');
      const { profile } = await post<{ profile: unknown }>(session, 'Profiler.stop');
      session.disconnect();
      session = null;
      writeFileSync(msg.path, JSON.stringify(profile));
      return msg.path;
    }
  }
}

if (process.send !== undefined) {
  process.on('message', (msg: ProbeCmd) => {
    if (typeof msg !== 'object' || msg === null || !('cmd' in msg)) return;
    handle(msg).then(
      (result) => process.send!({ probe: msg.id, ok: true, result }),
      (err: unknown) => process.send!({ probe: msg.id, ok: false, error: String(err) }),
    );
  });
  // The bench going away must not leave a server behind.
  process.on('disconnect', () => process.exit(0));
}
