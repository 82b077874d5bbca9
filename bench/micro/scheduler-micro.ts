// Scenario 6, the scheduler micro-benchmark, run in a child process of its own
// (`node --expose-gc`) so that its heap is clean. Prints one JSON object.
//
//   - actor messages/s through mailbox and scheduler: messages sent from
//     outside in batches and handled by slices (the I/O path), and a
//     ping-pong pair waking each other inside a slice (the runnext path),
//     against the same handler called directly;
//   - heap per idle actor: a bare Actor subclass, and a ConnectionActor with
//     a shared stub peer;
//   - registrations/s and joins/s into one room as it grows to 100k, per
//     chunk, through the supervisor's registry functions: the rate must stay
//     flat (immer must copy O(1), not the room).
//
//   node --expose-gc dist/bench/micro/scheduler-micro.js [--quick]
import { Actor } from '../../src/actors/actor.js';
import { ConnectionActor, type ConnectionEnv, type Peer } from '../../src/actors/connection-actor.js';
import { addMember, addSession, emptyRegistry, type RegistryState } from '../../src/actors/registry.js';
import { Scheduler } from '../../src/actors/scheduler.js';
import type { SupervisorMsg } from '../../src/actors/supervisor-messages.js';
import { parseClientOp } from '../../src/protocol/protocol.js';

const quick = process.argv.includes('--quick');
const N = quick ? 200_000 : 1_000_000;
const IDLE = quick ? 20_000 : 100_000;
const JOINS = quick ? 20_000 : 100_000;
const CHUNK = quick ? 5_000 : 10_000;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

class Counter extends Actor<number> {
  readonly kind = 'system';
  sum = 0;
  peer: Actor<number> | null = null;
  scheduler: Scheduler | null = null;
  limit = 0;
  handle(msg: number): void {
    this.sum += msg;
    if (this.peer !== null && msg < this.limit) this.scheduler!.send(this.peer, msg + 1);
  }
}

class Sink extends Actor<SupervisorMsg> {
  readonly kind = 'supervisor';
  handle(): void {}
}

function newScheduler(): Scheduler {
  // Slices are driven by hand: no setImmediate, a long slice budget.
  return new Scheduler({ defer: () => {}, sliceBudgetMs: 1000 });
}

function run(s: Scheduler): void {
  do s.runSlice();
  while (!s.quiescent);
}

function rate(n: number, fn: () => void): number {
  const t = performance.now();
  fn();
  return Math.round(n / ((performance.now() - t) / 1000));
}

function throughput(): { batched: number; pingPong: number; direct: number } {
  const best = (f: () => number): number => Math.max(f(), f(), f());
  const batched = best(() => {
    const s = newScheduler();
    const a = new Counter('a');
    s.spawn(a);
    return rate(N, () => {
      for (let sent = 0; sent < N; ) {
        for (let k = 0; k < 512; k++) s.send(a, sent++);
        run(s);
      }
    });
  });
  const pingPong = best(() => {
    const s = newScheduler();
    const a = new Counter('a');
    const b = new Counter('b');
    a.peer = b;
    b.peer = a;
    a.scheduler = b.scheduler = s;
    a.limit = b.limit = N;
    s.spawn(a);
    s.spawn(b);
    return rate(N, () => {
      s.send(a, 0);
      run(s);
    });
  });
  const direct = best(() => {
    const a = new Counter('a');
    return rate(N, () => {
      for (let i = 0; i < N; i++) a.handle(i);
    });
  });
  return { batched, pingPong, direct };
}

function heapPer<T>(count: number, make: (i: number) => T): number {
  const keep: T[] = new Array(count);
  gc!();
  gc!();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < count; i++) keep[i] = make(i);
  gc!();
  gc!();
  const after = process.memoryUsage().heapUsed;
  if (keep.length !== count) throw new Error('unreachable');
  return Math.round((after - before) / count);
}

const stubPeer: Peer = { remote: '127.0.0.2:1', deliver() {}, closeAfterFlush() {}, pauseReading() {}, resumeReading() {}, readOp: (frame) => parseClientOp(frame.toString()) };

function stubEnv(): ConnectionEnv {
  const scheduler = newScheduler();
  return { scheduler, supervisor: new Sink('supervisor'), onTransition: null };
}

function joins(): { registrations: number[]; joins: number[]; flatness: number } {
  const env = stubEnv();
  const actors = Array.from({ length: JOINS }, (_, i) => new ConnectionActor(`c${i}`, stubPeer, env, null));
  let state: RegistryState = emptyRegistry();
  const registrations: number[] = [];
  const joinRates: number[] = [];
  for (let from = 0; from < JOINS; from += CHUNK) {
    registrations.push(rate(CHUNK, () => {
      for (let i = from; i < from + CHUNK; i++) state = addSession(state, actors[i], `u${i}`);
    }));
  }
  for (let from = 0; from < JOINS; from += CHUNK) {
    joinRates.push(rate(CHUNK, () => {
      for (let i = from; i < from + CHUNK; i++) state = addMember(state, 'big', actors[i]).state;
    }));
  }
  // Flat means the last chunk (room at 90-100% of its size) joins as fast as the first.
  return { registrations, joins: joinRates, flatness: Math.round((joinRates[joinRates.length - 1] / joinRates[0]) * 100) / 100 };
}

const env = stubEnv();
const result = {
  messages: N,
  throughput: throughput(),
  bytesPerIdleActor: heapPer(IDLE, (i) => new Counter(`a${i}`)),
  bytesPerConnectionActor: heapPer(IDLE, (i) => new ConnectionActor(`c${i}`, stubPeer, env, null)),
  idleActors: IDLE,
  joinsChunk: CHUNK,
  ...joins(),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
