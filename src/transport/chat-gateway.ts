// ChatGateway: the `/ws` endpoint. Turns upgraded sockets into connection
// actors and socket events into mailbox messages; flushes output per slice.
//
// It decides no policy: a frame becomes a message for the socket's actor, a
// close becomes `socket-closed`, and everything else is the actors' business.
// The listeners are module functions shared by every socket (`this` is the
// socket), not closures made per connection.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { ConnectionActor, type ConnectionEnv } from '../actors/connection-actor.js';
import type { Scheduler } from '../actors/scheduler.js';
import { CLOSE_UNSUPPORTED_DATA } from '../constants.js';
import { HeartbeatWheel } from './heartbeat.js';
import { HubSocket, type SocketOwner } from './hub-socket.js';
import { cleanUserName, encodeError } from './protocol.js';

export interface ChatGatewayOptions {
  maxFrameBytes: number;
  maxOutboxBytes: number;
  heartbeatIntervalMs: number;
  heartbeatBuckets: number;
  mailboxCapacity: number;
}

export class ChatGateway implements SocketOwner {
  readonly #wss: WebSocketServer;
  readonly heartbeat: HeartbeatWheel;
  readonly #env: ConnectionEnv;
  readonly #log: Logger;
  readonly #mailboxCapacity: number;
  readonly maxOutboxBytes: number;
  #dirty: HubSocket[] = [];
  #nextId = 0;
  /** Connections accepted over the gateway's life. */
  accepted = 0;

  constructor(env: ConnectionEnv, log: Logger, options: ChatGatewayOptions) {
    this.#env = env;
    this.#log = log;
    this.#mailboxCapacity = options.mailboxCapacity;
    this.maxOutboxBytes = options.maxOutboxBytes;
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false, // the heartbeat wheel already holds every socket
      perMessageDeflate: false, // compression would defeat encode-once fan-out
      maxPayload: options.maxFrameBytes, // over it ws closes with 1009
      WebSocket: HubSocket,
    });
    this.heartbeat = new HeartbeatWheel(options.heartbeatIntervalMs, options.heartbeatBuckets);
    env.scheduler.onSliceEnd(() => this.#flush());
  }

  get scheduler(): Scheduler {
    return this.#env.scheduler;
  }

  /** Completes a WebSocket upgrade on /ws. Called by the HTTP server's upgrade router. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    const name = cleanUserName(url.searchParams.get('name'));
    const batch = url.searchParams.get('batch') === '1';
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws as HubSocket, req, name, batch));
  }

  markDirty(socket: HubSocket): void {
    this.#dirty.push(socket);
  }

  #accept(ws: HubSocket, req: IncomingMessage, name: string | null, batch: boolean): void {
    const actor = new ConnectionActor(`c${++this.#nextId}`, ws, this.#env, name, this.#mailboxCapacity);
    ws.actor = actor;
    ws.owner = this;
    ws.raw = req.socket;
    ws.batch = batch;
    ws.on('message', onMessage);
    ws.on('pong', onPong);
    ws.on('close', onClose);
    ws.on('error', onError);
    this.heartbeat.add(ws);
    this.accepted++;
    this.#env.scheduler.spawn(actor);
    this.#env.scheduler.send(this.#env.supervisor, { type: 'register', actor }, true);
  }

  /** Slice-end hook: every socket that got output this slice writes it, once. */
  #flush(): void {
    const dirty = this.#dirty;
    if (dirty.length === 0) return;
    this.#dirty = [];
    for (let i = 0; i < dirty.length; i++) dirty[i].flushOutbox();
  }

  onSocketClosed(ws: HubSocket): void {
    this.heartbeat.remove(ws);
  }

  logSocketError(ws: HubSocket, err: Error): void {
    // ws has already chosen the close code (1009 too big, 1007 bad UTF-8, 1002 protocol).
    this.#log.debug({ actor: ws.actor?.id, err: err.message }, 'socket error');
  }

  stop(): void {
    this.heartbeat.stop();
  }
}

// ws types listeners' `this` as its own WebSocket; ours are HubSockets (the server's WebSocket option).
function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  const ws = this as HubSocket;
  ws.alive = true;
  if (isBinary) {
    ws.close(CLOSE_UNSUPPORTED_DATA, 'binary frames are not supported; send JSON text');
    return;
  }
  const actor = ws.actor!;
  const scheduler = (ws.owner as ChatGateway).scheduler;
  if (!scheduler.send(actor, (data as Buffer).toString())) {
    ws.deliver(encodeError('overloaded', 'too many frames waiting; this one was dropped'));
  }
  // Backpressure on input: stop reading at half the mailbox; the actor resumes once drained.
  if (actor.mailbox.size * 2 >= actor.mailbox.capacity) actor.readingPaused();
}

function onPong(this: WebSocket): void {
  (this as HubSocket).alive = true;
}

function onClose(this: WebSocket, code: number, reason: Buffer): void {
  const ws = this as HubSocket;
  const owner = ws.owner as ChatGateway;
  owner.onSocketClosed(ws);
  owner.scheduler.send(ws.actor!, { type: 'socket-closed', code, reason: reason.toString() }, true);
}

function onError(this: WebSocket, err: Error): void {
  const ws = this as HubSocket;
  (ws.owner as ChatGateway).logSocketError(ws, err);
}
