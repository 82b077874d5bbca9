// Preloaded into a server under test by tail.ts (`node --import tail-probe.js`):
// records, between an IPC {tail:'start'} and {tail:'stop', path}, what a
// light-load message meets inside the server, each with its time on
// CLOCK_MONOTONIC (the load generator's stamps are on the same clock):
//
//   reads   a client frame raised as a 'message' event: its send stamp and now
//   writes  a socket write carrying stamped messages: each stamp and now
//   gc      every GC (perf_hooks), start and duration
//   slices  every setImmediate callback (Hubbub's scheduler slices, the
//           heartbeat's steps), start and duration
//   timers  every setInterval callback (the heartbeat wheel, samplers), by period
//   pings   2-byte writes (the heartbeat's pings)
//
// It works by wrapping net.Socket#write, EventEmitter#emit('message'),
// setImmediate and setInterval before the server loads, so it runs against
// any Node server (Hubbub, the ws hub) without touching its code. The wrappers
// cost a clock read and a byte search per write; they are a measuring tool,
// not a figure to quote as the server's own.
import { EventEmitter } from 'node:events';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { monitorEventLoopDelay, PerformanceObserver, performance, type IntervalHistogram } from 'node:perf_hooks';

const MARK = Buffer.from('"text":"@');
const BAR = 0x7c;

/** µs on CLOCK_MONOTONIC, as the generator stamps (wire.ts nowUs). */
function nowUs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + ns / 1e3;
}

/** Parallel arrays of (time µs, value, tag), preallocated: recording allocates nothing. */
class Series {
  readonly t: Float64Array;
  readonly v: Float64Array;
  readonly k: Float64Array;
  n = 0;
  constructor(size: number) {
    this.t = new Float64Array(size);
    this.v = new Float64Array(size);
    this.k = new Float64Array(size);
  }
  add(t: number, v: number, k = 0): void {
    if (!recording || this.n >= this.t.length) return;
    this.t[this.n] = t;
    this.v[this.n] = v;
    this.k[this.n++] = k;
  }
  dump(): { t: number[]; v: number[]; k: number[] } {
    return { t: Array.from(this.t.subarray(0, this.n)), v: Array.from(this.v.subarray(0, this.n)), k: Array.from(this.k.subarray(0, this.n)) };
  }
}

let recording = false;
const reads = new Series(1 << 20);
const writes = new Series(1 << 22);
const gcs = new Series(1 << 16);
const slices = new Series(1 << 20);
const timers = new Series(1 << 16);
const pings = new Series(1 << 20);
const all = [reads, writes, gcs, slices, timers, pings];

/** Every send stamp in buf (one per stamped message), read by bytes as the generator does. */
function eachStamp(buf: Buffer, fn: (ts: number) => void): void {
  let at = buf.indexOf(MARK);
  while (at >= 0) {
    let ts = 0;
    let i = at + MARK.length;
    for (; i < buf.length && buf[i] !== BAR; i++) ts = ts * 10 + (buf[i] - 48);
    fn(ts);
    at = buf.indexOf(MARK, i);
  }
}

type WriteFn = (chunk: unknown, ...rest: unknown[]) => boolean;
const socketWrite = net.Socket.prototype.write as WriteFn;
(net.Socket.prototype as unknown as { write: WriteFn }).write = function write(this: net.Socket, chunk: unknown, ...rest: unknown[]): boolean {
  if (recording) {
    const t = nowUs();
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : null;
    if (buf !== null && buf.length === 2) pings.add(t, 0);
    else if (buf !== null) eachStamp(buf, (ts) => writes.add(t, t - ts));
  }
  return socketWrite.call(this, chunk, ...rest);
};

// ws raises a client frame as 'message' (its Receiver, then the WebSocket): the first one seen per stamp counts.
const emit = EventEmitter.prototype.emit;
EventEmitter.prototype.emit = function traced(this: EventEmitter, event: string | symbol, ...args: unknown[]): boolean {
  if (recording && event === 'message' && Buffer.isBuffer(args[0])) {
    const t = nowUs();
    eachStamp(args[0], (ts) => reads.add(t, t - ts));
  }
  return emit.call(this, event, ...args);
};

type Callback = (...args: unknown[]) => void;
const immediate = globalThis.setImmediate;
globalThis.setImmediate = Object.assign(function timedImmediate(fn: Callback, ...args: unknown[]) {
  return immediate(() => {
    const t = nowUs();
    try {
      fn(...args);
    } finally {
      slices.add(t, nowUs() - t);
    }
  });
}, immediate) as typeof setImmediate;

const interval = globalThis.setInterval;
globalThis.setInterval = Object.assign(function timedInterval(fn: Callback, ms?: number, ...args: unknown[]) {
  return interval(() => {
    const t = nowUs();
    try {
      fn(...args);
    } finally {
      timers.add(t, nowUs() - t, ms ?? 0);
    }
  }, ms);
}, interval) as typeof setInterval;

/** performance.now() (ms since the time origin) to µs on CLOCK_MONOTONIC, fixed at start. */
let originUs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcs.add(e.startTime * 1000 + originUs, e.duration * 1000, (e as { detail?: { kind?: number } }).detail?.kind ?? 0);
}).observe({ entryTypes: ['gc'] });

let loopDelay: IntervalHistogram | null = null;

process.on('message', (msg: { tail?: 'start' | 'stop'; path?: string }) => {
  if (msg?.tail === 'start') {
    originUs = nowUs() - performance.now() * 1000;
    for (const s of all) s.n = 0;
    loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    recording = true;
  } else if (msg?.tail === 'stop' && msg.path !== undefined) {
    recording = false;
    loopDelay?.disable();
    const ms = (q: number): number => (loopDelay?.percentile(q) ?? 0) / 1e6;
    writeFileSync(msg.path, JSON.stringify({
      reads: reads.dump(), writes: writes.dump(), gcs: gcs.dump(), slices: slices.dump(), timers: timers.dump(), pings: pings.dump(),
      loopDelayMs: { p50: ms(50), p99: ms(99), max: (loopDelay?.max ?? 0) / 1e6 },
    }));
    process.send?.({ tailDone: msg.path });
  }
});
