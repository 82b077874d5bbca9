// Slow consumers: 500 clients that never read sit in the rooms of 50 clients
// that chat as hard as the broker lets them. Each silent client is closed 1013
// once its unread output passes its bound (4 MiB or 4,096 frames); what they
// add to the broker's RSS stays within what those bounds allow; the 50 readers
// keep up (every message of their room, in seq order, no gap) and are never
// closed.
//
// The broker runs in a child process (its RSS is the broker's alone); the
// clients are here. HUBBUB_SLOW_SECONDS sets the chatting time (default 30 s,
// twice: the whole file then takes about 65 s).
//
// The RSS bound, against a baseline from the same broker: first the readers
// chat alone for as long, and the peak RSS of that is what the chat load
// itself costs (V8's young generation, GC timing, freed buffers: 58-77 MiB
// over the start, measured). Then the silent clients connect (their
// idle cost is measured too) and the chat goes on; its peak may pass the
// baseline's by what the bounds let them hold. A stalled peer costs the broker
// what sits in its socket's user-space write buffer: each frame is shared by
// every recipient (encoded once), so per peer it is one stream-buffer entry
// per frame (~85 B of RSS, measured: see MAX_OUTBOX_FRAMES) plus, per room,
// the distinct payloads that the laggards still hold (at most the byte bound,
// 4 MiB, per room). A closed peer's buffer is freed when ws gives up on the
// close handshake (closeTimeoutMs, 5 s), so in the worst case all 500 hold
// their full bound at once:
//   500 x 4,096 frames x 85 B        ~ 166 MiB   (entries)
//   + 5 rooms x 4 MiB                =  20 MiB   (payloads, shared)
// and twice that for slack (with them each message also goes to 4-11 times
// as many sockets, which the baseline cannot show): 372 MiB. Measured: 114
// MiB over the baseline (31-66 MiB of the 140 allowed with 150 silent
// clients, npm test's size, on a loaded machine). Without the bounds growth
// has no limit: 577 MiB at npm test's size with them lifted, gigabytes for
// 500 peers x 30 s. (The kernel's socket buffers, ~4 MB per stalled peer on
// loopback, are not the broker's RSS, and ws frees them with the socket.)
// Nothing here is a figure of this machine's speed: a loaded one sends fewer
// messages, and the bounds hold the same.
// HUBBUB_SLOW_CLIENTS changes the 500.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { spawnBrokerChild, waitForStats, type BrokerChild } from './helpers/broker-child.js';
import { joinMany, rawSocketOf } from './helpers/many-clients.js';
import { once, withTimeout } from './helpers/wait.js';
import { soakSize } from './helpers/soak.js';
import { MAX_OUTBOX_BYTES, MAX_OUTBOX_FRAMES } from '../src/constants.js';

const SECONDS = soakSize('HUBBUB_SLOW_SECONDS', 30, 10);
const SLOW = soakSize('HUBBUB_SLOW_CLIENTS', 500, 150);
/** The chat alone first, as long as with them: the baseline the silent clients' cost is measured against. */
const BASELINE_SECONDS = SECONDS;
const READERS = 50;
const ROOMS = 5;
const WINDOW = 8; // sends in flight per reader
/**
 * Senders wait while any reader of their room is this many messages behind the
 * room's head: "keeping up" is then defined by the readers' own pace (on a
 * loaded machine this test process is slow, and a reader 4 MiB behind would
 * rightly be closed as a slow consumer too). 200 x 4 KB stays far below the bound.
 */
const MAX_LAG = 200;
const TEXT = 'x'.repeat(4000); // big enough that the silent ones fill their bound within seconds
/** RSS of one stream-buffer entry, one frame held for a stalled peer (measured: see MAX_OUTBOX_FRAMES). */
const ENTRY_RSS = 85;
/** What the silent clients may add over the baseline's peak, beyond their idle cost: twice what their bounds hold. */
const SILENT_ALLOWANCE = 2 * (SLOW * MAX_OUTBOX_FRAMES * ENTRY_RSS + ROOMS * MAX_OUTBOX_BYTES);

/**
 * A reader that keeps only what the test checks: the seqs of its room's
 * messages and its acks. (The generic TestClient keeps and scans every frame,
 * which at tens of thousands of frames would make the test process, not the
 * broker, the slow consumer.)
 */
