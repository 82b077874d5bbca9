// RoomHistory: the last K messages of one room, as a ring of encoded events.
// Allocated lazily and bounded, so a room costs nothing until it has messages
// and never more than K of them.
import type { HistoryResult, StoredMessage } from './backplane.js';

export class RoomHistory {
  #ring: (StoredMessage | undefined)[] | null = null;
  #next = 0; // slot of the next write
  #count = 0;
  /** Latest seq assigned in this room (0 before the first message). */
  seq = 0;
  /** Date.now() when the room last had activity; for eviction of idle histories. */
  touchedAt = Date.now();

  constructor(readonly capacity: number) {}

  /** Assigns the next seq and keeps the message (dropping the oldest when full). */
  append(payloadFor: (seq: number) => Buffer): StoredMessage {
    const seq = ++this.seq;
    const msg = { seq, payload: payloadFor(seq) };
    this.touchedAt = Date.now();
    if (this.capacity === 0) return msg;
    const ring = (this.#ring ??= new Array(this.capacity));
    ring[this.#next] = msg;
    this.#next = (this.#next + 1) % this.capacity;
    if (this.#count < this.capacity) this.#count++;
    return msg;
  }

  /** Oldest seq still kept; seq + 1 when nothing is kept. */
  get oldest(): number {
    return this.seq - this.#count + 1;
  }

  /** Messages after `since`; recovered is false when some of them are no longer kept. */
  since(since: number): HistoryResult {
    const from = Math.max(since + 1, this.oldest);
    return {
      messages: this.#range(from, this.seq),
      latest: this.seq,
      recovered: since >= this.oldest - 1 && since <= this.seq,
    };
  }

  /** The latest `limit` messages. */
  latest(limit: number): HistoryResult {
    const from = Math.max(this.oldest, this.seq - limit + 1);
    return { messages: this.#range(from, this.seq), latest: this.seq, recovered: true };
  }

  #range(from: number, to: number): StoredMessage[] {
    const out: StoredMessage[] = [];
    if (this.#ring === null) return out;
    for (let seq = from; seq <= to; seq++) {
      // The message with seq s sits (seq - s) slots behind the next write.
      const slot = (this.#next - 1 - (this.seq - seq) + this.capacity * 2) % this.capacity;
      out.push(this.#ring[slot]!);
    }
    return out;
  }
}
