// EdgeGate: what a TCP connection must pass when it is accepted, before any
// byte of HTTP is read: the process's connection cap (fd-limit.ts: below the
// open-file limit), then the per-IP cap (ip-limit.ts). A refused socket gets
// an HTTP status with a one-line reason and is closed; nothing it sends is
// served. Under --workers the per-IP count is in the primary, so a socket's
// verdict may come a moment after its accept: its requests and upgrade wait
// for it (HttpServer asks `verdict`).
import type { Socket } from 'node:net';
import { clientIp, type IpSlots, type Release } from './ip-limit.js';

/**
 * A refused socket is closed this long after its answer at the latest. Closing
 * at once, with the client's request unread, would make the kernel send a
 * reset that can destroy the answer before the client reads it; a client
 * normally closes first, on reading `Connection: close`.
 */
const REFUSAL_LINGER_MS = 2000;

/** Refused sockets (lingering) may take the open count this far past the cap; past it they are dropped unanswered. */
function refusalHeadroom(maxConns: number): number {
  return Math.max(8, Math.floor(maxConns / 50));
}

interface Refusal {
  status: string;
  reason: string;
}

export class EdgeGate {
  /** The per-IP count (null: no cap). */
  readonly ipSlots: IpSlots | null;
  /** Sockets whose verdict is still on its way from the primary. */
  readonly #pending = new WeakMap<Socket, Promise<boolean>>();
  readonly #refused = new WeakSet<Socket>();
  /** Connections refused over the gate's life, by cause. */
  readonly refused = { ipCap: 0, connCap: 0 };
  readonly #maxConns: number;
  readonly #ceiling: number;

  /** `maxConns`: the process's cap, 0 for none. */
  constructor(ipSlots: IpSlots | null, maxConns = 0) {
    this.ipSlots = ipSlots !== null && ipSlots.max > 0 ? ipSlots : null;
    this.#maxConns = maxConns;
    this.#ceiling = maxConns + refusalHeadroom(maxConns);
  }

  get maxConns(): number {
    return this.#maxConns;
  }

  /**
   * Called on every accepted socket, first thing. `open`: the server's open
   * TCP connections, this one and refused ones still closing included (each
   * holds a descriptor).
   */
  admit(socket: Socket, open: number): void {
    if (this.#maxConns > 0 && open > this.#maxConns) {
      if (open > this.#ceiling) {
        this.refused.connCap++;
        this.#refused.add(socket);
        socket.destroy(); // not even an answer: the descriptors for answers are spent
        return;
      }
      this.refused.connCap++;
      this.#refuse(socket, { status: '503 Service Unavailable', reason: `the server is at its connection cap (${this.#maxConns}); try again later` });
      return;
    }
    if (this.ipSlots === null) return;
    // Read only with a cap: remoteAddress makes net.Socket keep a _peername object (~80 B).
    const taken = this.ipSlots.take(clientIp(socket.remoteAddress));
    if (!(taken instanceof Promise)) {
      this.#settle(socket, taken);
      return;
    }
    this.#pending.set(socket, taken.then((release) => {
      this.#pending.delete(socket);
      return this.#settle(socket, release);
    }));
  }

  /** True: serve this socket; false: it was refused (and answered); a promise while its verdict is awaited. */
  verdict(socket: Socket): boolean | Promise<boolean> {
    if (this.#refused.has(socket)) return false;
    return this.#pending.get(socket) ?? true;
  }

  #settle(socket: Socket, release: Release | null | undefined): boolean {
    if (release === undefined) {
      this.refused.ipCap++;
      this.#refuse(socket, { status: '503 Service Unavailable', reason: 'the per-address connection count did not answer; try again later' });
      return false;
    }
    if (release === null) {
      this.refused.ipCap++;
      this.#refuse(socket, { status: '429 Too Many Requests', reason: `too many connections from your address (at most ${this.ipSlots!.max})` });
      return false;
    }
    if (socket.destroyed) release();
    else socket.once('close', release);
    return true;
  }

  #refuse(socket: Socket, refusal: Refusal): void {
    this.#refused.add(socket);
    socket.on('error', () => {}); // a reset after the answer is the client's business
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const body = `${refusal.reason}\n`;
    socket.end(`HTTP/1.1 ${refusal.status}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    const linger = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS);
    linger.unref();
    socket.once('close', () => clearTimeout(linger));
  }
}
