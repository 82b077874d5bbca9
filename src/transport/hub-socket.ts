// HubSocket: ws's WebSocket, extended to be an actor's Peer.
//
// It holds the connection's outbox: the frames delivered to it during the
// current scheduler slice. The first delivery marks the socket dirty in its
// gateway; when the slice ends the gateway flushes every dirty socket once:
// all of its frames go out corked, in one write. Frames arrive already encoded
// (Buffers shared by every recipient of a broadcast), so nothing is encoded per
// socket. The same object carries the heartbeat bit, so a connection costs one
// object here, not a socket plus a wrapper.
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import type { ConnectionActor, Peer } from '../actors/connection-actor.js';
import { CLOSE_TRY_AGAIN_LATER } from '../constants.js';

/** What a socket needs from the gateway that owns it; one object shared by all its sockets. */
export interface SocketOwner {
  /** Called on the first delivery of a slice: flush this socket when the slice ends. */
  markDirty(socket: HubSocket): void;
  readonly maxOutboxBytes: number;
}

const TEXT_FRAME = { binary: false } as const;

export class HubSocket extends WebSocket implements Peer {
  actor: ConnectionActor | null = null;
  owner: SocketOwner | null = null;
  /** The TCP socket under the WebSocket, kept from the upgrade: corked around a flush. */
  raw: Socket | null = null;
  /** Heartbeat: set by any pong or message, cleared when a ping goes out. */
  alive = true;
  /** Heartbeat wheel bucket this socket is in; -1 when in none. */
  bucket = -1;
  #outbox: Buffer[] | null = null;
  #outboxBytes = 0;

  deliver(frame: Buffer): void {
    if (this.readyState !== WebSocket.OPEN) return;
    const owner = this.owner!;
    if (this.#outbox === null) {
      this.#outbox = [frame];
      owner.markDirty(this);
    } else {
      this.#outbox.push(frame);
    }
    this.#outboxBytes += frame.length;
    // A client that does not read must not grow the broker without bound.
    if (this.#outboxBytes + this.bufferedAmount > owner.maxOutboxBytes) {
      this.#outbox = null;
      this.#outboxBytes = 0;
      this.close(CLOSE_TRY_AGAIN_LATER, 'slow consumer: too much unread output');
    }
  }

  /** Writes what this slice delivered: one frame plainly, several corked into one write. */
  flushOutbox(): void {
    const out = this.#outbox;
    if (out === null) return;
    this.#outbox = null;
    this.#outboxBytes = 0;
    if (this.readyState !== WebSocket.OPEN) return;
    if (out.length === 1) {
      this.send(out[0], TEXT_FRAME);
      return;
    }
    const raw = this.raw;
    raw?.cork();
    for (let i = 0; i < out.length; i++) this.send(out[i], TEXT_FRAME);
    raw?.uncork();
  }

  closeAfterFlush(code: number, reason: string): void {
    this.flushOutbox();
    if (this.readyState === WebSocket.OPEN || this.readyState === WebSocket.CONNECTING) this.close(code, reason);
  }

  pauseReading(): void {
    this.pause();
  }

  resumeReading(): void {
    this.resume();
  }
}
