// RoomHistory: the last K messages of one room, as a ring of encoded events.
// Allocated lazily and bounded in count and in bytes, so a room costs nothing
// until it has messages and never more than K of them or `maxBytes` of
// payload (the oldest go first). HistoryStore (history-store.ts) bounds the
// sum over every room.
import type { HistoryResult, StoredMessage } from './backplane.js';

/**
 * What a kept message costs beyond its payload (the message object, the
 * Buffer's own header, its ring slot), so a flood of tiny messages is charged too.
 */
export const MESSAGE_OVERHEAD_BYTES = 96;

/** A kept message's charge against the byte bounds. */
export function messageBytes(msg: StoredMessage): number {
  return msg.payload.length + MESSAGE_OVERHEAD_BYTES;
}

export class RoomHistory {
  #ring: (StoredMessage | undefined)[] | null = null;
  #next = 0; // slot of the next write
  #count = 0;
  /** Latest seq assigned in this room (0 before the first message). */
  seq = 0;
  /** What the kept messages are charged (messageBytes each). */
  bytes = 0;
  /** Date.now() when the room last had activity; for eviction of idle histories. */
  touchedAt = Date.now();

  constructor(readonly capacity: number, readonly maxBytes = Infinity) {}

  /** Messages kept. */
  get count(): number {
    return this.#count;
  }

  /** Assigns the next seq and keeps the message (dropping the oldest past either bound). */
  append(payloadFor: (seq: number) => Buffer): StoredMessage {
    const seq = ++this.seq;
    const msg = { seq, payload: payloadFor(seq) };
    this.touchedAt = Date.now();
    if (this.capacity === 0) return msg;
    if (this.#count === this.capacity) this.dropOldest();
    const ring = (this.#ring ??= new Array(this.capacity));
    ring[this.#next] = msg;
    this.#next = (this.#next + 1) % this.capacity;
    this.#count++;
    this.bytes += messageBytes(msg);
    while (this.bytes > this.maxBytes && this.#count > 0) this.dropOldest();
    return msg;
  }

  /** Forgets the oldest kept message; returns what it was charged (0: none kept). */
  dropOldest(): number {
    if (this.#count === 0 || this.#ring === null) return 0;
    const slot = (this.#next - this.#count + this.capacity) % this.capacity;
    const msg = this.#ring[slot]!;
    this.#ring[slot] = undefined; // let the payload go now, not when the slot is reused
    this.#count--;
    const freed = messageBytes(msg);
    this.bytes -= freed;
    return freed;
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

  /** The latest `limit` messages (with a seq below `before`, when given). */
  latest(limit: number, before = Infinity): HistoryResult {
    const to = Math.min(this.seq, before - 1);
    const from = Math.max(this.oldest, to - limit + 1);
    return { messages: this.#range(from, to), latest: this.seq, recovered: true };
  }

  /** What a HistoryQuery asks for; `limit` defaults to everything kept. */
  read(query: { since?: number; limit?: number; before?: number }): HistoryResult {
    return query.since !== undefined ? this.since(query.since) : this.latest(query.limit ?? this.capacity, query.before);
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
