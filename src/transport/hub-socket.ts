// HubSocket: ws's WebSocket, extended to be an actor's Peer.
//
// It holds the connection's outbox: the events delivered to it during the
// current scheduler slice. The first delivery marks the socket dirty in its
// gateway; when the slice ends the gateway flushes every dirty socket once:
// all of its frames go out corked, in one write. Events arrive encoded and
// framed once (OutFrames shared by every recipient of a broadcast), so a flush
// writes shared bytes straight to the TCP socket. ws's own sender is bypassed
// for these writes only; that is safe because compression is off, so ws
// writes synchronously and never holds a queue that ours could overtake.
// A client that asked for batch mode (`?batch=1`) gets every event of a slice
// in one frame, one JSON object per line.
// The same object carries the heartbeat bit, so a connection costs one object
// here, not a socket plus a wrapper.
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import type { ConnectionActor, Peer } from '../actors/connection-actor.js';
import { CLOSE_TRY_AGAIN_LATER } from '../constants.js';
import { frameBatch, type OutFrame } from './out-frame.js';

/** What a socket needs from the gateway that owns it; one object shared by all its sockets. */
export interface SocketOwner {
  /** Called on the first delivery of a slice: flush this socket when the slice ends. */
  markDirty(socket: HubSocket): void;
  readonly maxOutboxBytes: number;
}

export class HubSocket extends WebSocket implements Peer {
  actor: ConnectionActor | null = null;
  owner: SocketOwner | null = null;
  /** The TCP socket under the WebSocket, kept from the upgrade: corked around a flush. */
  raw: Socket | null = null;
  /** Heartbeat: set by any pong or message, cleared when a ping goes out. */
  alive = true;
  /** Heartbeat wheel bucket this socket is in; -1 when in none. */
  bucket = -1;
  /** Batch mode: several events per frame, newline-separated (asked with ?batch=1). */
  batch = false;
  #outbox: OutFrame[] | null = null;
  #outboxBytes = 0;

  deliver(frame: OutFrame): void {
    if (this.readyState !== WebSocket.OPEN) return;
    const owner = this.owner!;
    if (this.#outbox === null) {
      this.#outbox = [frame];
      owner.markDirty(this);
    } else {
      this.#outbox.push(frame);
    }
    this.#outboxBytes += frame.payload.length;
    // A client that does not read must not grow the broker without bound.
    if (this.#outboxBytes + this.bufferedAmount > owner.maxOutboxBytes) {
      this.#outbox = null;
      this.#outboxBytes = 0;
      this.close(CLOSE_TRY_AGAIN_LATER, 'slow consumer: too much unread output');
    }
  }

  /** Writes what this slice delivered: one write, corked when there are several frames. */
  flushOutbox(): void {
    const out = this.#outbox;
    if (out === null) return;
    this.#outbox = null;
    this.#outboxBytes = 0;
    const raw = this.raw;
    if (this.readyState !== WebSocket.OPEN || raw === null || raw.destroyed) return;
    if (out.length === 1) {
      raw.write(out[0].wire);
    } else if (this.batch) {
      raw.write(frameBatch(out));
    } else {
      raw.cork();
      for (let i = 0; i < out.length; i++) raw.write(out[i].wire);
      raw.uncork();
    }
  }

  closeAfterFlush(code: number, reason: string): void {
    this.flushOutbox();
    if (this.readyState === WebSocket.OPEN || this.readyState === WebSocket.CONNECTING) this.close(code, reason);
  }

  get remote(): string {
    // Read only when asked: net.Socket caches a _peername object on first use.
    return this.raw === null ? '' : `${this.raw.remoteAddress}:${this.raw.remotePort}`;
  }

  pauseReading(): void {
    this.pause();
  }

  resumeReading(): void {
    this.resume();
  }
}
