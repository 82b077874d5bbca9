// DebugStream: the live half of the debug channel (`subscribe`).
//
// Bounded three ways, because an inspector must never cost the chat it watches:
//   - sampled: each subscriber gets at most `eventsPerSecond` events a second;
//     beyond that they are only counted, and a `@hubbub.skipped` event says how
//     many were left out (stats samples are never skipped: one a second);
//   - batched: events wait in a queue that is flushed every FLUSH_INTERVAL_MS,
//     so a storm of connects costs one timer, not a write per event;
//   - dropped when slow: a subscriber whose socket has more than
//     `maxBufferedBytes` unsent is closed with 1013. Its output is never
//     buffered without bound.
// An event is built and encoded once, however many subscribers want it, and
// not at all when none does: producers ask `wants(topic)` first, which is one
// property read.
import { WebSocket } from 'ws';
import { CLOSE_TRY_AGAIN_LATER } from '../constants.js';
import { EVENTS_PER_SECOND, FLUSH_INTERVAL_MS, MAX_DEBUG_BUFFERED_BYTES } from './limits.js';

export const TOPICS = ['lifecycle', 'transitions', 'stats', 'events'] as const;
export type Topic = (typeof TOPICS)[number];

const TOPIC_BIT: Record<Topic, number> = { lifecycle: 1, transitions: 2, stats: 4, events: 8 };

export interface StreamOptions {
  eventsPerSecond?: number;
  maxBufferedBytes?: number;
  flushIntervalMs?: number;
}

class Subscriber {
  topics = 0;
  tokens: number;
  /** Events left out since the last skipped notice, by topic. */
  skipped: Partial<Record<Topic, number>> | null = null;
  queue: string[] = [];
  constructor(readonly ws: WebSocket, tokens: number) {
    this.tokens = tokens;
  }
}

export class DebugStream {
  readonly #subs = new Map<WebSocket, Subscriber>();
  /** Subscribers per topic: `wants` is one property read. */
  readonly #wanted: Record<Topic, number> = { lifecycle: 0, transitions: 0, stats: 0, events: 0 };
  readonly #eventsPerSecond: number;
  readonly #maxBuffered: number;
  readonly #flushIntervalMs: number;
  #flushTimer: NodeJS.Timeout | null = null;
  /** Subscribers closed for reading too slowly, over the stream's life. */
  droppedSubscribers = 0;
  /** Events left out by sampling, over the stream's life. */
  skippedEvents = 0;

  constructor(options: StreamOptions = {}) {
    this.#eventsPerSecond = options.eventsPerSecond ?? EVENTS_PER_SECOND;
    this.#maxBuffered = options.maxBufferedBytes ?? MAX_DEBUG_BUFFERED_BYTES;
    this.#flushIntervalMs = options.flushIntervalMs ?? FLUSH_INTERVAL_MS;
  }

  get subscribers(): number {
    return this.#subs.size;
  }

  /** True when some subscriber wants this topic: producers check before building an event. */
  wants(topic: Topic): boolean {
    return this.#wanted[topic] > 0;
  }

  /** Adds topics to a socket's subscription (creating it). Returns the socket's topics now. */
  subscribe(ws: WebSocket, topics: readonly Topic[]): Topic[] {
    let sub = this.#subs.get(ws);
    if (sub === undefined) {
      sub = new Subscriber(ws, this.#eventsPerSecond);
      this.#subs.set(ws, sub);
    }
    for (const t of topics) {
      if ((sub.topics & TOPIC_BIT[t]) !== 0) continue;
      sub.topics |= TOPIC_BIT[t];
      this.#wanted[t]++;
    }
    return TOPICS.filter((t) => (sub.topics & TOPIC_BIT[t]) !== 0);
  }

  /** Removes topics (all when none given). Returns the socket's topics now. */
  unsubscribe(ws: WebSocket, topics: readonly Topic[] = TOPICS): Topic[] {
    const sub = this.#subs.get(ws);
    if (sub === undefined) return [];
    for (const t of topics) {
      if ((sub.topics & TOPIC_BIT[t]) === 0) continue;
      sub.topics &= ~TOPIC_BIT[t];
      this.#wanted[t]--;
    }
    if (sub.topics === 0) this.#subs.delete(ws);
    return TOPICS.filter((t) => (sub.topics & TOPIC_BIT[t]) !== 0);
  }

  /**
   * Queues an event for every subscriber of `topic` that has budget left.
   * `build` runs at most once, and only when someone will receive it.
   */
  publish(topic: Topic, build: () => object): void {
    const bit = TOPIC_BIT[topic];
    const limited = topic !== 'stats';
    let text: string | null = null;
    for (const sub of this.#subs.values()) {
      if ((sub.topics & bit) === 0) continue;
      if (limited) {
        if (sub.tokens <= 0) {
          (sub.skipped ??= {})[topic] = (sub.skipped[topic] ?? 0) + 1;
          this.skippedEvents++;
          continue;
        }
        sub.tokens--;
      }
      text ??= JSON.stringify(build());
      sub.queue.push(text);
    }
    if (text !== null && this.#flushTimer === null) {
      this.#flushTimer = setTimeout(() => this.flush(), this.#flushIntervalMs);
      this.#flushTimer.unref();
    }
  }

  /** Once a second: refills every budget and tells who missed events how many. */
  tick(now: number): void {
    for (const sub of this.#subs.values()) {
      sub.tokens = this.#eventsPerSecond;
      if (sub.skipped !== null) {
        sub.queue.push(JSON.stringify({ type: '@hubbub.skipped', at: now, skipped: sub.skipped }));
        sub.skipped = null;
      }
    }
    this.flush();
  }

  /** Writes every queue; drops the subscribers that have not read what they were sent. */
  flush(): void {
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    for (const sub of this.#subs.values()) {
      const queue = sub.queue;
      if (queue.length === 0) continue;
      sub.queue = [];
      const ws = sub.ws;
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (ws.bufferedAmount > this.#maxBuffered) {
        this.drop(ws);
        continue;
      }
      for (let i = 0; i < queue.length; i++) ws.send(queue[i]);
    }
  }

  /** Ends a slow subscriber: 1013, and its socket is destroyed if the close cannot get out. */
  drop(ws: WebSocket): void {
    this.unsubscribe(ws);
    this.droppedSubscribers++;
    ws.close(CLOSE_TRY_AGAIN_LATER, 'slow debug subscriber: too much unread output');
    setTimeout(() => ws.terminate(), 1000).unref();
  }

  /** A socket closed: forget it. */
  remove(ws: WebSocket): void {
    this.unsubscribe(ws);
  }

  close(): void {
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    this.#subs.clear();
    for (const t of TOPICS) this.#wanted[t] = 0;
  }
}
