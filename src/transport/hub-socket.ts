// HubSocket: ws's WebSocket, extended to be an actor's Peer.
//
// It holds the connection's outbox: the events delivered to it during the
// current scheduler slice. The first delivery marks the socket dirty in its
// gateway; when the slice ends the gateway flushes every dirty socket once:
// all of its frames go out in one write (one buffer when the socket holds no
// output, built once for all the members of a room that got the same frames;
// corked shared frames when it does). Events arrive encoded and
// framed once (OutFrames shared by every recipient of a broadcast), so a flush
// writes shared bytes straight to the TCP socket. ws's own sender is bypassed
// for these writes only; that is safe because compression is off, so ws
// writes synchronously and never holds a queue that ours could overtake.
// A client that asked for batch mode (`?batch=1`) gets every event of a slice
// in one frame, one JSON object per line.
// The same object carries the heartbeat bit, so a connection costs one object
// here, not a socket plus a wrapper.
//
// Memory (an idle connection is mostly this object, ws's Receiver and Sender
// and Node's net.Socket): the events ws raises here go straight to the owner
// through `emit`, with no listener registered, so a socket has no `_events`
// dictionary (a null-prototype object in dictionary mode, ~280 B with four
// listeners); pings are answered here, not by ws's autoPong, which keeps a
// closure per socket; every socket shares one empty extensions object; the TCP
// socket is ws's own `_socket`, not a second field.
//
// Heartbeats cost per connection, so they take the shortest path there is: a
// ping is one shared 2-byte frame written straight to the TCP socket (ws's
// ping builds a header, corks, writes an empty payload and uncorks: a writev
// of two buffers for every ping), and a lone pong is taken before ws's
// Receiver (ws-fast-path.ts, which owns every reach into ws's internals).
//
// Slow consumers: unread output is bounded in bytes (checked here on every
// delivery) and in frames (output-bound.ts, after every flush); past either
// bound the connection is closed with 1013 and gets nothing more. The shared
// write of a room's members is write-memo.ts.
import type { ClientRequestArgs } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocket, type ClientOptions } from 'ws';
import type { ConnectionActor, Peer } from '../actors/connection-actor.js';
import {
  CLOSE_INVALID_PAYLOAD, CLOSE_POLICY_VIOLATION, CLOSE_PROTOCOL_ERROR, CLOSE_TOO_BIG, CLOSE_TRY_AGAIN_LATER,
} from '../constants.js';
import type { HubCounters } from './metrics.js';
import { writeFrame, type OutFrame } from '../protocol/out-frame.js';
import { parseClientOp, type ClientOp, type ProtocolFault } from '../protocol/protocol.js';
import { countHeld, type HeldOutput } from './output-bound.js';
import { multiWire } from './write-memo.js';
import {
  installFastPongs, NO_EXTENSIONS, PING_FRAME, receiverIdle, trimReceiver, type WsInternals,
} from './ws-fast-path.js';

/**
 * ws closes on its own for malformed input, with a code but no reason; every
 * close the broker sends carries one (docs/protocol.md, Close codes).
 */
const DEFAULT_REASONS: Record<number, string> = {
  [CLOSE_PROTOCOL_ERROR]: 'protocol error: malformed WebSocket frame',
  [CLOSE_INVALID_PAYLOAD]: 'invalid UTF-8 in a text frame',
  [CLOSE_TOO_BIG]: 'frame too big',
  // ws's own 1008s: a message in more than maxFragments pieces, or too many chunks waiting to be parsed.
  [CLOSE_POLICY_VIOLATION]: 'policy violation: too many message fragments',
};

/** What a socket needs from the gateway that owns it; one object shared by all its sockets. */
export interface SocketOwner {
  /** Called on the first delivery of a slice: flush this socket when the slice ends. */
  markDirty(socket: HubSocket): void;
  readonly maxOutboxBytes: number;
  readonly maxOutboxFrames: number;
  readonly counters: HubCounters;
  /** A text or binary frame from the client. */
  onFrame(socket: HubSocket, data: Buffer, isBinary: boolean): void;
  /** ws's 'close': the connection is gone, with the peer's code and reason (or 1006). */
  onSocketClosed(socket: HubSocket, code: number, reason: Buffer): void;
  /** ws's 'error': ws has already chosen the close code; it is logged, nothing more. */
  onSocketError(socket: HubSocket, err: Error): void;
}

