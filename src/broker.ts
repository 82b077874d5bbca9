// Broker: one process's Hubbub, assembled. The scheduler (P), the supervisor,
// the HTTP edge with the chat gateway, and graceful shutdown.
import type { Logger } from 'pino';
import type { ConnectionEnv } from './actors/connection-actor.js';
import { Scheduler } from './actors/scheduler.js';
import { Supervisor } from './actors/supervisor.js';
import {
  BIG_ROOM_PRESENCE_INTERVAL_MS, BIG_ROOM_THRESHOLD, CLOSE_GOING_AWAY, DEFAULT_HOST, DEFAULT_PORT,
  HEARTBEAT_BUCKETS, HEARTBEAT_INTERVAL_MS, HISTORY_RETENTION_MS, HISTORY_SIZE, MAILBOX_CAPACITY, MAX_FRAME_BYTES, MAX_OUTBOX_BYTES,
  SHUTDOWN_TIMEOUT_MS, SLICE_BUDGET_MS,
} from './constants.js';
import { createLogger } from './log.js';
import type { Backplane } from './transport/backplane/backplane.js';
import { MemoryBackplane } from './transport/backplane/memory-backplane.js';
import { ChatGateway } from './transport/chat-gateway.js';
import { HttpServer, reply } from './transport/http-server.js';

export interface BrokerConfig {
  port: number;
  host: string;
  maxFrameBytes: number;
  maxOutboxBytes: number;
  mailboxCapacity: number;
  heartbeatIntervalMs: number;
  heartbeatBuckets: number;
  sliceBudgetMs: number;
  bigRoomThreshold: number;
  presenceIntervalMs: number;
  shutdownTimeoutMs: number;
  /** Messages kept per room for history and recovery. */
  historySize: number;
  /** How long a room's history outlives its last member (memory backplane), ms. */
  historyRetentionMs: number;
  /** The backplane; null: the in-memory one built from the history options. */
  backplane: Backplane | null;
  logger: Logger;
}

export function defaultConfig(): BrokerConfig {
  return {
    port: DEFAULT_PORT,
    host: DEFAULT_HOST,
    maxFrameBytes: MAX_FRAME_BYTES,
    maxOutboxBytes: MAX_OUTBOX_BYTES,
    mailboxCapacity: MAILBOX_CAPACITY,
    heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
    heartbeatBuckets: HEARTBEAT_BUCKETS,
    sliceBudgetMs: SLICE_BUDGET_MS,
    bigRoomThreshold: BIG_ROOM_THRESHOLD,
    presenceIntervalMs: BIG_ROOM_PRESENCE_INTERVAL_MS,
    shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
    historySize: HISTORY_SIZE,
    historyRetentionMs: HISTORY_RETENTION_MS,
    backplane: null,
    logger: createLogger(),
  };
}

export class Broker {
  readonly config: BrokerConfig;
  readonly scheduler: Scheduler;
  readonly supervisor: Supervisor;
  readonly backplane: Backplane;
  readonly http: HttpServer;
  readonly chat: ChatGateway;
  readonly log: Logger;
  /** Shared by every connection actor; `onTransition` is where the debug channel listens. */
  readonly env: ConnectionEnv;
  readonly startedAt = Date.now();
  #closing: Promise<void> | null = null;

  private constructor(config: BrokerConfig) {
    this.config = config;
    this.log = config.logger;
    this.scheduler = new Scheduler({ sliceBudgetMs: config.sliceBudgetMs });
    this.backplane = config.backplane ?? new MemoryBackplane({
      historySize: config.historySize,
      historyRetentionMs: config.historyRetentionMs,
    });
    this.supervisor = new Supervisor(this.scheduler, this.log, this.backplane, {
      bigRoomThreshold: config.bigRoomThreshold,
      presenceIntervalMs: config.presenceIntervalMs,
    });
    this.scheduler.spawn(this.supervisor);
    const env: ConnectionEnv = { scheduler: this.scheduler, supervisor: this.supervisor, onTransition: null };
    this.http = new HttpServer(this.log);
    this.env = env;
    this.chat = new ChatGateway(env, this.log, config);
    this.http.onUpgrade('/ws', (req, socket, head, url) => {
      if (this.#closing !== null) socket.destroy();
      else this.chat.upgrade(req, socket, head, url);
    });
    this.http.onGet('/healthz', (_req, res) => {
      reply(res, this.#closing === null ? 200 : 503, JSON.stringify({
        status: this.#closing === null ? 'ok' : 'shutting down',
        connections: this.chat.heartbeat.size,
        uptimeMs: Date.now() - this.startedAt,
      }), 'application/json');
    });
  }

  /** Starts a broker; `port: 0` picks a free port (see `port`). */
  static async start(overrides: Partial<BrokerConfig> = {}): Promise<Broker> {
    const broker = new Broker({ ...defaultConfig(), ...overrides });
    await broker.backplane.start(broker.supervisor.sink());
    await broker.http.listen(broker.config.port, broker.config.host);
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
   * Graceful shutdown: stop accepting, close every client with 1001 after its
   * output is flushed, wait for them (at most shutdownTimeoutMs), then
   * terminate whoever is left. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const serverClosed = new Promise<void>((resolve) => this.http.server.close(() => resolve()));
    this.http.server.closeIdleConnections();
    for (const ws of this.chat.heartbeat.sockets()) {
      if (ws.actor !== null) this.scheduler.send(ws.actor, { type: 'close', code: CLOSE_GOING_AWAY, reason: 'server shutting down' }, true);
    }
    const deadline = Date.now() + this.config.shutdownTimeoutMs;
    while (this.chat.heartbeat.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const ws of this.chat.heartbeat.sockets()) ws.terminate();
    this.chat.stop();
    this.supervisor.dispose();
    await this.backplane.close();
    this.http.server.closeAllConnections();
    await serverClosed;
  }
}
