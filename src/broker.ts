// Broker: one process's Hubbub, assembled. The scheduler (P), the supervisor,
// the HTTP edge with the chat gateway, metrics, and graceful shutdown.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ConnectionEnv } from './actors/connection-actor.js';
import { RateLimit } from './actors/rate-limit.js';
import type { RoomRules } from './actors/room-access.js';
import { Scheduler } from './actors/scheduler.js';
import { Supervisor } from './actors/supervisor.js';
import {
  BIG_ROOM_PRESENCE_INTERVAL_MS, BIG_ROOM_THRESHOLD, CLOSE_GOING_AWAY, CLOSE_HANDSHAKE_TIMEOUT_MS, DEFAULT_HOST,
  DEFAULT_PORT, HEADERS_TIMEOUT_MS, HEARTBEAT_BUCKETS, HEARTBEAT_INTERVAL_MS, HISTORY_BUDGET_BYTES, HISTORY_RETENTION_MS, HISTORY_ROOM_BYTES, HISTORY_SIZE, MAILBOX_CAPACITY,
  MAX_CONNS_PER_IP, MAX_FRAME_BYTES, MAX_HELD_NAMES, PRESENCE_GRACE_MS, MAX_ROOMS_PER_CONN, MAX_OUTBOX_BYTES, PRESENCE_CHARGE_MEMBERS, REPLY_CHARGE_BYTES, FRAME_CHARGE_BYTES, MAX_OUTBOX_FRAMES, RATE_LIMIT_BURST, RATE_LIMIT_PER_S,
  SHUTDOWN_TIMEOUT_MS, SLICE_BUDGET_MS, SLICE_WORK_BYTES,
} from './constants.js';
import { DebugGateway } from './debug/debug-gateway.js';
import { createLogger } from './log.js';
import type { Backplane } from './backplane/backplane.js';
import { MemoryBackplane } from './backplane/memory-backplane.js';
import { serveClientModules } from './transport/client-assets.js';
import { ChatGateway } from './transport/chat-gateway.js';
import { EdgeGate } from './transport/edge-gate.js';
import { defaultMaxConns } from './transport/fd-limit.js';
import { HttpServer, reply } from './transport/http-server.js';
import { IpCount, type IpSlots } from './transport/ip-limit.js';
import { OriginPolicy } from './transport/origin-policy.js';
import { createMetrics } from './transport/metrics.js';
import { ServerApi } from './transport/server-api.js';
import { TextGateway } from './transport/text-gateway.js';

export interface BrokerConfig {
  port: number;
  host: string;
  maxFrameBytes: number;
  maxOutboxBytes: number;
  /** Frames a stalled peer may hold in the broker before it is closed 1013. */
  maxOutboxFrames: number;
  /** A peer that does not answer our close frame within this many ms is dropped. */
  closeTimeoutMs: number;
  mailboxCapacity: number;
  heartbeatIntervalMs: number;
  heartbeatBuckets: number;
  sliceBudgetMs: number;
  /** Costly work (Scheduler.addWork) after which a slice yields, bytes. */
  sliceWorkBytes: number;
  bigRoomThreshold: number;
  presenceIntervalMs: number;
  /** A join or leave costs one rate-limit token more per this many members of the room; 0: off. */
  presenceChargeMembers: number;
  /** A dropped user's presence and name are held this long before its leave is told, ms; 0: off (presence-grace.ts). */
  presenceGraceMs: number;
  /** A history page, replay or who list costs one rate-limit token more per this many bytes; 0: off. */
  replyChargeBytes: number;
  /** A client frame costs one rate-limit token more per this many characters; 0: one token a frame. */
  frameChargeBytes: number;
  shutdownTimeoutMs: number;
  /** HS256 secret for client tokens; null: no authentication (names are anonymous). */
  jwtSecret: string | null;
  /** Origins browsers may connect from besides the broker's own address and publicUrl. "*": any. */
  allowedOrigins: string[] | null;
  /** The URL browsers reach the broker at through a proxy or TLS terminator (its origin is allowed); null: none. */
  publicUrl: string | null;
  /** The key of the server API under /api/ (docs/api.md); null: the API is off. */
  apiKey: string | null;
  /** Who may read and write which rooms when a token has no rooms claim (room-access.ts); null: every room rw. */
  roomPolicy: RoomRules | null;
  /** Frames per second per connection (0: no limit), and the burst allowed. */
  rateLimit: number;
  rateBurst: number;
  /** Rooms one connection may be in at once. */
  maxRoomsPerConn: number;
  /** Open connections per remote IP; 0: no cap. */
  maxConnsPerIp: number;
  /** Open TCP connections of the process (0: no cap); past it HTTP 503. Default: the open-file limit less a reserve. */
  maxConns: number;
  /** Where the per-IP count is kept; null: in this process. Under --workers, the primary (PrimaryIpCount). */
  ipSlots: IpSlots | null;
  /** A request head (an upgrade's too) must be whole this long after accept, or the socket gets 408 and is closed; ms. */
  headersTimeoutMs: number;
  /** TESTS ONLY: probability that a connection actor's handler call throws (fault injection). */
  faultRate: number;
  /** TESTS ONLY: the fault injection's random numbers (a seeded generator replays a run); Math.random if unset. */
  faultRandom?: () => number;
  /** Default Node process metrics (memory, CPU, event loop lag) in /metrics too. */
  processMetrics: boolean;
  /** Messages kept per room for history and recovery. */
  historySize: number;
  /** How long a room's history outlives its last member (memory backplane), ms. */
  historyRetentionMs: number;
  /** Bytes of history kept per room. */
  historyRoomBytes: number;
  /** Bytes of history kept over every room of the process. */
  historyBudgetBytes: number;
  /** The backplane; null: the in-memory one built from the history options. */
  backplane: Backplane | null;
  logger: Logger;
  /** The /debug channel and /inspect page; false turns both off. */
  debug: boolean;
  /** Secret of the debug channel; null generates one at start (Broker.debug.token). */
  debugToken: string | null;
}

