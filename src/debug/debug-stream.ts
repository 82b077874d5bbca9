// DebugStream: the live half of the debug channel (`subscribe`).
//
// Bounded three ways, because an inspector must never cost the chat it watches:
//   - sampled: each subscriber gets at most `eventsPerSecond` lifecycle and
//     transition events a second, and `handledPerSecond` handled-message events
//     (the `events` topic, one candidate per message on the data path); beyond
//     that they are only counted, and a `@hubbub.skipped` event says how many
//     were left out (stats samples are never skipped: one a second);
//   - batched: events wait in a queue that is flushed every FLUSH_INTERVAL_MS,
//     so a storm of connects costs one timer, not a write per event;
//   - dropped when slow: a subscriber whose socket has more than
//     `maxBufferedBytes` unsent is closed with 1013. Its output is never
//     buffered without bound.
// An event is built and encoded once, however many subscribers want it, and
// not at all when none does: producers ask `wants(topic)` first, which is one
// property read, and pass a builder and its argument (no closure per event).
import { WebSocket } from 'ws';
import { CLOSE_TRY_AGAIN_LATER } from '../constants.js';
import { EVENTS_PER_SECOND, FLUSH_INTERVAL_MS, HANDLED_EVENTS_PER_SECOND, MAX_DEBUG_BUFFERED_BYTES } from './limits.js';

export const TOPICS = ['lifecycle', 'transitions', 'stats', 'events'] as const;
export type Topic = (typeof TOPICS)[number];

const TOPIC_BIT: Record<Topic, number> = { lifecycle: 1, transitions: 2, stats: 4, events: 8 };

export interface StreamOptions {
  /** Lifecycle and transition events per subscriber per second. */
  eventsPerSecond?: number;
  /** `events` (handled messages) per subscriber per second. */
  handledPerSecond?: number;
  maxBufferedBytes?: number;
  flushIntervalMs?: number;
}

class Subscriber {
  topics = 0;
  /** What is left of this second's budgets: lifecycle + transitions, and events. */
  tokens = 0;
  handledTokens = 0;
  /** Events left out since the last skipped notice, by topic. */
  skipped: Partial<Record<Topic, number>> | null = null;
  queue: string[] = [];
  constructor(readonly ws: WebSocket) {}
}

export class DebugStream {
  readonly #subs = new Map<WebSocket, Subscriber>();
  /** The same subscribers as an array: publish iterates it on the data path without an iterator. */
  #list: Subscriber[] = [];
  /** Subscribers per topic: `wants` is one property read. */
  readonly #wanted: Record<Topic, number> = { lifecycle: 0, transitions: 0, stats: 0, events: 0 };
  readonly #eventsPerSecond: number;
  readonly #handledPerSecond: number;
  readonly #maxBuffered: number;
  readonly #flushIntervalMs: number;
  #flushTimer: NodeJS.Timeout | null = null;
  /** Subscribers closed for reading too slowly, over the stream's life. */
  droppedSubscribers = 0;
  /** Events left out by sampling, over the stream's life. */
  skippedEvents = 0;

  constructor(options: StreamOptions = {}) {
    this.#eventsPerSecond = options.eventsPerSecond ?? EVENTS_PER_SECOND;
    this.#handledPerSecond = options.handledPerSecond ?? HANDLED_EVENTS_PER_SECOND;
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
      sub = new Subscriber(ws);
      sub.tokens = this.#eventsPerSecond;
      sub.handledTokens = this.#handledPerSecond;
      this.#subs.set(ws, sub);
      this.#list = [...this.#subs.values()];
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
    if (sub.topics === 0) {
      this.#subs.delete(ws);
      this.#list = [...this.#subs.values()];
    }
    return TOPICS.filter((t) => (sub.topics & TOPIC_BIT[t]) !== 0);
  }

  /**
   * Queues an event for every subscriber of `topic` that has budget left.
   * `build(arg)` runs at most once, and only when someone will receive it.
   */
  publish<A>(topic: Topic, build: (arg: A) => object, arg: A): void {
    const bit = TOPIC_BIT[topic];
    const list = this.#list;
    let text: string | null = null;
    for (let i = 0; i < list.length; i++) {
      const sub = list[i];
      if ((sub.topics & bit) === 0) continue;
      if (topic === 'events') {
        if (sub.handledTokens <= 0) {
          this.#skip(sub, topic);
          continue;
        }
        sub.handledTokens--;
      } else if (topic !== 'stats') {
        if (sub.tokens <= 0) {
          this.#skip(sub, topic);
          continue;
        }
        sub.tokens--;
      }
      text ??= JSON.stringify(build(arg));
      sub.queue.push(text);
    }
    if (text !== null && this.#flushTimer === null) {
      this.#flushTimer = setTimeout(() => this.flush(), this.#flushIntervalMs);
      this.#flushTimer.unref();
    }
  }

  #skip(sub: Subscriber, topic: Topic): void {
    (sub.skipped ??= {})[topic] = (sub.skipped[topic] ?? 0) + 1;
    this.skippedEvents++;
  }

  /** Once a second: refills every budget and tells who missed events how many. */
  tick(now: number): void {
    for (const sub of this.#list) {
      sub.tokens = this.#eventsPerSecond;
      sub.handledTokens = this.#handledPerSecond;
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
    this.#list = [];
    for (const t of TOPICS) this.#wanted[t] = 0;
  }
}
