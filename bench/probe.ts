// Probe: preloaded into every Node server under test (`node --import probe.js`)
// so the bench can ask any of them, over the IPC channel it was forked with,
// for its memory after a full GC, a heap snapshot, or a CPU profile of a
// chosen window. The servers' own code is not touched.
//
//   {cmd:'mem'}                    -> process.memoryUsage() after gc() (needs --expose-gc)
//   {cmd:'heap-snapshot', path}    -> writes a .heapsnapshot
//   {cmd:'profile-start'}          -> starts the V8 CPU profiler (inspector)
//   {cmd:'profile-stop', path}     -> writes a .cpuprofile (Chrome DevTools format)
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { writeHeapSnapshot } from 'node:v8';

type ProbeCmd =
  | { id: number; cmd: 'mem' }
  | { id: number; cmd: 'heap-snapshot'; path: string }
  | { id: number; cmd: 'profile-start' }
  | { id: number; cmd: 'profile-stop'; path: string };

let session: Session | null = null;

function post<T>(s: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    s.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result as T)));
  });
}

async function handle(msg: ProbeCmd): Promise<unknown> {
  switch (msg.cmd) {
    case 'mem': {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc !== undefined) {
        gc();
        gc();
      }
      return { ...process.memoryUsage(), gc: gc !== undefined };
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
