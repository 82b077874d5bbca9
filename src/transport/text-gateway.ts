// TextGateway: `/ws/text?room=lobby&name=alice`, plain-text chat for clients
// written for gorilla/websocket's examples/chat (its home.html works with only
// its WebSocket URL changed).
//
// Each socket is an ordinary connection actor in one room. Every text frame
// the client sends becomes a `send` to that room; of everything the room
// produces, only messages reach it, as their bare text, one per frame (gorilla
// joins queued messages with '\n' in one frame; its page splits on '\n', so
// both read the same). Welcome, joined, presence and errors are not shown:
// the gorilla page has nowhere to put them.
//
// Encode once still holds: the supervisor hands the same JSON Buffer to every
// member, and the bare text cut from it is cached per Buffer (WeakMap), so a
// message to 10k text clients is parsed once, not 10k times.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { ConnectionActor, type ConnectionEnv } from '../actors/connection-actor.js';
import type { Scheduler } from '../actors/scheduler.js';
import { CLOSE_UNSUPPORTED_DATA } from '../constants.js';
import type { ChatGatewayOptions } from './chat-gateway.js';
import type { HeartbeatWheel } from './heartbeat.js';
import { refuseUpgrade } from './http-server.js';
import { HubSocket, type SocketOwner } from './hub-socket.js';
import { cleanUserName, isFault, parseClientOp } from './protocol.js';

/** The room a text client is in when its URL names none (gorilla's example has one room). */
export const DEFAULT_TEXT_ROOM = 'lobby';

/** Bare text of each encoded event: a Buffer for messages, null for all else. */
const bareTexts = new WeakMap<Buffer, Buffer | null>();

function bareText(frame: Buffer): Buffer | null {
  let text = bareTexts.get(frame);
  if (text === undefined) {
    const ev = JSON.parse(frame.toString()) as { type: string; text?: string };
    text = ev.type === 'message' && typeof ev.text === 'string' ? Buffer.from(ev.text) : null;
    bareTexts.set(frame, text);
  }
  return text;
}

export class TextSocket extends HubSocket {
  /** `{"op":"send","room":"<room>","text":` — a client frame is this, its JSON string and `}`. */
  sendPrefix = '';

  override deliver(frame: Buffer): void {
    const text = bareText(frame);
    if (text !== null) super.deliver(text);
  }
}

export class TextGateway implements SocketOwner {
  readonly #wss: WebSocketServer;
  readonly #env: ConnectionEnv;
  readonly #log: Logger;
  readonly #mailboxCapacity: number;
  /** Shared with the chat gateway: one wheel pings every socket, and shutdown sees them all. */
  readonly heartbeat: HeartbeatWheel;
  readonly maxOutboxBytes: number;
  #dirty: HubSocket[] = [];
  #nextId = 0;
  accepted = 0;

  constructor(env: ConnectionEnv, log: Logger, options: ChatGatewayOptions, heartbeat: HeartbeatWheel) {
    this.#env = env;
    this.#log = log;
    this.#mailboxCapacity = options.mailboxCapacity;
    this.maxOutboxBytes = options.maxOutboxBytes;
    this.heartbeat = heartbeat;
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: options.maxFrameBytes,
      WebSocket: TextSocket,
    });
    env.scheduler.onSliceEnd(() => this.#flush());
  }

  get scheduler(): Scheduler {
    return this.#env.scheduler;
  }

  /** Completes an upgrade on /ws/text; a bad room name is refused with 400 before the handshake. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    const room = url.searchParams.get('room') ?? DEFAULT_TEXT_ROOM;
    const join = JSON.stringify({ op: 'join', room });
    if (isFault(parseClientOp(join))) {
      refuseUpgrade(socket, 400, 'Bad Request');
      return;
    }
    const name = cleanUserName(url.searchParams.get('name'));
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws as TextSocket, req, name, room, join));
  }

  markDirty(socket: HubSocket): void {
    this.#dirty.push(socket);
  }

  #accept(ws: TextSocket, req: IncomingMessage, name: string | null, room: string, join: string): void {
    const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    const actor = new ConnectionActor(`t${++this.#nextId}`, ws, this.#env, name, remote, this.#mailboxCapacity);
    ws.actor = actor;
    ws.owner = this;
    ws.raw = req.socket;
    ws.sendPrefix = `{"op":"send","room":${JSON.stringify(room)},"text":`;
    ws.on('message', onMessage);
    ws.on('pong', onPong);
    ws.on('close', onClose);
    ws.on('error', onError);
    this.heartbeat.add(ws);
    this.accepted++;
    const scheduler = this.#env.scheduler;
    scheduler.spawn(actor);
    scheduler.send(this.#env.supervisor, { type: 'register', actor }, true);
    // Held by the actor until it is registered, then handled before anything the client sends.
    scheduler.send(actor, join, true);
  }

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
    this.#log.debug({ actor: ws.actor?.id, err: err.message }, 'text socket error');
  }
}

function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  const ws = this as TextSocket;
  ws.alive = true;
  if (isBinary) {
    ws.close(CLOSE_UNSUPPORTED_DATA, 'binary frames are not supported; send text');
    return;
  }
  const actor = ws.actor!;
  const scheduler = (ws.owner as TextGateway).scheduler;
  // A full mailbox drops the frame: a bare-text client has no way to be told (gorilla's hub drops too).
  scheduler.send(actor, `${ws.sendPrefix}${JSON.stringify((data as Buffer).toString())}}`);
  if (actor.mailbox.size * 2 >= actor.mailbox.capacity) actor.readingPaused();
}

function onPong(this: WebSocket): void {
  (this as TextSocket).alive = true;
}

function onClose(this: WebSocket, code: number, reason: Buffer): void {
  const ws = this as TextSocket;
  const owner = ws.owner as TextGateway;
  owner.onSocketClosed(ws);
  owner.scheduler.send(ws.actor!, { type: 'socket-closed', code, reason: reason.toString() }, true);
}

function onError(this: WebSocket, err: Error): void {
  const ws = this as TextSocket;
  (ws.owner as TextGateway).logSocketError(ws, err);
}
