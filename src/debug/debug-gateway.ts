// DebugGateway: the `/debug` endpoint. Checks the token before the WebSocket
// handshake, answers ops (debug-ops.ts), streams what it sees (debug-stream.ts),
// and is the one listener on the runtime's two doors: the scheduler's observer
// (every spawn, every handled message, every stop) and the connections'
// onTransition (every lifecycle step).
//
// What it costs the broker when nobody is watching: per handled message, one
// trace-ring store and one property read (`wants('events')`); per spawn, stop
// and transition, a counter and a map update; once a second, one stats sample.
// Debug clients are not actors: the channel looks at the scheduler and does not
// queue work on it, except a kick, which is a `close` message like any other.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Actor, StopReason } from '../actors/actor.js';
import type { ConnectionActor, ConnectionEnv } from '../actors/connection-actor.js';
import type { ConnectionEvent, ConnectionState } from '../actors/connection-machine.js';
import type { Scheduler } from '../actors/scheduler.js';
import type { Supervisor } from '../actors/supervisor.js';
import { CLOSE_GOING_AWAY, CLOSE_KICKED, CLOSE_UNSUPPORTED_DATA } from '../constants.js';
import { refuseUpgrade } from '../transport/http-server.js';
import type { OriginPolicy } from '../transport/origin-policy.js';
import { ActorIndex } from './actor-index.js';
import { handleDebugOp, type OpContext } from './debug-ops.js';
import { DebugStream, type StreamOptions } from './debug-stream.js';
import {
  DEBUG_HEARTBEAT_TICKS, MAX_DEBUG_BUFFERED_BYTES, MAX_DEBUG_CLIENTS, MAX_DEBUG_FRAME_BYTES, STATS_INTERVAL_MS,
} from './limits.js';
import { StatsSampler } from './stats-sampler.js';
import { TraceRing } from './trace-ring.js';

type AnyActor = Actor<unknown>;

/** The parts of a broker the channel watches. */
export interface DebugTarget {
  scheduler: Scheduler;
  supervisor: Supervisor;
  env: ConnectionEnv;
  startedAt: number;
  /** Open sockets on /ws. */
  connections(): number;
}

export interface DebugOptions extends StreamOptions {
  /** The shared secret; null or '' generates one (see `tokenGenerated`). */
  token?: string | null;
  log: Logger;
  /** Which browser pages may connect (the chat's policy); absent: no Origin check. */
  origins?: OriginPolicy;
  traceSize?: number;
  statsIntervalMs?: number;
  maxClients?: number;
}

/** xstate's inspection events name the root of the actor system; ours is the supervisor. */
const ROOT_ID = 'supervisor';

export class DebugGateway {
  readonly token: string;
  /** True when no token was configured and this one was made at start: the CLI prints it. */
  readonly tokenGenerated: boolean;
  readonly trace: TraceRing;
  readonly index: ActorIndex;
  readonly stream: DebugStream;
  readonly sampler: StatsSampler;
  readonly #tokenDigest: Buffer;
  readonly #target: DebugTarget;
  readonly #log: Logger;
  readonly #wss: WebSocketServer;
  /** Open debug sockets, each with its heartbeat bit: set by a pong, cleared by a ping. */
  readonly #clients = new Map<WebSocket, boolean>();
  #ticks = 0;
  readonly #maxClients: number;
  readonly #maxBuffered: number;
  readonly #timer: NodeJS.Timeout;
  readonly #ops: OpContext;
  readonly #origins: OriginPolicy | null;

