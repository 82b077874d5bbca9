// Metrics: the broker's numbers in Prometheus format at GET /metrics (prom-client).
//
// The hot path never calls prom-client. Per-frame and per-event counts are plain
// number fields (HubCounters here, RateLimit's, the scheduler's stats),
// incremented inline; prom-client reads them in `collect()` callbacks when
// /metrics is scraped. The one observation made as it happens is the slice
// duration histogram: once per scheduler slice, not per message.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ActorStatus } from '../actors/actor.js';
import type { ConnectionState } from '../actors/connection-machine.js';
import type { RateLimit } from '../actors/rate-limit.js';
import type { Scheduler } from '../actors/scheduler.js';
import type { HistoryStats } from '../backplane/backplane.js';

/** Plain counters of the transport, bumped inline by the gateway and its sockets. */
export class HubCounters {
  /** Text and binary frames received from clients, and their payload bytes. */
  framesIn = 0;
  bytesIn = 0;
  /** Events queued to sockets (one per recipient), and the bytes written for them. */
  eventsOut = 0;
  bytesOut = 0;
  /** Connections closed 1013 because their unread output passed the bound. */
  slowConsumers = 0;
  /** Upgrades refused, by reason. */
  authRefused = 0;
  originRefused = 0;
  /** Connections closed, by the code ws reports (the peer's, or 1006 when none came). */
  readonly closes = new Map<number, number>();
  /** Close frames the broker sent, by code. */
  readonly closeFramesSent = new Map<number, number>();

  countClose(code: number): void {
    this.closes.set(code, (this.closes.get(code) ?? 0) + 1);
  }

  countCloseSent(code: number): void {
    this.closeFramesSent.set(code, (this.closeFramesSent.get(code) ?? 0) + 1);
  }
}

/** What the metrics read; the broker's parts, named narrowly so tests can fake them. */
export interface MetricsSources {
  scheduler: Scheduler;
  /**
   * The heartbeat wheel (it holds every open /ws socket), as far as metrics read
   * it: named by shape, so metrics does not import the socket it counts (the
   * socket imports HubCounters from here).
   */
  heartbeat: {
    readonly size: number;
    readonly terminated: number;
    sockets(): Iterable<{ readonly actor: { readonly state: ConnectionState; readonly status: ActorStatus } | null }>;
  };
  counters: HubCounters;
  /** Read at each scrape: the connection env's limit may be replaced (tests do). */
  limits: { readonly rateLimit?: RateLimit | null };
  gate: { readonly refused: { readonly ipCap: number; readonly connCap: number }; readonly maxConns: number };
  /** The HTTP edge: sockets it closed before any request was served. */
  http: { readonly headersTimedOut: number; readonly openConnections: number };
  /** The supervisor's health: its backplane link and its own handler failures. */
  supervisor: { readonly backplaneUp: boolean; readonly handlerErrors: number; readonly heldNames: number };
  /** Room histories kept in this process (memory backplane); null where they are kept elsewhere. */
  history?: HistoryStats | null;
}

const LIFECYCLE: readonly ConnectionState[] = ['connecting', 'open', 'closing', 'closed'];
/**
 * prom-client samples event-loop delay with a timer of this period (its
 * default, 10 ms, wakes an idle broker 100 times a second: 0.45% of a core
 * measured here, a quarter of the idle cost of 19k connections). At 100 ms a
 * stall of 100 ms or more is always seen; a shorter one when a sample falls in it.
 */
const EVENT_LOOP_SAMPLE_MS = 100;
const STATUSES = ['idle', 'runnable', 'running', 'dead'] as const;
/** Slice durations, seconds: 0.1 ms to 100 ms around the 10 ms budget. */
const SLICE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1];

