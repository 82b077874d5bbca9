// StatsSampler: the `stats` reply, and the once-a-second samples behind the
// inspector's charts (run queue, messages/s, connections over five minutes).
//
// Queues are empty whenever a timer can look at them (a slice drains them
// before the event loop runs anything else), so the run queue is also looked
// at when a slice ends with work left over: `sliceEnded` is a slice-end hook
// that costs one getter when the scheduler is quiescent.
import type { Scheduler, SchedulerStats } from '../actors/scheduler.js';
import type { ActorIndex } from './actor-index.js';
import { STATS_HISTORY } from './limits.js';
import type { TraceRing } from './trace-ring.js';

export interface StatsSample {
  at: number;
  /** Longest run + global queue seen during the second. */
  runQueue: number;
  messagesPerSec: number;
  connections: number;
  actors: number;
}

export interface StatsReply {
  type: 'stats';
  at: number;
  scheduler: SchedulerStats & { runQueueMax: number };
  actors: { total: number; byState: Record<string, number>; byKind: Record<string, number> };
  rooms: number;
  /** Open sockets on /ws. */
  connections: number;
  uptimeMs: number;
  rates: { messagesPerSec: number; slicesPerSec: number };
  trace: { size: number; capacity: number; recorded: number; since: number };
  debug: { clients: number; subscribers: number; droppedSubscribers: number; skippedEvents: number };
}

export interface StatsSources {
  scheduler: Scheduler;
  index: ActorIndex;
  trace: TraceRing;
  startedAt: number;
  connections(): number;
  debug(): StatsReply['debug'];
}

export class StatsSampler {
  readonly #src: StatsSources;
  readonly #history: StatsSample[] = [];
  #runQueueMax = 0;
  #lastAt = Date.now();
  #lastMessages = 0;
  #lastSlices = 0;
  #rates = { messagesPerSec: 0, slicesPerSec: 0 };

  constructor(src: StatsSources) {
    this.#src = src;
    const s = src.scheduler.stats();
    this.#lastMessages = s.messages;
    this.#lastSlices = s.slices;
  }

  /** Slice-end hook. Runs after every slice: one getter unless work was left over. */
  sliceEnded(): void {
    const scheduler = this.#src.scheduler;
    if (scheduler.quiescent) return;
    const s = scheduler.stats();
    const queued = s.runQueue + s.globalQueue + (s.runnext ? 1 : 0);
    if (queued > this.#runQueueMax) this.#runQueueMax = queued;
  }

  /** The `stats` reply as of now. */
  current(now = Date.now()): StatsReply {
    const { scheduler, index, trace } = this.#src;
    const s = scheduler.stats();
    const queued = s.runQueue + s.globalQueue + (s.runnext ? 1 : 0);
    const live = scheduler.liveActors;
    const connections = index.connections;
    return {
      type: 'stats',
      at: now,
      scheduler: { ...s, runQueueMax: Math.max(this.#runQueueMax, queued) },
      actors: {
        total: live,
        byState: { ...index.byState },
        byKind: { connection: connections, other: live - connections },
      },
      rooms: index.registry.rooms.size,
      connections: this.#src.connections(),
      uptimeMs: now - this.#src.startedAt,
      rates: { ...this.#rates },
      trace: { size: trace.size, capacity: trace.capacity, recorded: trace.total, since: trace.since },
      debug: this.#src.debug(),
    };
  }

  /** Once a second: rates over the last interval, a history sample, and the reply to stream. */
  sample(now = Date.now()): StatsReply {
    const s = this.#src.scheduler.stats();
    const dt = Math.max(1, now - this.#lastAt) / 1000;
    this.#rates = {
      messagesPerSec: Math.round((s.messages - this.#lastMessages) / dt),
      slicesPerSec: Math.round((s.slices - this.#lastSlices) / dt),
    };
    this.#lastAt = now;
    this.#lastMessages = s.messages;
    this.#lastSlices = s.slices;
    const reply = this.current(now);
    this.#runQueueMax = 0;
    this.#history.push({
      at: now,
      runQueue: reply.scheduler.runQueueMax,
      messagesPerSec: this.#rates.messagesPerSec,
      connections: reply.connections,
      actors: reply.actors.total,
    });
    if (this.#history.length > STATS_HISTORY) this.#history.shift();
    return reply;
  }

  /** Samples of the last minutes, oldest first. */
  history(): StatsSample[] {
    return this.#history.slice();
  }
}