  constructor(target: DebugTarget, options: DebugOptions) {
    this.#target = target;
    this.#log = options.log;
    this.#origins = options.origins ?? null;
    this.tokenGenerated = options.token == null || options.token === '';
    this.token = this.tokenGenerated ? randomBytes(18).toString('base64url') : options.token!;
    this.#tokenDigest = digest(this.token);
    this.#maxClients = options.maxClients ?? MAX_DEBUG_CLIENTS;
    this.#maxBuffered = options.maxBufferedBytes ?? MAX_DEBUG_BUFFERED_BYTES;
    this.trace = new TraceRing(options.traceSize);
    this.index = new ActorIndex(target.supervisor, [target.supervisor]);
    this.stream = new DebugStream(options);
    this.sampler = new StatsSampler({
      scheduler: target.scheduler,
      index: this.index,
      trace: this.trace,
      startedAt: target.startedAt,
      connections: target.connections,
      debug: () => ({
        clients: this.#clients.size,
        subscribers: this.stream.subscribers,
        droppedSubscribers: this.stream.droppedSubscribers,
        skippedEvents: this.stream.skippedEvents,
      }),
    });
    this.#ops = {
      index: this.index, trace: this.trace, stream: this.stream, sampler: this.sampler,
      kick: (actor, reason) => {
        this.#log.info({ actor: actor.id, user: actor.user, reason }, 'debug channel: kicked a connection');
        target.scheduler.send(actor, { type: 'close', code: CLOSE_KICKED, reason }, true);
      },
    };
    this.#wss = new WebSocketServer({ noServer: true, clientTracking: false, maxPayload: MAX_DEBUG_FRAME_BYTES });
    this.#watch();
    this.#timer = setInterval(() => this.#tick(), options.statsIntervalMs ?? STATS_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Debug sockets open now. */
  get clients(): number {
    return this.#clients.size;
  }