export function defaultConfig(): BrokerConfig {
  return {
    port: DEFAULT_PORT,
    host: DEFAULT_HOST,
    maxFrameBytes: MAX_FRAME_BYTES,
    maxOutboxBytes: MAX_OUTBOX_BYTES,
    maxOutboxFrames: MAX_OUTBOX_FRAMES,
    closeTimeoutMs: CLOSE_HANDSHAKE_TIMEOUT_MS,
    mailboxCapacity: MAILBOX_CAPACITY,
    heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
    heartbeatBuckets: HEARTBEAT_BUCKETS,
    sliceBudgetMs: SLICE_BUDGET_MS,
    sliceWorkBytes: SLICE_WORK_BYTES,
    bigRoomThreshold: BIG_ROOM_THRESHOLD,
    presenceIntervalMs: BIG_ROOM_PRESENCE_INTERVAL_MS,
    presenceChargeMembers: PRESENCE_CHARGE_MEMBERS,
    presenceGraceMs: PRESENCE_GRACE_MS,
    replyChargeBytes: REPLY_CHARGE_BYTES,
    frameChargeBytes: FRAME_CHARGE_BYTES,
    shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
    jwtSecret: null,
    allowedOrigins: null,
    publicUrl: null,
    roomPolicy: null,
    apiKey: process.env.HUBBUB_API_KEY || null,
    rateLimit: RATE_LIMIT_PER_S,
    rateBurst: RATE_LIMIT_BURST,
    maxConnsPerIp: MAX_CONNS_PER_IP,
    ipSlots: null,
    maxConns: defaultMaxConns(),
    maxRoomsPerConn: MAX_ROOMS_PER_CONN,
    headersTimeoutMs: HEADERS_TIMEOUT_MS,
    faultRate: 0,
    processMetrics: true,
    historySize: HISTORY_SIZE,
    historyRetentionMs: HISTORY_RETENTION_MS,
    historyRoomBytes: HISTORY_ROOM_BYTES,
    historyBudgetBytes: HISTORY_BUDGET_BYTES,
    backplane: null,
    logger: createLogger(),
    debug: true,
    debugToken: process.env.HUBBUB_DEBUG_TOKEN || null,
  };
}

export class Broker {
  readonly config: BrokerConfig;
  readonly scheduler: Scheduler;
  readonly supervisor: Supervisor;
  readonly backplane: Backplane;
  readonly http: HttpServer;
  /** The caps a TCP connection must pass at accept. */
  readonly gate: EdgeGate;
  readonly chat: ChatGateway;
  /** `/ws/text`: plain-text chat for gorilla-style clients. */
  readonly text: TextGateway;
  readonly log: Logger;
  /** Which browser pages may connect to /ws, /ws/text and /debug. */
  readonly origins: OriginPolicy;
  /** Shared by every connection actor; `onTransition` is where the debug channel listens. */
  readonly env: ConnectionEnv;
  /** Prometheus registry behind GET /metrics. */
  readonly metrics: Registry;
  /** The server API under /api/ (docs/api.md). */
  readonly api: ServerApi;
  /** The debug channel (docs/debug.md); null with `debug: false`. */
  readonly debug: DebugGateway | null;
  readonly startedAt = Date.now();
  #closing: Promise<void> | null = null;
  #shutdownCut = 0;

