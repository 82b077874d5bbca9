// LeanSocket: a minimal WebSocket client over a raw TCP socket, for load
// workers that must cost little per delivered message (the `workers`
// scenario, where the generator shares two cores with the broker's
// processes and must not be the bottleneck). It speaks just what Hubbub's
// server sends: unmasked, unfragmented frames (text, ping, close). Frames are
// parsed in place from the socket's chunks, without a Buffer per frame or an
// event per frame; the caller gets (buffer, start, end) of each text payload.
// Reads land in one buffer shared by every socket of the process (net's
// `onread`): no Buffer and no stream event per read, only a callback.
// Client frames are masked, as RFC 6455 requires.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;
const HEADER_END = Buffer.from('\r\n\r\n');
/** Every LeanSocket of the process reads into this; what must outlive a read is copied. */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

export interface LeanHandlers {
  open(): void;
  /** A text frame's payload: bytes [start, end) of buf, valid during the call only. */
  text(buf: Buffer, start: number, end: number): void;
  close(code: number): void;
  error(err: Error): void;
}

export class LeanSocket {
  readonly #socket: Socket;
  readonly #h: LeanHandlers;
  #upgraded = false;
  #closed = false;
  /** Bytes of an incomplete frame (or of the HTTP response) carried over to the next chunk. */
  #pending: Buffer | null = null;

  constructor(host: string, port: number, path: string, localAddress: string, handlers: LeanHandlers) {
    this.#h = handlers;
    this.#socket = connect({
      host, port, localAddress, noDelay: true,
      onread: { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array): boolean => {
        this.#data(buf as Buffer, n);
        return true;
      } },
    });
    this.#socket.on('connect', () => {
      const key = randomBytes(16).toString('base64');
      this.#socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
        + `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    this.#socket.on('error', (err) => this.#h.error(err));
    this.#socket.on('close', () => this.#end(1006));
  }

  /** Bytes queued in user space, not yet taken by the kernel (ws's bufferedAmount, near enough). */
  get bufferedAmount(): number {
    return this.#socket.writableLength;
  }

  send(text: string): void {
    this.#frame(OP_TEXT, Buffer.from(text));
  }

  terminate(): void {
    this.#socket.destroy();
    this.#end(1006);
  }

  #end(code: number): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#h.close(code);
  }

  #frame(op: number, payload: Buffer): void {
    if (this.#closed) return;
    const len = payload.length;
    const head = len < 126 ? 6 : len < 65536 ? 8 : 14;
    const out = Buffer.allocUnsafe(head + len);
    out[0] = 0x80 | op;
    if (len < 126) out[1] = 0x80 | len;
    else if (len < 65536) {
      out[1] = 0x80 | 126;
      out.writeUInt16BE(len, 2);
    } else {
      out[1] = 0x80 | 127;
      out.writeUInt32BE(0, 2);
      out.writeUInt32BE(len, 6);
    }
    // A random mask per frame, as the RFC asks (the server does not care).
    const m = (Math.random() * 0x100000000) >>> 0;
    out.writeUInt32BE(m, head - 4);
    const m0 = m >>> 24, m1 = (m >>> 16) & 0xff, m2 = (m >>> 8) & 0xff, m3 = m & 0xff;
    for (let i = 0; i < len; i++) {
      const k = i & 3;
      out[head + i] = payload[i] ^ (k === 0 ? m0 : k === 1 ? m1 : k === 2 ? m2 : m3);
    }
    this.#socket.write(out);
  }

  /** `n` bytes read into `shared` (valid during this call only). */
  #data(shared: Buffer, n: number): void {
    const chunk = shared.subarray(0, n);
    let buf = chunk;
    let at = 0;
    const pending = this.#pending;
    if (pending !== null) {
      this.#pending = null;
      const need = this.#upgraded ? frameSize(pending, 0, pending.length) : -1;
      if (need < 0) buf = Buffer.concat([pending, chunk]); // a split header (rare): join it all
      else if (pending.length + chunk.length < need) {
        this.#pending = Buffer.concat([pending, chunk]);
        return;
      } else {
        // Join only the rest of the frame that straddles the reads, not the whole read.
        at = need - pending.length;
        this.#parse(Buffer.concat([pending, chunk.subarray(0, at)]), 0);
        if (this.#closed) return;
      }
    }
    if (!this.#upgraded) {
      const end = buf.indexOf(HEADER_END);
      if (end < 0) {
        this.#pending = Buffer.from(buf);
        return;
      }
      const status = buf.toString('latin1', 0, 12);
      if (status !== 'HTTP/1.1 101') {
        this.#h.error(new Error(`upgrade refused: ${buf.toString('latin1', 0, Math.min(end, 60))}`));
        this.terminate();
        return;
      }
      this.#upgraded = true;
      at = end + 4;
      this.#h.open();
    }
    at = this.#parse(buf, at);
    // A copy: the shared read buffer is overwritten by the next read of any socket.
    if (at < buf.length && !this.#closed) this.#pending = Buffer.from(buf.subarray(at));
  }

  /** Handles every whole frame of buf from `at`; returns where the first incomplete one starts. */
  #parse(buf: Buffer, at: number): number {
    const n = buf.length;
    while (at < n && !this.#closed) {
      const size = frameSize(buf, at, n);
      if (size < 0 || n - at < size) break;
      const op = buf[at] & 0x0f;
      const len7 = buf[at + 1] & 0x7f;
      const start = at + (len7 < 126 ? 2 : len7 === 126 ? 4 : 10);
      const end = at + size;
      at = end;
      if (op === OP_TEXT) this.#h.text(buf, start, end);
      else if (op === OP_PING) this.#frame(OP_PONG, buf.subarray(start, end));
      else if (op === OP_CLOSE) {
        const code = end - start >= 2 ? buf.readUInt16BE(start) : 1005;
        this.#socket.destroy();
        this.#end(code);
      }
    }
    return at;
  }
}

/** Header + payload bytes of the (unmasked) frame at `at`, or -1 when its header is incomplete. */
function frameSize(buf: Buffer, at: number, n: number): number {
  if (n - at < 2) return -1;
  const len7 = buf[at + 1] & 0x7f;
  if (len7 < 126) return 2 + len7;
  if (len7 === 126) return n - at < 4 ? -1 : 4 + buf.readUInt16BE(at + 2);
  return n - at < 10 ? -1 : 10 + buf.readUInt32BE(at + 6);
}