export class HubSocket extends WebSocket implements Peer, HeldOutput {
  actor: ConnectionActor | null = null;
  owner: SocketOwner | null = null;
  /** Heartbeat: set by any pong or message, cleared when a ping goes out. */
  alive = true;
  /** Heartbeat wheel bucket this socket is in; -1 when in none. */
  bucket = -1;
  /** Batch mode: several events per frame, newline-separated (asked with ?batch=1). */
  batch = false;
  /** This slice's events: one frame alone (most slices: no array per delivery), several in an array. */
  #outbox: OutFrame | OutFrame[] | null = null;
  #outboxBytes = 0;
  /** Estimated frames held in the socket's user-space write buffer, and their bytes (output-bound.ts owns them). */
  heldFrames = 0;
  heldBytes = 0;
  /** Input stopped for good (shutdown): backpressure may no longer resume reading. */
  #inputHeld = false;

  // ws's overloads, so that HubSocket may be a server's `WebSocket` class; its server calls (null, undefined, options).
  constructor(address: null);
  constructor(address: string | URL, options?: ClientOptions | ClientRequestArgs);
  constructor(address: string | URL, protocols?: string | string[], options?: ClientOptions | ClientRequestArgs);
  constructor(
    address: string | URL | null,
    protocols?: string | string[] | ClientOptions | ClientRequestArgs,
    options?: ClientOptions | ClientRequestArgs,
  ) {
    super(address as string, protocols as string | string[] | undefined, options);
    const self = this as unknown as WsInternals;
    // EventEmitter creates `_events` lazily again on the first listener added (tests, tools).
    self._events = undefined;
    self._extensions = NO_EXTENSIONS;
  }

  /**
   * ws attaches the TCP socket here (server side, after the upgrade); its
   * 'data' listener is swapped for the shared one with the pong fast path.
   */
  // Not in ws's typings: an internal method, called by its server and client alike.
  setSocket(socket: Socket, head: Buffer, options: object): void {
    (WebSocket.prototype as unknown as { setSocket(s: Socket, h: Buffer, o: object): void }).setSocket.call(this, socket, head, options);
    installFastPongs(socket, this as unknown as WsInternals & HubSocket);
  }

  /**
   * A lone pong frame read off the socket: taken here when ws's Receiver is
   * between frames with nothing buffered (so the bytes cannot be the middle
   * of another frame); else false, and ws parses it as usual.
   */
  takePong(): boolean {
    if (!receiverIdle(this as unknown as WsInternals) || this.readyState !== WebSocket.OPEN) return false;
    this.alive = true;
    return true;
  }

  /** The heartbeat's ping (see the header). */
  sendPing(): void {
    const raw = this.raw;
    if (raw === null || raw.destroyed) return;
    raw.write(PING_FRAME);
  }

  /** The TCP socket under the WebSocket (ws's own): corked around a flush. */
  get raw(): Socket | null {
    return (this as unknown as WsInternals)._socket;
  }

  /**
   * ws raises its events here; the owner gets the ones a connection needs
   * directly (see the header). Listeners added by anyone else still run.
   * Typed like the events ws raises: at most two arguments.
   */
  override emit(event: string | symbol, a?: unknown, b?: unknown): boolean {
    const owner = this.owner;
    let handled = false;
    if (owner !== null) {
      handled = true;
      switch (event) {
        case 'message':
          this.alive = true;
          owner.onFrame(this, a as Buffer, b as boolean);
          trimReceiver(this as unknown as WsInternals);
          break;
        case 'pong':
          this.alive = true;
          trimReceiver(this as unknown as WsInternals);
          break;
        case 'ping':
          this.#answerPing(a as Buffer);
          trimReceiver(this as unknown as WsInternals);
          break;
        case 'close':
          owner.onSocketClosed(this, a as number, b as Buffer);
          break;
        case 'error':
          owner.onSocketError(this, a as Error);
          break;
        default:
          handled = false;
      }
    }
    const self = this as unknown as WsInternals;
    if (self._events === undefined) return handled;
    // An 'error' the owner handled must not throw for want of a listener of someone else's.
    if (event === 'error' && handled && this.listenerCount('error') === 0) return true;
    return super.emit(event, a, b) || handled;
  }