  /**
   * Completes or refuses an upgrade on /debug; refusals are HTTP statuses,
   * before any handshake. Origin first: a page elsewhere that learnt the token
   * (a log, a shared link) must not drive the channel from a victim's browser.
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    if (this.#origins !== null && !this.#origins.allows(req)) {
      refuseUpgrade(socket, 403, 'Forbidden');
      return;
    }
    if (!this.authorized(req, url)) {
      this.#log.warn({ remote: req.socket.remoteAddress }, 'debug channel: refused a connection without the right token');
      refuseUpgrade(socket, 401, 'Unauthorized');
      return;
    }
    if (this.#clients.size >= this.#maxClients) {
      refuseUpgrade(socket, 503, 'Service Unavailable');
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, req));
  }

  /** The token from `?token=` or `Authorization: Bearer`, compared in constant time. */
  authorized(req: IncomingMessage, url: URL): boolean {
    const header = req.headers.authorization;
    const given = url.searchParams.get('token') ?? (header?.startsWith('Bearer ') ? header.slice(7) : null);
    return given !== null && timingSafeEqual(digest(given), this.#tokenDigest);
  }

  /** Stops watching and closes every debug socket (1001). Idempotent. */
  close(): void {
    clearInterval(this.#timer);
    this.#target.scheduler.observe(null);
    this.#target.env.onTransition = null;
    this.stream.close();
    for (const ws of this.#clients.keys()) {
      ws.close(CLOSE_GOING_AWAY, 'server shutting down');
      setTimeout(() => ws.terminate(), 1000).unref();
    }
  }

  #accept(ws: WebSocket, req: IncomingMessage): void {
    this.#clients.set(ws, true);
    ws.on('pong', () => this.#clients.set(ws, true));
    this.#log.info({ remote: req.socket.remoteAddress, clients: this.#clients.size }, 'debug channel: client connected');
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) {
        ws.close(CLOSE_UNSUPPORTED_DATA, 'send JSON text');
        return;
      }
      const reply = handleDebugOp(this.#ops, ws, (data as Buffer).toString());
      if (ws.readyState !== ws.OPEN) return;
      // A client that asks and never reads is a slow subscriber too.
      if (ws.bufferedAmount > this.#maxBuffered) this.stream.drop(ws);
      else ws.send(JSON.stringify(reply));
    });
    ws.on('close', () => {
      this.#clients.delete(ws);
      this.stream.remove(ws);
    });
    ws.on('error', (err) => this.#log.debug({ err: err.message }, 'debug socket error'));
  }

  /** Plugs into the scheduler's observer door and the connections' transition hook. */
  #watch(): void {
    const { scheduler, env } = this.#target;
    const { index, trace, stream } = this;
    // Built only when a subscriber will receive it: the record just written, described.
    const handledEvent = (actor: AnyActor): object => {
      const event = trace.last()!;
      const source = typeof event.actor === 'string' ? { id: event.actor } : null;
      return { type: '@xstate.event', topic: 'events', at: event.at, rootId: ROOT_ID, actorRef: actorRef(actor), sourceRef: source, event };
    };
    scheduler.observe({
      spawned: (actor) => {
        index.spawned(actor);
        if (stream.wants('lifecycle')) stream.publish('lifecycle', spawnedEvent, actor);
      },
      handled: (actor, msg) => {
        trace.record(actor, msg);
        if (stream.wants('events')) stream.publish('events', handledEvent, actor);
      },
      stopped: (actor, reason) => {
        index.stopped(actor);
        if (stream.wants('lifecycle')) stream.publish('lifecycle', stoppedEvent, { actor, reason });
      },
    });
    env.onTransition = (actor, from, event) => {
      index.transitioned(actor, from);
      if (stream.wants('transitions')) stream.publish('transitions', transitionEvent, { actor, from, event });
    };
    scheduler.onSliceEnd(() => this.sampler.sliceEnded());
  }

  #tick(): void {
    // A debug client that vanished without closing must not hold one of the few slots forever.
    if (++this.#ticks % DEBUG_HEARTBEAT_TICKS === 0) {
      for (const [ws, alive] of this.#clients) {
        if (!alive) {
          ws.terminate();
          continue;
        }
        this.#clients.set(ws, false);
        ws.ping();
      }
    }
    const now = Date.now();
    const stats = this.sampler.sample(now);
    if (this.stream.wants('stats')) this.stream.publish('stats', (s) => ({ ...s, topic: 'stats' }), stats);
    this.stream.tick(now);
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function actorRef(actor: AnyActor): Record<string, unknown> {
  const ref: Record<string, unknown> = { id: actor.id, kind: actor.kind };
  const user = (actor as Partial<ConnectionActor>).user;
  if (user) ref.user = user;
  return ref;
}

function snapshotOf(actor: AnyActor): Record<string, unknown> {
  const snapshot = (actor as Partial<ConnectionActor>).snapshot;
  return snapshot === undefined
    ? { status: actor.dead ? 'stopped' : 'active', value: actor.status, context: {} }
    : { status: snapshot.status, value: snapshot.value, context: snapshot.context };
}

/** xstate: an actor was created. */
function spawnedEvent(actor: AnyActor): object {
  const remote = (actor as Partial<ConnectionActor>).remote;
  return { type: '@xstate.actor', topic: 'lifecycle', at: Date.now(), rootId: ROOT_ID, actorRef: actorRef(actor), ...(remote ? { remote } : {}) };
}

/** xstate reports a stop as a snapshot after `xstate.stop`; so do we. */
function stoppedEvent({ actor, reason }: { actor: AnyActor; reason: StopReason }): object {
  const event: Record<string, unknown> = { type: 'xstate.stop', reason: reason.kind };
  if (reason.kind === 'failed') event.error = reason.error instanceof Error ? reason.error.message : String(reason.error);
  return {
    type: '@xstate.snapshot', topic: 'lifecycle', at: Date.now(), rootId: ROOT_ID,
    actorRef: actorRef(actor), event, snapshot: { ...snapshotOf(actor), status: 'stopped' },
  };
}

/** xstate: a snapshot after an event; `from` is the state it left. */
function transitionEvent({ actor, from, event }: { actor: ConnectionActor; from: ConnectionState; event: ConnectionEvent }): object {
  return {
    type: '@xstate.snapshot', topic: 'transitions', at: Date.now(), rootId: ROOT_ID,
    actorRef: actorRef(actor), event, from, snapshot: snapshotOf(actor),
  };
}

