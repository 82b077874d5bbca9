// Ring: a bounded FIFO on a ring buffer, the one queue shape of the runtime.
//
// Not allocated until the first item arrives, then grows by doubling up to its
// capacity, so the 100,000th idle connection's mailbox costs a null pointer, not
// a preallocated array. Used as actor mailboxes (bounded), the scheduler's local
// run queue (256) and its global queue (unbounded: capacity Infinity).
import { MAILBOX_INITIAL_SLOTS } from '../constants.js';

export class Ring<T> {
  #ring: (T | undefined)[] | null = null;
  #head = 0; // index of the oldest message
  #size = 0;
  readonly capacity: number;

  constructor(capacity: number) {
    if (!(capacity >= 1)) throw new RangeError(`Ring: capacity must be >= 1, got ${capacity}`);
    this.capacity = capacity;
  }

  get size(): number {
    return this.#size;
  }

  /** Slots currently allocated (0 until first use); for memory inspection and tests. */
  get allocated(): number {
    return this.#ring === null ? 0 : this.#ring.length;
  }

  /**
   * Appends an item. Returns false, and keeps nothing, when the ring is full,
   * unless `force`: then it grows past its capacity (for lifecycle messages
   * that must never be lost, such as "the socket closed").
   */
  put(item: T, force = false): boolean {
    if (this.#size >= this.capacity && !force) return false;
    let ring = this.#ring;
    if (ring === null) {
      ring = this.#ring = new Array(Math.min(MAILBOX_INITIAL_SLOTS, this.capacity));
    } else if (this.#size === ring.length) {
      ring = this.#grow(ring);
    }
    ring[(this.#head + this.#size) % ring.length] = item;
    this.#size++;
    return true;
  }

  /** Removes and returns the oldest item; undefined when empty. */
  take(): T | undefined {
    if (this.#size === 0) return undefined;
    const ring = this.#ring!;
    const item = ring[this.#head];
    ring[this.#head] = undefined; // let the item be collected
    this.#head = (this.#head + 1) % ring.length;
    this.#size--;
    return item;
  }

  /** Drops every item and the ring itself (an idle actor holds no array). */
  clear(): void {
    this.#ring = null;
    this.#head = 0;
    this.#size = 0;
  }

  /** Oldest first, without removing; for inspection. */
  *peekAll(): IterableIterator<T> {
    const ring = this.#ring;
    for (let i = 0; i < this.#size; i++) yield ring![(this.#head + i) % ring!.length] as T;
  }

  #grow(ring: (T | undefined)[]): (T | undefined)[] {
    const next: (T | undefined)[] = new Array(Math.max(Math.min(ring.length * 2, this.capacity), this.#size + 1));
    for (let i = 0; i < this.#size; i++) next[i] = ring[(this.#head + i) % ring.length];
    this.#head = 0;
    this.#ring = next;
    return next;
  }
}
