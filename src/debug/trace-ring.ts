// TraceRing: the last N messages handled by any actor, for the debug channel's
// "recent events of this actor".
//
// One ring for the whole broker, not a buffer per actor: 100,000 idle
// connections must not each carry 50 slots. The ring is parallel arrays
// (struct of arrays), filled from the scheduler observer's `handled` callback,
// which runs for every message on the data path, so recording is a handful of
// stores and no object per record, no JSON.stringify. A client's frame (its
// bytes) is kept as a string of at most its first TRACE_TEXT_MAX bytes,
// summarised only when someone asks. Nothing that could pin memory is kept:
// actors are recorded by id (a dead actor and its socket are collected),
// objects and Buffers are never stored (a frame's Buffer may be a view of
// ws's whole 64 KiB read).
//
// The price of one shared ring: an actor's history is what is still in it. On
// a busy broker the last 8192 messages may span a second; on a quiet one,
// hours. `recent` says how far back the ring reaches (`since`).
import type { Actor } from '../actors/actor.js';
import { TRACE_RING_SIZE, TRACE_TEXT_MAX } from './limits.js';

/** One traced message as the channel reports it. */
export interface TraceEvent {
  /** Date.now() of the turn that handled it, ms. */
  at: number;
  /** `frame` for a client's text frame, else the message's own `type`. */
  type: string;
  [field: string]: unknown;
}

export interface TopEntry {
  id: string;
  /** Messages of this actor among those in the ring. */
  recent: number;
}

// The shapes recorded: connection messages (a string frame or {type, user|code,reason})
// and supervisor messages ({type, actor|from, op}). Read loosely on purpose: a
// new message type is traced by its `type` alone rather than breaking the ring.
interface LooseMsg {
  type?: unknown;
  user?: unknown;
  code?: unknown;
  reason?: unknown;
  room?: unknown;
  seq?: unknown;
  actor?: { id?: unknown } | null;
  from?: { id?: unknown } | null;
  who?: { actorId?: unknown } | null;
  op?: { op?: unknown; room?: unknown; to?: unknown } | null;
}

/** Field names a record's two detail slots were read from: literals, so storing them allocates nothing. */
type AKey = 'user' | 'reason' | 'room' | 'op';
type BKey = 'code' | 'seq' | 'target';

export class TraceRing {
  readonly capacity: number;
  readonly #id: string[];
  readonly #at: Float64Array;
  readonly #kind: string[];
  /** The other actor a supervisor message is about. */
  readonly #peer: (string | null)[];
  /** frame: its text (head only when long); else the message's user, reason, room or op name. */
  readonly #a: (string | null)[];
  readonly #aKey: AKey[];
  /** frame: its length; else the message's close code, seq, or an op's room or recipient. */
  readonly #b: (string | number | null)[];
  readonly #bKey: BKey[];
  #next = 0;
  /** Records ever written; the ring holds the last min(total, capacity). */
  total = 0;

  constructor(capacity: number = TRACE_RING_SIZE) {
    if (!(capacity >= 1)) throw new RangeError(`TraceRing: capacity must be >= 1, got ${capacity}`);
    this.capacity = capacity;
    this.#id = new Array<string>(capacity).fill('');
    this.#at = new Float64Array(capacity);
    this.#kind = new Array<string>(capacity).fill('');
    this.#peer = new Array<string | null>(capacity).fill(null);
    this.#a = new Array<string | null>(capacity).fill(null);
    this.#aKey = new Array<AKey>(capacity).fill('op');
    this.#b = new Array<string | number | null>(capacity).fill(null);
    this.#bKey = new Array<BKey>(capacity).fill('code');
  }