  /**
   * ws's autoPong is off (it holds a closure per socket): pongs go out here. A
   * peer that pings without reading what it is sent is a slow consumer like
   * any other: 1013 past the byte bound (ws's own bound: 60 pongs not yet written).
   */
  #answerPing(data: Buffer): void {
    if ((this as unknown as WsInternals)._autoPong === true || this.readyState !== WebSocket.OPEN) return;
    const raw = this.raw;
    if (raw !== null && raw.writableLength > this.owner!.maxOutboxBytes) {
      this.#slowConsumer(`over ${this.owner!.maxOutboxBytes} bytes`);
      return;
    }
    this.pong(data, false);
  }

  deliver(frame: OutFrame): void {
    if (this.readyState !== WebSocket.OPEN) return;
    const owner = this.owner!;
    const out = this.#outbox;
    if (out === null) {
      this.#outbox = frame;
      owner.markDirty(this);
      // What the socket still holds, read once per slice (not per delivery: a
      // fan-out to 10k members would read it 10k times per message).
      this.#outboxBytes = this.bufferedAmount;
    } else if (Array.isArray(out)) {
      out.push(frame);
    } else {
      this.#outbox = [out, frame];
    }
    this.#outboxBytes += frame.length;
    owner.counters.eventsOut++;
    // A client that does not read must not grow the broker without bound.
    if (this.#outboxBytes > owner.maxOutboxBytes) this.#slowConsumer(`over ${owner.maxOutboxBytes} bytes`);
  }

  #slowConsumer(bound: string): void {
    this.#outbox = null;
    this.#outboxBytes = 0;
    this.owner!.counters.slowConsumers++;
    this.close(CLOSE_TRY_AGAIN_LATER, `slow consumer: ${bound} of unread output`);
  }

  /** Every close the broker sends has a reason, and is counted by code. */
  override close(code?: number, data?: string | Buffer): void {
    if (code !== undefined && this.readyState === WebSocket.OPEN) {
      if (data === undefined || data.length === 0) data = DEFAULT_REASONS[code];
      this.owner?.counters.countCloseSent(code);
    }
    super.close(code, data);
  }

  /** Writes what this slice delivered: one write, corked when there are several frames. */
  flushOutbox(): void {
    const out = this.#outbox;
    if (out === null) return;
    this.#outbox = null;
    this.#outboxBytes = 0;
    const raw = this.raw;
    if (this.readyState !== WebSocket.OPEN || raw === null || raw.destroyed) return;
    let bytes = 0;
    let joined: Buffer | null;
    if (!Array.isArray(out)) {
      bytes = writeFrame(raw, out);
    } else if ((this.batch || raw.writableLength === 0) && (joined = multiWire(out, this.batch)) !== null) {
      // Without held output the kernel takes all of it now, so one buffer is
      // one cheap write (corked, each frame would be a stream-buffer entry and
      // an iovec). A socket that holds output keeps the shared frames instead
      // of a copy that could outlive the flush; so does an outbox with a
      // history page (multiWire's null), whose pieces are never joined.
      bytes = joined.length;
      raw.write(joined);
    } else {
      raw.cork();
      for (let i = 0; i < out.length; i++) bytes += writeFrame(raw, out[i]);
      raw.uncork();
    }
    this.releaseHead();
    const owner = this.owner!;
    owner.counters.bytesOut += bytes;
    const held = countHeld(this, raw.writableLength, this.batch || !Array.isArray(out) ? 1 : out.length, bytes);
    if (held > owner.maxOutboxFrames) this.#slowConsumer(`over ${owner.maxOutboxFrames} frames`);
  }

  /** Lets the 101 head held back at the upgrade go, with whatever followed it (ChatGateway.upgrade). */
  releaseHead(): void {
    const raw = this.raw;
    if (raw !== null && raw.writableCorked !== 0) raw.uncork();
  }

  closeAfterFlush(code: number, reason: string): void {
    this.flushOutbox();
    if (this.readyState === WebSocket.OPEN || this.readyState === WebSocket.CONNECTING) this.close(code, reason);
    // The closing handshake needs the peer's close frame read: reading may have been paused for backpressure.
    if (this.isPaused) this.resume();
  }

  /** A client frame is a JSON op (docs/protocol.md); text sockets read theirs otherwise. */
  readOp(frame: Buffer): ClientOp | ProtocolFault {
    return parseClientOp(frame.toString());
  }

  get remote(): string {
    // Read only when asked: net.Socket caches a _peername object on first use.
    return this.raw === null ? '' : `${this.raw.remoteAddress}:${this.raw.remotePort}`;
  }

  pauseReading(): void {
    this.pause();
  }

  resumeReading(): void {
    // Once closing, reading on is how the peer's close frame gets here.
    if (!this.#inputHeld || this.readyState !== WebSocket.OPEN) this.resume();
  }

  /** Shutdown: reads nothing more from this client until its close handshake. */
  holdInput(): void {
    this.#inputHeld = true;
    this.pause();
  }
}
