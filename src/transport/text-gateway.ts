// TextGateway: `/ws/text?room=lobby&name=alice`, plain-text chat for clients
// written for gorilla/websocket's examples/chat (its home.html works with only
// its WebSocket URL changed).
//
// Each socket is an ordinary connection actor in one room, adopted by the chat
// gateway (same listeners, flush and heartbeat). Every text frame the client
// sends becomes a `send` to that room; of everything the room produces, only
// messages reach it, as their bare text, one per frame (gorilla joins queued
// messages with '\n' in one frame; its page splits on '\n', so both read the
// same). Welcome, joined, presence and errors are not shown: the gorilla page
// has nowhere to put them.
//
// It speaks the protocol through src/protocol (textJoinOp, textSendOp,
// messageText): a frame becomes a send op without being wrapped in JSON, and
// of the room's output only `message` events are parsed, for their text.
// Encode once still holds: the supervisor hands the same OutFrame to every
// member, and the bare-text frame cut from it is cached per OutFrame, so a
// message to 10k text clients is parsed once, not 10k times.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { AskedIdentity, ChatGateway, ChatGatewayOptions } from './chat-gateway.js';
import { refuseUpgrade } from './http-server.js';
import { HubSocket } from './hub-socket.js';
import { OutFrame } from '../protocol/out-frame.js';
import { isFault, messageText, textJoinOp, textSendOp, type ClientOp, type ProtocolFault } from '../protocol/protocol.js';

/** The room a text client is in when its URL names none (gorilla's example has one room). */
export const DEFAULT_TEXT_ROOM = 'lobby';

/** The bare-text frame of each event: one for messages, null for all else. */
const bareFrames = new WeakMap<OutFrame, OutFrame | null>();

function bareFrame(frame: OutFrame): OutFrame | null {
  let bare = bareFrames.get(frame);
  if (bare === undefined) {
    const text = messageText(frame.payload);
    bare = text === null ? null : new OutFrame(Buffer.from(text));
    bareFrames.set(frame, bare);
  }
  return bare;
}

/**
 * The mailbox entry that stands for the socket's join: the gateway queues it
 * before the socket can deliver a frame, so it is always the first one read.
 */
const JOIN_PLACE = Buffer.alloc(0);

export class TextSocket extends HubSocket {
  room = DEFAULT_TEXT_ROOM;
  #joinRead = false;

  override deliver(frame: OutFrame): void {
    const bare = bareFrame(frame);
    if (bare !== null) super.deliver(bare);
  }

  override readOp(frame: Buffer): ClientOp | ProtocolFault {
    if (this.#joinRead) return textSendOp(this.room, frame.toString());
    this.#joinRead = true;
    return textJoinOp(this.room);
  }
}

export class TextGateway {
  readonly #wss: WebSocketServer;
  readonly #chat: ChatGateway;

  constructor(chat: ChatGateway, options: ChatGatewayOptions) {
    this.#chat = chat;
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: options.maxFrameBytes,
      autoPong: false, // HubSocket answers pings itself
      WebSocket: TextSocket,
    });
  }

  /** Completes an upgrade on /ws/text; a bad room name is refused with 400 before the handshake. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    const room = url.searchParams.get('room') ?? DEFAULT_TEXT_ROOM;
    if (isFault(textJoinOp(room))) {
      refuseUpgrade(socket, 400, 'Bad Request');
      return;
    }
    // Origin, per-IP cap and token: the chat gateway's checks, so this door is no way around them.
    this.#chat.admit(req, socket, url, (who) => {
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws as TextSocket, who, room));
    });
  }

  #accept(ws: TextSocket, who: AskedIdentity, room: string): void {
    ws.room = room;
    // No welcome reaches a plain-text client: it has no resume secret to present or to be given.
    const actor = this.#chat.adopt(ws, { ...who, resume: null }, 't');
    actor.resumable = false;
    // Held by the actor until it is registered, then handled before anything the client sends.
    this.#chat.scheduler.send(actor, JOIN_PLACE, true);
  }
}