  /** Records that `actor` is about to handle `msg`. Called by the observer, on the data path. */
  record(actor: Actor<unknown>, msg: unknown): void {
    const i = this.#next;
    this.#next = i + 1 === this.capacity ? 0 : i + 1;
    this.total++;
    this.#id[i] = actor.id;
    this.#at[i] = actor.lastRunAt;
    if (msg instanceof Uint8Array) {
      this.#kind[i] = 'frame';
      this.#peer[i] = null;
      this.#a[i] = Buffer.from(msg.buffer, msg.byteOffset, Math.min(msg.length, TRACE_TEXT_MAX)).toString();
      this.#b[i] = msg.length;
      return;
    }
    const m = (msg !== null && typeof msg === 'object' ? msg : {}) as LooseMsg;
    this.#kind[i] = typeof m.type === 'string' ? m.type : 'message';
    const about = m.from ?? m.actor;
    const peer = about != null ? about.id : m.who?.actorId;
    this.#peer[i] = typeof peer === 'string' ? peer : null;
    const op = m.op;
    if (op != null && typeof op === 'object') {
      this.#a[i] = typeof op.op === 'string' ? op.op : null;
      this.#aKey[i] = 'op';
      this.#b[i] = typeof op.room === 'string' ? op.room : typeof op.to === 'string' ? op.to : null;
      this.#bKey[i] = 'target';
      return;
    }
    if (typeof m.user === 'string') this.#setA(i, 'user', m.user);
    else if (typeof m.reason === 'string') this.#setA(i, 'reason', m.reason);
    else if (typeof m.room === 'string') this.#setA(i, 'room', m.room);
    else this.#a[i] = null;
    if (typeof m.code === 'number') this.#setB(i, 'code', m.code);
    else if (typeof m.seq === 'number') this.#setB(i, 'seq', m.seq);
    else this.#b[i] = null;
  }

  #setA(i: number, key: AKey, value: string): void {
    this.#a[i] = value;
    this.#aKey[i] = key;
  }

  #setB(i: number, key: BKey, value: number): void {
    this.#b[i] = value;
    this.#bKey[i] = key;
  }

  /** Records in the ring now (<= capacity). */
  get size(): number {
    return Math.min(this.total, this.capacity);
  }

  /** Date.now() of the oldest record still held; 0 when empty. */
  get since(): number {
    if (this.total === 0) return 0;
    return this.#at[this.total <= this.capacity ? 0 : this.#next];
  }

  /** Up to `limit` of an actor's most recent records, oldest first. O(ring size). */
  recent(id: string, limit: number): TraceEvent[] {
    const hits: number[] = [];
    const n = this.size;
    for (let k = 1; k <= n && hits.length < limit; k++) {
      const i = (this.#next - k + this.capacity) % this.capacity;
      if (this.#id[i] === id) hits.push(i);
    }
    const out: TraceEvent[] = [];
    for (let h = hits.length - 1; h >= 0; h--) out.push(this.#describe(hits[h]));
    return out;
  }

  /** The record written last, described; for the live `events` topic. Undefined when empty. */
  last(): TraceEvent | undefined {
    if (this.total === 0) return undefined;
    return this.#describe((this.#next - 1 + this.capacity) % this.capacity);
  }

  /** The actors with the most records in the ring: who has been busiest lately. */
  top(limit: number): TopEntry[] {
    const counts = new Map<string, number>();
    const n = this.size;
    for (let k = 1; k <= n; k++) {
      const id = this.#id[(this.#next - k + this.capacity) % this.capacity];
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const out: TopEntry[] = [];
    for (const [id, recent] of counts) out.push({ id, recent });
    out.sort((x, y) => y.recent - x.recent || (x.id < y.id ? -1 : 1));
    return out.slice(0, limit);
  }

  /** The lazy half: turns a record into what the channel shows. Only on request. */
  #describe(i: number): TraceEvent {
    const type = this.#kind[i];
    const ev: TraceEvent = { at: this.#at[i], type };
    const a = this.#a[i];
    const b = this.#b[i];
    const peer = this.#peer[i];
    if (type === 'frame') {
      Object.assign(ev, summarizeFrame(a ?? '', typeof b === 'number' ? b : 0));
      return ev;
    }
    if (peer !== null) ev.actor = peer;
    if (a !== null) ev[this.#aKey[i]] = a;
    if (b !== null) ev[this.#bKey[i]] = b;
    return ev;
  }
}

/**
 * What a client's frame asked for: op and target when it parses, its head when
 * not. `text`: the frame's first TRACE_TEXT_MAX bytes decoded; `length`: its bytes.
 */
export function summarizeFrame(text: string, length: number): Record<string, unknown> {
  const out: Record<string, unknown> = { length };
  if (length <= TRACE_TEXT_MAX) {
    try {
      const v = JSON.parse(text) as unknown;
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        const o = v as Record<string, unknown>;
        if (typeof o.op === 'string') out.op = o.op.slice(0, 32);
        for (const key of ['room', 'to', 'id'] as const) {
          const f = o[key];
          if (typeof f === 'string' || typeof f === 'number') out[key] = typeof f === 'string' ? f.slice(0, 64) : f;
        }
        if (typeof o.text === 'string') out.text = o.text.length > 80 ? `${o.text.slice(0, 80)}…` : o.text;
        return out;
      }
    } catch {
      // not JSON: shown as text below
    }
  }
  out.text = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return out;
}