class Reader {
  readonly seqs: number[] = [];
  acked = 0;
  /** The highest seq acked to this reader (its own messages). */
  ackedSeq = 0;
  closedWith: number | null = null;
  #wake: (() => void) | null = null;

  private constructor(readonly ws: WebSocket, readonly name: string, readonly room: string) {
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as { type: string; room?: string; seq?: number };
      if (f.type === 'message' && f.room === room) {
        this.seqs.push(f.seq!);
        Reader.progress?.();
      } else if (f.type === 'ack' || f.type === 'who') {
        if (f.type === 'ack') {
          this.acked++;
          this.ackedSeq = Math.max(this.ackedSeq, f.seq!);
        }
        this.#wake?.();
      }
    });
    ws.on('close', (code) => {
      this.closedWith = code;
      this.#wake?.();
    });
    ws.on('error', () => {});
  }

  /** Woken by any reader's message: senders waiting on a lagging reader look again. */
  static progress: (() => void) | null = null;

  static async join(wsUrl: string, name: string, room: string): Promise<Reader> {
    const ws = new WebSocket(`${wsUrl}?name=${name}`, { perMessageDeflate: false });
    await once(ws, 'open', 5000, `${name} to connect`);
    const r = new Reader(ws, name, room);
    ws.send(JSON.stringify({ op: 'join', room }));
    await r.#until(() => true, 'joined', 'who'); // joined is answered before this who
    return r;
  }

  send(op: object): void {
    this.ws.send(JSON.stringify(op));
  }

  /** Resolves once `cond` holds, woken by acks and `who` replies; fails on close or after 10 s. */
  async #until(cond: () => boolean, what: string, sendWho?: 'who'): Promise<void> {
    if (sendWho !== undefined) this.send({ op: 'who', room: this.room });
    let got = sendWho === undefined;
    const deadline = Date.now() + 10_000;
    while (!(got && cond())) {
      if (this.closedWith !== null) throw new Error(`${this.name} closed (${this.closedWith}) while waiting for ${what}`);
      if (Date.now() > deadline) throw new Error(`${this.name}: no ${what} within 10 s`);
      await withTimeout(new Promise<void>((resolve) => { this.#wake = resolve; }), 10_000, what).catch(() => {});
      got = true;
    }
  }

  acks(n: number): Promise<void> {
    return this.#until(() => this.acked >= n, `ack ${n}`);
  }

  /** A `who` round trip through the supervisor: afterwards every message published before it is in. */
  barrier(): Promise<void> {
    return this.#until(() => true, 'barrier', 'who');
  }
}

/**
 * The readers chat until `until`: each keeps WINDOW sends in flight, and waits
 * while a reader of its room lags more than MAX_LAG. Returns the messages sent.
 */
async function chat(readers: Reader[], until: number): Promise<number> {
  const roomOf = new Map<string, Reader[]>();
  for (const r of readers) roomOf.set(r.room, [...(roomOf.get(r.room) ?? []), r]);
  /** How far the room's slowest reader is behind the newest message any of them was acked. */
  const lag = (name: string): number => {
    let head = 0;
    let slowest = Infinity;
    for (const x of roomOf.get(name)!) {
      head = Math.max(head, x.ackedSeq);
      slowest = Math.min(slowest, x.seqs.length);
    }
    return head - slowest;
  };
  let progressed!: Promise<void>;
  const arm = (): void => {
    progressed = new Promise<void>((resolve) => {
      Reader.progress = () => {
        Reader.progress = null;
        arm();
        resolve();
      };
    });
  };
  arm();
  let sent = 0;
  await Promise.all(readers.map(async (r) => {
    let n = r.acked; // every earlier send is acked: a later call goes on from there, not from 0 (which would burst)
    while (Date.now() < until) {
      while (lag(r.room) > MAX_LAG) {
        if (r.closedWith !== null) throw new Error(`${r.name} closed (${r.closedWith})`);
        await withTimeout(progressed, 10_000, `the readers of ${r.room} to catch up`);
      }
      while (n - r.acked < WINDOW) {
        r.send({ op: 'send', room: r.room, text: TEXT, id: n++ });
        sent++;
      }
      await r.acks(r.acked + 1);
    }
    await r.acks(n);
  }));
  Reader.progress = null;
  return sent;
}

/** The highest RSS of the broker (sampled every 250 ms) while `work` runs, and what it returned. */
async function peakRssDuring<T>(b: BrokerChild, work: () => Promise<T>): Promise<{ peak: number; result: T }> {
  let peak = (await b.stats()).rss;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, (await b.stats()).rss);
      await new Promise((r) => setTimeout(r, 250)); // the sampling period, not a settle delay
    }
  })();
  try {
    const result = await work();
    return { peak, result };
  } finally {
    sampling = false;
    await sampler;
  }
}