  private constructor(config: BrokerConfig) {
    this.config = config;
    this.log = config.logger;
    this.scheduler = new Scheduler({ sliceBudgetMs: config.sliceBudgetMs, sliceWorkBytes: config.sliceWorkBytes, faultRate: config.faultRate, random: config.faultRandom });
    this.backplane = config.backplane ?? new MemoryBackplane({
      historySize: config.historySize,
      historyRetentionMs: config.historyRetentionMs,
      historyRoomBytes: config.historyRoomBytes,
      historyBudgetBytes: config.historyBudgetBytes,
    });
    this.supervisor = new Supervisor(this.scheduler, this.log, this.backplane, {
      bigRoomThreshold: config.bigRoomThreshold,
      presenceIntervalMs: config.presenceIntervalMs,
      presenceChargeMembers: config.presenceChargeMembers,
      presenceGraceMs: config.presenceGraceMs,
      // Each held name stands for a connection that may come back: no more of them than connections.
      maxHeldNames: config.maxConns > 0 ? config.maxConns : MAX_HELD_NAMES,
      replyChargeBytes: config.replyChargeBytes,
      roomPolicy: config.roomPolicy ?? undefined,
      maxRoomsPerConn: config.maxRoomsPerConn,
      exactUserIds: config.jwtSecret !== null,
      maxReplayBytes: Math.floor(config.maxOutboxBytes / 2),
      maxReplayFrames: Math.floor(config.maxOutboxFrames / 2),
    });
    this.scheduler.spawn(this.supervisor);
    const rateLimit = config.rateLimit > 0 ? new RateLimit(config.rateLimit, config.rateBurst, undefined, config.frameChargeBytes) : null;
    const env: ConnectionEnv = { scheduler: this.scheduler, supervisor: this.supervisor, onTransition: null, rateLimit };
    this.gate = new EdgeGate(config.ipSlots ?? (config.maxConnsPerIp > 0 ? new IpCount(config.maxConnsPerIp) : null), config.maxConns);
    this.http = new HttpServer(this.log, undefined, { headersTimeoutMs: config.headersTimeoutMs, gate: this.gate });
    this.env = env;
    this.origins = new OriginPolicy(config, this.log);
    this.chat = new ChatGateway(env, this.log, config, this.origins);
    this.http.onUpgrade('/ws', (req, socket, head, url) => {
      if (this.#closing !== null) socket.destroy();
      else this.chat.upgrade(req, socket, head, url);
    });
    this.debug = config.debug
      ? new DebugGateway(
        { scheduler: this.scheduler, supervisor: this.supervisor, env, startedAt: this.startedAt, connections: () => this.chat.heartbeat.size },
        { token: config.debugToken, log: this.log, origins: this.origins },
      )
      : null;
    if (this.debug !== null) {
      const debug = this.debug;
      this.http.onUpgrade('/debug', (req, socket, head, url) => {
        if (this.#closing !== null) socket.destroy();
        else debug.upgrade(req, socket, head, url);
      });
    } else {
      for (const path of ['/inspect', '/inspect.html']) this.http.onGet(path, (_req, res) => reply(res, 404, 'debug channel disabled (--no-debug)\n'));
    }
    this.text = new TextGateway(this.chat, config);
    this.http.onUpgrade('/ws/text', (req, socket, head, url) => {
      if (this.#closing !== null) socket.destroy();
      else this.text.upgrade(req, socket, head, url);
    });
    serveClientModules(this.http);
    this.api = new ServerApi(this.scheduler, this.supervisor, this.log, { apiKey: config.apiKey, maxBodyBytes: config.maxFrameBytes });
    this.http.onPrefix('/api/', (req, res, url) => {
      if (this.#closing !== null) reply(res, 503, '{"error":"unavailable","message":"shutting down"}', 'application/json');
      else this.api.handle(req, res, url);
    });
    this.http.onGet('/healthz', (_req, res) => {
      reply(res, this.#closing === null ? 200 : 503, JSON.stringify({
        status: this.#closing === null ? 'ok' : 'shutting down',
        connections: this.chat.heartbeat.size,
        uptimeMs: Date.now() - this.startedAt,
        // up: false while Redis is away; local rooms are served meanwhile (docs/scaling.md).
        backplane: { kind: this.backplane.kind, up: this.supervisor.backplaneUp },
      }), 'application/json');
    });
    this.metrics = createMetrics({
      scheduler: this.scheduler, heartbeat: this.chat.heartbeat, counters: this.chat.counters,
      limits: env, gate: this.gate, supervisor: this.supervisor, http: this.http,
      history: this.backplane.historyStats?.() ?? null,
    }, { defaultMetrics: config.processMetrics });
    this.http.onGet('/metrics', (_req, res) => {
      this.metrics.metrics().then(
        (text) => reply(res, 200, text, this.metrics.contentType),
        (err: unknown) => {
          this.log.error({ err }, 'metrics failed');
          reply(res, 500, 'metrics failed\n');
        },
      );
    });
  }

  /** Starts a broker; `port: 0` picks a free port (see `port`). */
  static async start(overrides: Partial<BrokerConfig> = {}): Promise<Broker> {
    const broker = new Broker({ ...defaultConfig(), ...overrides });
    await broker.backplane.start(broker.supervisor.sink());
    await broker.http.listen(broker.config.port, broker.config.host);
    const c = broker.config;
    broker.origins.bind(c.host, broker.port);
    const policies = {
      auth: c.jwtSecret === null ? 'anonymous' : 'jwt',
      allowedOrigins: broker.origins.origins,
      rateLimit: c.rateLimit > 0 ? { perSecond: c.rateLimit, burst: c.rateBurst } : 'off',
      maxConnsPerIp: c.maxConnsPerIp > 0 ? c.maxConnsPerIp : 'off',
      maxConns: c.maxConns > 0 ? c.maxConns : 'off',
      serverApi: c.apiKey === null ? 'off' : 'on',
      roomPolicy: c.roomPolicy === null ? 'open' : 'rules',
      ...(c.faultRate > 0 ? { faultRate: c.faultRate } : {}),
    };
    // One line: the policies, and a warning when names are anonymous or faults are injected.
    if (c.jwtSecret === null || c.faultRate > 0) {
      broker.log.warn(policies, [
        c.jwtSecret === null ? 'no JWT secret (--jwt-secret or HUBBUB_JWT_SECRET): names are anonymous, anyone may take any free name' : '',
        c.faultRate > 0 ? 'FAULT INJECTION is on: handlers fail on purpose (tests only)' : '',
      ].filter((m) => m !== '').join('; '));
    } else {
      broker.log.info(policies, 'policies');
    }
    return broker;
  }

  get port(): number {
    return this.http.port;
  }

  /** http://host:port/ as a client on this machine would use it. */
  get url(): string {
    const host = this.config.host === '0.0.0.0' || this.config.host === '::' ? 'localhost' : this.config.host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.port}/`;
  }

  /**
   * Graceful shutdown: stop accepting; stop reading from clients, and let what
   * was already read run to the end (every op taken is handled, and its events
   * queued to every member); then close every client with 1001 after its
   * output is flushed, wait for them (at most shutdownTimeoutMs in all), then
   * terminate whoever is left. So every message acked before the 1001 reached
   * every member still connected. Idempotent.
   */
  /** Clients still connected at the shutdown deadline and cut (terminated), not closed: 0 when all closed in time. */
  get shutdownCut(): number {
    return this.#shutdownCut;
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const deadline = Date.now() + this.config.shutdownTimeoutMs;
    this.chat.stopAccepting();
    const serverClosed = new Promise<void>((resolve) => this.http.server.close(() => resolve()));
    this.http.server.closeIdleConnections();
    for (const ws of this.chat.heartbeat.sockets()) ws.holdInput();
    // Without this drain a member could be closed before the supervisor ran an op
    // it had already taken: the sender got its ack, that member not the message.
    // (Input is held, so this ends at once in practice; half the time at most, the rest is for the close handshakes.)
    const drained = Date.now() + this.config.shutdownTimeoutMs / 2;
    while (!this.scheduler.quiescent && Date.now() < drained) await new Promise((r) => setImmediate(r));
    this.supervisor.quiesce();
    for (const ws of this.chat.heartbeat.sockets()) {
      if (ws.actor !== null) this.scheduler.send(ws.actor, { type: 'close', code: CLOSE_GOING_AWAY, reason: 'server shutting down' }, true);
    }
    while (this.chat.heartbeat.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const ws of this.chat.heartbeat.sockets()) {
      ws.terminate();
      this.#shutdownCut++;
    }
    this.debug?.close();
    this.chat.stop();
    this.supervisor.dispose();
    await this.backplane.close();
    this.http.server.closeAllConnections();
    await serverClosed;
  }
}