/** A registry of its own per broker (several brokers may share a process in tests). */
export function createMetrics(src: MetricsSources, options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  const registers = [registry];
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'hubbub_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  const { scheduler, heartbeat, counters, limits, gate, supervisor, http } = src;

  const counter = (name: string, help: string, read: () => number): void => {
    new Counter({ name, help, registers, collect() { this.reset(); this.inc(read()); } });
  };
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({ name, help, registers, collect() { this.set(read()); } });
  };
  const byCode = (name: string, help: string, map: Map<number, number>): void => {
    new Counter({
      name, help, labelNames: ['code'], registers,
      collect() {
        this.reset();
        for (const [code, n] of map) this.inc({ code: String(code) }, n);
      },
    });
  };

  gauge('hubbub_connections', 'Open WebSocket connections on /ws.', () => heartbeat.size);
  gauge('hubbub_tcp_connections', 'Open TCP connections of the HTTP server (pages, sockets still in HTTP, WebSockets), counted against --max-conns.', () => http.openConnections);
  gauge('hubbub_tcp_connections_max', 'The --max-conns cap (0: none).', () => gate.maxConns);
  gauge('hubbub_actors_live', 'Actors spawned and not yet dead (connections plus the supervisor).', () => scheduler.liveActors);
  new Gauge({
    name: 'hubbub_actors', help: 'Connection actors by lifecycle state and by scheduler status.',
    labelNames: ['state', 'status'], registers,
    collect() {
      // O(connections) per scrape, nothing per message.
      const counts = new Map<string, number>();
      for (const ws of heartbeat.sockets()) {
        const a = ws.actor;
        if (a === null) continue;
        const key = `${a.state}|${a.status}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      this.reset();
      for (const state of LIFECYCLE) for (const status of STATUSES) this.set({ state, status }, counts.get(`${state}|${status}`) ?? 0);
    },
  });
  gauge('hubbub_run_queue_length', 'Actors waiting to run: local ring, global queue and runnext.', () => {
    const s = scheduler.stats();
    return s.runQueue + s.globalQueue + (s.runnext ? 1 : 0);
  });
  gauge('hubbub_backplane_up', '1 while the backplane link is up; 0 while Redis is away and only local rooms are served.', () => (supervisor.backplaneUp ? 1 : 0));
  gauge('hubbub_presence_held', 'Users whose connection dropped, held in the presence grace (name taken, still listed) until they come back or it ends.', () => supervisor.heldNames);
  counter('hubbub_supervisor_errors_total', 'Supervisor handler exceptions (each logged, its culprit stopped); 0 in a healthy broker.', () => supervisor.handlerErrors);
  counter('hubbub_actor_messages_total', 'Messages handled by actors.', () => scheduler.stats().messages);
  counter('hubbub_actor_failures_total', 'Actor handlers that threw (each stopped that actor alone).', () => scheduler.stats().failures);
  counter('hubbub_faults_injected_total', 'Handler calls failed on purpose (--fault-rate, tests only).', () => scheduler.stats().faultsInjected);
  counter('hubbub_mailbox_dropped_total', 'Messages refused by a full mailbox.', () => scheduler.stats().dropped);
  counter('hubbub_slice_overruns_total', 'Scheduler slices longer than the overrun threshold.', () => scheduler.stats().overruns);
  counter('hubbub_slice_work_yields_total', 'Scheduler slices ended early by their costly work (big frames decoded, replies built), with time left.', () => scheduler.stats().workYields);
  const slices = new Histogram({
    name: 'hubbub_slice_duration_seconds', help: 'Duration of scheduler slices.', buckets: SLICE_BUCKETS, registers,
  });
  scheduler.observeSlices((ms) => slices.observe(ms / 1000));

  counter('hubbub_messages_in_total', 'Frames received from clients.', () => counters.framesIn);
  counter('hubbub_bytes_in_total', 'Payload bytes received from clients.', () => counters.bytesIn);
  counter('hubbub_messages_out_total', 'Events queued to clients (one per recipient).', () => counters.eventsOut);
  counter('hubbub_bytes_out_total', 'Bytes written to clients (frames included).', () => counters.bytesOut);
  byCode('hubbub_closes_total', 'Connections closed, by close code (1006: no close frame came).', counters.closes);
  byCode('hubbub_close_frames_sent_total', 'Close frames sent by the broker, by code.', counters.closeFramesSent);
  counter('hubbub_rate_limited_total', 'Frames held back by the per-connection rate limit until its tokens came back.', () => limits.rateLimit?.held ?? 0);
  counter('hubbub_rate_limit_pauses_total', 'Times a connection stopped being read because the rate limit ran out of tokens.', () => limits.rateLimit?.pauses ?? 0);
  counter('hubbub_presence_charged_tokens_total', 'Rate-limit tokens charged for the presence fan-out of joins and leaves (--presence-charge-members).', () => limits.rateLimit?.charged.presence ?? 0);
  counter('hubbub_frame_charged_tokens_total', 'Rate-limit tokens charged for the size of client frames beyond their first (--frame-charge-bytes).', () => limits.rateLimit?.charged.frame ?? 0);
  counter('hubbub_reply_charged_tokens_total', 'Rate-limit tokens charged for the bytes of history pages, replays and who lists (--reply-charge-bytes).', () => limits.rateLimit?.charged.reply ?? 0);
  counter('hubbub_slow_consumers_total', 'Connections closed 1013 for not reading their output.', () => counters.slowConsumers);
  const history = src.history;
  if (history != null) {
    gauge('hubbub_history_bytes', 'Bytes charged by the room history kept (payloads plus a fixed overhead each); bounded by --history-budget-bytes.', () => history.bytes);
    gauge('hubbub_history_messages', 'Room messages kept for history and recovery.', () => history.messages);
    new Counter({
      name: 'hubbub_history_evictions_total',
      help: 'History messages dropped before their room\'s count bound: budget (the process total), room_bytes (the room\'s byte bound), idle (the room idle past the retention).',
      labelNames: ['reason'], registers,
      collect() {
        this.reset();
        this.inc({ reason: 'budget' }, history.evictions.budget);
        this.inc({ reason: 'room_bytes' }, history.evictions.roomBytes);
        this.inc({ reason: 'idle' }, history.evictions.idle);
      },
    });
  }
  counter('hubbub_heartbeat_timeouts_total', 'Connections dropped for not answering pings.', () => heartbeat.terminated);
  new Counter({
    name: 'hubbub_upgrades_refused_total', help: 'WebSocket upgrades refused before the handshake, by reason.',
    labelNames: ['reason'], registers,
    collect() {
      this.reset();
      this.inc({ reason: 'token' }, counters.authRefused);
      this.inc({ reason: 'origin' }, counters.originRefused);
    },
  });
  new Counter({
    name: 'hubbub_connections_refused_total', help: 'TCP connections closed by the HTTP edge before any request was served, by reason.',
    labelNames: ['reason'], registers,
    collect() {
      this.reset();
      this.inc({ reason: 'headers_timeout' }, http.headersTimedOut);
      this.inc({ reason: 'ip_cap' }, gate.refused.ipCap);
      this.inc({ reason: 'conn_cap' }, gate.refused.connCap);
    },
  });
  return registry;
}