const Slow = suite<{ b: BrokerChild | null; slow: WebSocket[]; readers: Reader[] }>('slow consumers', { b: null, slow: [], readers: [] });

Slow.after(async (ctx) => {
  for (const ws of ctx.slow) rawSocketOf(ws).destroy();
  for (const r of ctx.readers) r.ws.terminate();
  await ctx.b?.stop();
});

Slow(`${SLOW} silent clients among ${READERS} busy readers for ${SECONDS} s: closed 1013, RSS within their bounds over a baseline, readers keep up`, async (ctx) => {
  const b = (ctx.b = await spawnBrokerChild({ rateLimit: 0 }, []));
  const room = (i: number): string => `busy-${i % ROOMS}`;
  for (let i = 0; i < READERS; i++) ctx.readers.push(await Reader.join(b.wsUrl, `reader${i}`, room(i)));
  const start = await b.stats();

  // The baseline: the same chat with no silent client, in the same broker.
  const alone = await peakRssDuring(b, () => chat(ctx.readers, Date.now() + BASELINE_SECONDS * 1000));

  const beforeSilent = await b.stats();
  ctx.slow = await joinMany(b.wsUrl, SLOW, (i) => `silent${i}`, room);
  for (const ws of ctx.slow) rawSocketOf(ws).pause(); // from here on they read nothing
  const idle = await b.stats();

  const withSilent = await peakRssDuring(b, async () => {
    let sent = await chat(ctx.readers, Date.now() + SECONDS * 1000);
    // A slow machine sends less in the time: chat on (bounded) until every silent client is over its bound.
    for (let extra = 0; extra < 30 && (await b.stats()).slowConsumers < SLOW; extra++) sent += await chat(ctx.readers, Date.now() + 1000);
    return sent;
  });
  const sent = withSilent.result;

  // Every silent client went over its bound and was closed; no reader was.
  const s = await waitForStats(b, (st) => st.slowConsumers >= SLOW, 10_000, 'every silent client to be closed 1013');
  assert.is(s.slowConsumers, SLOW, 'exactly the silent ones');
  // Their cost: the peak with them over the peak of the same chat without them, less what they cost idle.
  const idleCost = Math.max(0, idle.rss - beforeSilent.rss);
  const growth = withSilent.peak - alone.peak - idleCost;
  const mib = (n: number): string => (n / 2 ** 20).toFixed(0);
  console.log(`  slow consumers: RSS ${mib(start.rss)} MiB -> peak ${mib(alone.peak)} MiB chatting alone (${alone.result} messages in ${BASELINE_SECONDS} s); ` +
    `${SLOW} silent clients cost ${mib(idleCost)} MiB idle, then peak ${mib(withSilent.peak)} MiB (${sent} messages x ~${SLOW / ROOMS + READERS / ROOMS} recipients in ${SECONDS} s): ` +
    `${mib(growth)} MiB over the baseline, allowed ${mib(SILENT_ALLOWANCE)} MiB`);
  assert.ok(growth < SILENT_ALLOWANCE, `the silent clients added ${mib(growth)} MiB over the chat alone, more than their bounds allow (${mib(SILENT_ALLOWANCE)} MiB)`);

  // The readers kept up: each has every message of its room, in order, no gap, and is still open.
  await Promise.all(ctx.readers.map((r) => r.barrier()));
  const last = new Map<string, number>();
  for (const r of ctx.readers) last.set(r.room, Math.max(last.get(r.room) ?? 0, r.seqs.at(-1) ?? 0));
  for (const r of ctx.readers) {
    assert.is(r.closedWith, null, `${r.name} was never closed`);
    assert.is(r.seqs.length, last.get(r.room), `${r.name} got all ${last.get(r.room)} messages of ${r.room}`);
    for (let k = 0; k < r.seqs.length; k++) if (r.seqs[k] !== k + 1) assert.unreachable(`${r.name}: seq ${r.seqs[k]} at position ${k + 1}`);
  }
});

Slow.run();
