// RoomBook: the rooms a client is in or means to rejoin, each with the last
// seq seen there and who waits for its join to be answered.
//
// Replays are recognised by (seq, ts, from), not by seq alone: a broker that
// restarted without history counts seqs from 1 again, and those new messages
// must not be mistaken for old ones. Only sequenced messages can be replays:
// a local one (sent while the broker's backplane was down: no seq,
// `local:true`) is never replayed, so it is never dropped as one, and it
// never moves the last seq, which is what a rejoin resumes from.
import type { HubbubClientError } from './errors.js';
import type { JoinedEvent, ChatMessageEvent } from './wire.js';

/** How many recent messages per room are remembered to recognise a replay. */
const RECENT_PER_ROOM = 256;

interface Waiter {
  resolve: (ev: JoinedEvent) => void;
  reject: (err: HubbubClientError) => void;
}

export class RoomRecord {
  /** The seq of the latest message seen here; sent as `since` on rejoin. */
  lastSeq: number | null;
  /** Id of the join in flight for this room, or null. */
  joinId: number | null = null;
  waiters: Waiter[] = [];
  readonly #recent: string[] = [];
  readonly #recentSet = new Set<string>();

  constructor(readonly name: string, lastSeq: number | null) {
    this.lastSeq = lastSeq;
  }

  resolveWaiters(ev: JoinedEvent): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve(ev);
  }

  rejectWaiters(err: HubbubClientError): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(err);
  }

  /** True when this message was seen already; otherwise remembers it. */
  seen(ev: ChatMessageEvent): boolean {
    // The wire type says seq is a number; a local message has none all the same.
    if (typeof ev.seq !== 'number') return false;
    const key = `${ev.seq}:${ev.ts}:${ev.from}`;
    if (this.#recentSet.has(key)) return true;
    this.#recent.push(key);
    this.#recentSet.add(key);
    if (this.#recent.length > RECENT_PER_ROOM) this.#recentSet.delete(this.#recent.shift()!);
    this.lastSeq = ev.seq;
    return false;
  }
}

export class RoomBook {
  readonly #rooms = new Map<string, RoomRecord>();

  /** The room's record, created if new; a given `since` replaces the last seq seen. */
  add(name: string, since: number | null): RoomRecord {
    let rec = this.#rooms.get(name);
    if (rec === undefined) this.#rooms.set(name, (rec = new RoomRecord(name, since)));
    else if (since !== null) rec.lastSeq = since;
    return rec;
  }

  get(name: string): RoomRecord | undefined {
    return this.#rooms.get(name);
  }

  remove(name: string): RoomRecord | undefined {
    const rec = this.#rooms.get(name);
    this.#rooms.delete(name);
    return rec;
  }

  names(): string[] {
    return [...this.#rooms.keys()];
  }

  records(): IterableIterator<RoomRecord> {
    return this.#rooms.values();
  }

  /** True when this message is a replay of one already delivered. */
  seen(ev: ChatMessageEvent): boolean {
    return this.#rooms.get(ev.room)?.seen(ev) ?? false;
  }
}
