// HistoryStore: every room's history on a node that keeps them in its own
// memory (the memory backplane, the --workers primary), under one byte budget.
//
// Each room is bounded by count and bytes (RoomHistory); the sum over rooms is
// bounded by `budgetBytes`, so one client cycling through many rooms cannot
// grow the process without limit. Past the budget the oldest messages of the
// whole process go first, whichever rooms they are in: a global FIFO of what
// was appended, in append order. A room's own drops (its count or byte bound)
// leave stale entries in that FIFO; they are skipped when reached, and the
// FIFO is compacted when stale entries outnumber live ones, so it stays
// O(messages kept).
//
// A room's seq outlives its messages: the budget empties rooms, it never
// forgets their seqs (a resuming member gets recovered:false, not a seq from
// another incarnation). Only the idle sweep drops a room's history whole.
import type { HistoryStats, StoredMessage } from './backplane.js';
import { RoomHistory } from './room-history.js';

export interface HistoryLimits {
  /** Messages kept per room. */
  historySize: number;
  /** Bytes kept per room (payload plus a fixed overhead per message). */
  historyRoomBytes: number;
  /** Bytes kept over every room of this process. */
  historyBudgetBytes: number;
  /** A room's history is dropped once it has been idle (no message, no member) this long, ms. */
  historyRetentionMs: number;
}

interface Appended {
  history: RoomHistory;
  seq: number;
}

export class HistoryStore implements HistoryStats {
  readonly #rooms = new Map<string, RoomHistory>();
  /** Every message appended and not yet reached by the budget, oldest first (some stale). */
  #fifo: Appended[] = [];
  #head = 0;
  /** Histories dropped whole: their FIFO entries are stale. */
  readonly #dropped = new WeakSet<RoomHistory>();
  bytes = 0;
  messages = 0;
  readonly evictions = { budget: 0, roomBytes: 0, idle: 0 };

  constructor(readonly limits: HistoryLimits) {}

  get rooms(): number {
    return this.#rooms.size;
  }

  /** The room's latest seq (0: none kept, or its history was dropped). */
  latestSeq(name: string): number {
    return this.#rooms.get(name)?.seq ?? 0;
  }

  /** The room's history, made empty when it has none. */
  room(name: string): RoomHistory {
    let h = this.#rooms.get(name);
    if (h === undefined) {
      h = new RoomHistory(this.limits.historySize, this.limits.historyRoomBytes);
      this.#rooms.set(name, h);
    }
    return h;
  }

  /** Assigns the room's next seq and keeps the message, within every bound. */
  append(name: string, payloadFor: (seq: number) => Buffer): StoredMessage {
    const h = this.room(name);
    const bytesBefore = h.bytes;
    const countBefore = h.count;
    const msg = h.append(payloadFor);
    this.bytes += h.bytes - bytesBefore;
    this.messages += h.count - countBefore;
    // The message is in when the count went up or the ring dropped one for it;
    // when even it went over the room's byte bound, it was not kept.
    if (h.count > 0 && h.oldest <= msg.seq) this.#fifo.push({ history: h, seq: msg.seq });
    const roomDrops = countBefore + 1 - h.count - (countBefore === h.capacity ? 1 : 0);
    if (roomDrops > 0) this.evictions.roomBytes += roomDrops;
    if (this.bytes > this.limits.historyBudgetBytes) this.#evict();
    else if (this.#fifo.length - this.#head > 2 * this.messages + 1024) this.#compact();
    return msg;
  }

  /** Drops the histories idle (no message since the cutoff) in rooms `inUse` does not claim. */
  sweep(inUse: (room: string) => boolean): void {
    const cutoff = Date.now() - this.limits.historyRetentionMs;
    for (const [name, h] of this.#rooms) {
      if (h.touchedAt >= cutoff || inUse(name)) continue;
      this.#rooms.delete(name);
      this.#dropped.add(h);
      this.bytes -= h.bytes;
      this.messages -= h.count;
      this.evictions.idle += h.count;
    }
  }

  /** The sweeper's period: a room goes within 1.25x its retention. */
  get sweepEveryMs(): number {
    return Math.max(250, Math.min(60_000, Math.floor(this.limits.historyRetentionMs / 4)));
  }

  #evict(): void {
    const fifo = this.#fifo;
    while (this.bytes > this.limits.historyBudgetBytes && this.#head < fifo.length) {
      const { history: h, seq } = fifo[this.#head];
      fifo[this.#head++] = undefined as unknown as Appended; // unreferenced now; compacted below
      // Live only if it is its room's oldest: a room's entries enter in seq
      // order and leave only from here or from its own oldest end.
      if (this.#dropped.has(h) || h.count === 0 || h.oldest !== seq) continue;
      this.bytes -= h.dropOldest();
      this.messages--;
      this.evictions.budget++;
    }
    if (this.#head > 1024 && this.#head * 2 > fifo.length) this.#compact();
  }

  #compact(): void {
    const live: Appended[] = [];
    for (let i = this.#head; i < this.#fifo.length; i++) {
      const e = this.#fifo[i];
      if (!this.#dropped.has(e.history) && e.seq >= e.history.oldest) live.push(e);
    }
    this.#fifo = live;
    this.#head = 0;
  }
}
