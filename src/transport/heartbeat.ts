// HeartbeatWheel: one timer pings every connection once per interval.
//
// Not a setTimeout per connection: the sockets are spread over `buckets` sets
// and one interval timer visits one bucket per tick (interval / buckets), so
// 100k connections cost one timer and the pings are spread evenly over time
// instead of bursting. A socket that has not answered (pong or any message)
// since the previous visit is terminated: a dead peer goes within two
// intervals at most, and its 'close' event unregisters it like any other.
// Timers run late on a busy process, and a late setInterval does not catch up
// (each run is scheduled from the last), so a tick visits every bucket whose
// turn has come: the wheel turns once per interval however late its ticks.
// While clients are sending (frames came in since the last visit), a visit
// pings a few sockets per event-loop turn (HEARTBEAT_PINGS_PER_TURN) and goes
// on with setImmediate: between its steps the loop polls, so a message that
// arrives during a visit waits for a few pings, not for the whole bucket. No
// timer is added: the steps are turns of a loop that is awake anyway. With no
// traffic nobody waits, and the bucket goes in one turn as it always did (its
// pongs come back together; spread, they cost an idle broker ~6% more CPU).
import { WebSocket } from 'ws';
import { HEARTBEAT_MIN_TICK_MS, HEARTBEAT_PINGS_PER_TURN } from '../constants.js';
import type { HubSocket } from './hub-socket.js';

export class HeartbeatWheel {
  readonly #buckets: Set<HubSocket>[] = [];
  #cursor = 0;
  #next = 0;
  #size = 0;
  readonly #timer: NodeJS.Timeout;
  readonly #tickMs: number;
  /** performance.now() at which the next bucket is due. */
  #due: number;
  /** A count that grows with client traffic (frames in), read once per visit; null: always in steps. */
  readonly #traffic: (() => number) | null;
  #trafficSeen = -1;
  /** The rest of the bucket being visited, and the turn that goes on with it. */
  #pending: Iterator<HubSocket> | null = null;
  #step: NodeJS.Immediate | null = null;
  readonly #goOn = (): void => {
    this.#step = null;
    this.#visitSome(HEARTBEAT_PINGS_PER_TURN);
  };
  /** Peers terminated for not answering, over the wheel's life. */
  terminated = 0;
  /**
   * Buckets visited over the wheel's life: the wheel's own clock (one turn is
   * `buckets` visits), so tests count how long a silent peer lasted in turns,
   * which a loaded machine makes late but not more numerous.
   */
  visits = 0;

  constructor(intervalMs: number, buckets: number, traffic: (() => number) | null = null) {
    this.#traffic = traffic;
    this.#trafficSeen = traffic === null ? -1 : traffic();
    // Short intervals (tests) get fewer buckets rather than a timer every millisecond.
    buckets = Math.max(1, Math.min(buckets, Math.floor(intervalMs / HEARTBEAT_MIN_TICK_MS)));
    for (let i = 0; i < buckets; i++) this.#buckets.push(new Set());
    this.#tickMs = Math.max(1, Math.floor(intervalMs / buckets));
    this.#due = performance.now() + this.#tickMs;
    this.#timer = setInterval(() => this.#tick(), this.#tickMs);
    this.#timer.unref();
  }

  get buckets(): number {
    return this.#buckets.length;
  }

  get size(): number {
    return this.#size;
  }

  add(socket: HubSocket): void {
    if (socket.bucket >= 0) return;
    socket.bucket = this.#next;
    this.#next = (this.#next + 1) % this.#buckets.length;
    this.#buckets[socket.bucket].add(socket);
    this.#size++;
  }

  remove(socket: HubSocket): void {
    if (socket.bucket < 0) return;
    this.#buckets[socket.bucket].delete(socket);
    socket.bucket = -1;
    this.#size--;
  }

  /** Every socket on the wheel (for shutdown). */
  *sockets(): IterableIterator<HubSocket> {
    for (const bucket of this.#buckets) yield* bucket;
  }

  stop(): void {
    clearInterval(this.#timer);
    if (this.#step !== null) clearImmediate(this.#step);
    this.#step = null;
    this.#pending = null;
  }

  #tick(): void {
    const now = performance.now();
    // At most one turn of the wheel per tick; further behind than that, start afresh from now.
    for (let n = 0; now >= this.#due && n < this.#buckets.length; n++) {
      this.#visit();
      this.#due += this.#tickMs;
    }
    if (now >= this.#due) this.#due = now + this.#tickMs;
  }

  #visit(): void {
    this.visits++;
    // A late tick visits several buckets at once: the one still under way is finished first.
    if (this.#pending !== null) this.#visitSome(Infinity);
    const bucket = this.#buckets[this.#cursor];
    this.#cursor = (this.#cursor + 1) % this.#buckets.length;
    this.#pending = bucket.values();
    const seen = this.#traffic === null ? -1 : this.#traffic();
    const quiet = seen >= 0 && seen === this.#trafficSeen;
    this.#trafficSeen = seen;
    this.#visitSome(quiet ? Infinity : HEARTBEAT_PINGS_PER_TURN);
  }

  /** Pings (or drops) up to `n` sockets of the visit under way; the rest after the event loop has polled. */
  #visitSome(n: number): void {
    const pending = this.#pending;
    if (pending === null) return;
    for (let i = 0; i < n; i++) {
      const next = pending.next();
      if (next.done === true) {
        this.#pending = null;
        return;
      }
      this.#check(next.value);
    }
    this.#step ??= setImmediate(this.#goOn);
  }

  #check(socket: HubSocket): void {
    if (socket.readyState !== WebSocket.OPEN) return;
    if (!socket.alive) {
      this.terminated++;
      socket.terminate();
      return;
    }
    socket.alive = false;
    socket.sendPing();
  }
}
