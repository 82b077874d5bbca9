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
import { isFault, parseClientOp } from '../protocol/protocol.js';

/** The room a text client is in when its URL names none (gorilla's example has one room). */
export const DEFAULT_TEXT_ROOM = 'lobby';

/** The bare-text frame of each event: one for messages, null for all else. */
const bareFrames = new WeakMap<OutFrame, OutFrame | null>();

function bareFrame(frame: OutFrame): OutFrame | null {
  let bare = bareFrames.get(frame);
  if (bare === undefined) {
    const ev = JSON.parse(frame.payload.toString()) as { type: string; text?: string };
    bare = ev.type === 'message' && typeof ev.text === 'string' ? new OutFrame(Buffer.from(ev.text)) : null;
    bareFrames.set(frame, bare);
  }
  return bare;
}

export class TextSocket extends HubSocket {
  /** `{"op":"send","room":"<room>","text":` — a client frame is this, its JSON string and `}`. */
  sendPrefix = '';

  override deliver(frame: OutFrame): void {
    const bare = bareFrame(frame);
    if (bare !== null) super.deliver(bare);
  }

  override inbound(text: string): string {
    return `${this.sendPrefix}${JSON.stringify(text)}}`;
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
    const join = JSON.stringify({ op: 'join', room });
    if (isFault(parseClientOp(join))) {
      refuseUpgrade(socket, 400, 'Bad Request');
      return;
    }
    // Origin, per-IP cap and token: the chat gateway's checks, so this door is no way around them.
    this.#chat.admit(req, socket, url, (who) => {
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws as TextSocket, who, room, join));
    });
  }

  #accept(ws: TextSocket, who: AskedIdentity, room: string, join: string): void {
    ws.sendPrefix = `{"op":"send","room":${JSON.stringify(room)},"text":`;
    const actor = this.#chat.adopt(ws, who, 't');
    // Held by the actor until it is registered, then handled before anything the client sends.
    this.#chat.scheduler.send(actor, join, true);
  }
}
