// WebSocket frames by hand, for fuzzing the broker below the WebSocket
// library: build any client frame (legal or not), read the server's frames,
// and predict, from RFC 6455 and the broker's limits, what the broker must do
// with a byte stream (a model written from the RFC, not from ws's code: where
// they disagree, the test says so).
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { isUtf8 } from 'node:buffer';
import { withTimeout } from './wait.js';

export const OP_CONT = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

export interface FrameSpec {
  fin?: boolean;
  /** RSV1..3 as bits 0b100, 0b010, 0b001. */
  rsv?: number;
  opcode: number;
  payload?: Buffer;
  /** Client frames must be masked; false sends an unmasked one. */
  masked?: boolean;
  /** A length field that lies (the frame is then truncated or runs into the next). */
  declaredLength?: number;
  /** Forces the 16- or 64-bit length encoding even for short payloads. */
  lengthBytes?: 0 | 2 | 8;
  mask?: Buffer;
}

/** One client frame (RFC 6455 §5.2). */
export function clientFrame(spec: FrameSpec): Buffer {
  const payload = spec.payload ?? Buffer.alloc(0);
  const declared = spec.declaredLength ?? payload.length;
  const lenBytes = spec.lengthBytes ?? (declared < 126 ? 0 : declared < 0x10000 ? 2 : 8);
  const masked = spec.masked ?? true;
  const head = Buffer.alloc(2 + lenBytes + (masked ? 4 : 0));
  head[0] = ((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | (spec.opcode & 0x0f);
  if (lenBytes === 0) head[1] = declared;
  else if (lenBytes === 2) {
    head[1] = 126;
    head.writeUInt16BE(declared, 2);
  } else {
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(declared), 2);
  }
  if (!masked) return Buffer.concat([head, payload]);
  head[1] |= 0x80;
  const mask = spec.mask ?? randomBytes(4);
  mask.copy(head, 2 + lenBytes);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
  return Buffer.concat([head, body]);
}

export const textFrame = (text: string, fin = true): Buffer => clientFrame({ opcode: OP_TEXT, payload: Buffer.from(text), fin });

export function closePayload(code: number, reason: Buffer | string = ''): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, Buffer.isBuffer(reason) ? reason : Buffer.from(reason)]);
}

// --- what the broker must do with a client byte stream ---

export type Outcome =
  /** The stream is well-formed so far: these text messages and pings reach the broker, the connection stays. */
  | { kind: 'open'; texts: string[]; pings: Buffer[] }
  /** The broker must close with this code (after answering the texts before it). */
  | { kind: 'close'; code: number; why: string; texts: string[]; pings: Buffer[] }
  /** The client closed (a valid close frame): the broker echoes the code (1005: none given). */
  | { kind: 'peer-close'; code: number; texts: string[]; pings: Buffer[] }
  /** The stream ends inside a frame: this many more bytes (at least) would complete it. */
  | { kind: 'incomplete'; need: number; texts: string[]; pings: Buffer[] };

export interface Limits {
  maxPayload: number;
  maxFragments: number;
}

const validCloseCode = (c: number): boolean =>
  (c >= 1000 && c <= 1014 && c !== 1004 && c !== 1005 && c !== 1006) || (c >= 3000 && c <= 4999);

/**
 * RFC 6455 as a server with no extensions applies it (§5.2-5.5, §7.4), plus the
 * broker's own rules: a message over maxPayload closes 1009, a binary message
 * closes 1003, more than maxFragments fragments close 1008.
 */
export function predict(stream: Buffer, limits: Limits): Outcome {
  const texts: string[] = [];
  const pings: Buffer[] = [];
  let at = 0;
  let fragmented = 0; // opcode of the message being assembled, 0 when none
  let parts: Buffer[] = [];
  let total = 0;
  let fragments = 0;
  const close = (code: number, why: string): Outcome => ({ kind: 'close', code, why, texts, pings });
  const need = (n: number): Outcome => ({ kind: 'incomplete', need: n, texts, pings });
  while (at < stream.length) {
    if (stream.length - at < 2) return need(2 - (stream.length - at));
    const b0 = stream[at];
    const b1 = stream[at + 1];
    const fin = (b0 & 0x80) !== 0;
    const rsv = (b0 >> 4) & 0x7;
    let opcode = b0 & 0x0f;
    let len = b1 & 0x7f;
    const masked = (b1 & 0x80) !== 0;
    if (rsv !== 0) return close(1002, 'reserved bits set without an extension');
    const control = opcode >= 0x8;
    if (opcode === OP_CONT) {
      if (fragmented === 0) return close(1002, 'continuation with no message to continue');
      opcode = fragmented;
    } else if (opcode === OP_TEXT || opcode === OP_BINARY) {
      if (fragmented !== 0) return close(1002, 'new message inside a fragmented one');
    } else if (opcode === OP_CLOSE || opcode === OP_PING || opcode === OP_PONG) {
      if (!fin) return close(1002, 'fragmented control frame');
      if (len > 125) return close(1002, 'control frame over 125 bytes');
      if (opcode === OP_CLOSE && len === 1) return close(1002, 'close frame of one byte');
    } else {
      return close(1002, `reserved opcode ${opcode}`);
    }
    if (!masked) return close(1002, 'unmasked client frame');
    let p = at + 2;
    if (len === 126) {
      if (stream.length - p < 2) return need(2 - (stream.length - p));
      len = stream.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (stream.length - p < 8) return need(8 - (stream.length - p));
      const hi = stream.readUInt32BE(p);
      if (hi > 2 ** 21 - 1) return close(1009, 'length beyond 2^53');
      len = hi * 2 ** 32 + stream.readUInt32BE(p + 4);
      p += 8;
    }
    if (!control && len > 0) {
      if (total + len > limits.maxPayload) return close(1009, 'message over the frame limit');
    }
    if (stream.length - p < 4) return need(4 - (stream.length - p));
    const mask = stream.subarray(p, p + 4);
    p += 4;
    if (stream.length - p < len) return need(len - (stream.length - p));
    const payload = Buffer.from(stream.subarray(p, p + len));
    for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
    at = p + len;
    if (control) {
      if (opcode === OP_PING) pings.push(payload);
      else if (opcode === OP_CLOSE) {
        if (payload.length === 0) return { kind: 'peer-close', code: 1005, texts, pings };
        const code = payload.readUInt16BE(0);
        if (!validCloseCode(code)) return close(1002, `invalid close code ${code}`);
        if (!isUtf8(payload.subarray(2))) return close(1007, 'close reason not UTF-8');
        return { kind: 'peer-close', code, texts, pings };
      }
      continue;
    }
    if (++fragments > limits.maxFragments) return close(1008, 'too many fragments');
    total += len;
    if (len > 0) parts.push(payload);
    if (!fin) {
      if (fragmented === 0) fragmented = opcode;
      continue;
    }
    const message = Buffer.concat(parts);
    parts = [];
    total = 0;
    fragments = 0;
    fragmented = 0;
    if (opcode === OP_BINARY) return close(1003, 'binary message');
    if (!isUtf8(message)) return close(1007, 'text not UTF-8');
    texts.push(message.toString());
  }
  // (Inside a fragmented message the stream is still well-formed: what comes next decides.)
  return { kind: 'open', texts, pings };
}

// --- a raw client that reads the server's frames ---

export interface ServerFrame {
  opcode: number;
  payload: Buffer;
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * A WebSocket client over a raw TCP socket: the opening handshake, then
 * whatever bytes the test writes; the server's frames are parsed and queued,
 * pings answered, a close frame recorded (and the socket then destroyed).
 * A mute one answers nothing, neither a ping nor a close: a dead peer whose
 * TCP connection is still up, for the heartbeat's tests.
 */
export class RawClient {
  readonly frames: ServerFrame[] = [];
  closeCode: number | null = null;
  closeReason = '';
  ended = false;
  #buf: Buffer = Buffer.alloc(0);
  #wake: (() => void) | null = null;

  private constructor(readonly socket: Socket, readonly mute: boolean) {}

  static async open(wsUrl: string, localAddress?: string, timeoutMs = 5000, mute = false): Promise<RawClient> {
    const url = new URL(wsUrl);
    const key = randomBytes(16).toString('base64');
    const accept = createHash('sha1').update(key + GUID).digest('base64');
    const socket = connect({ port: Number(url.port), host: url.hostname, localAddress });
    socket.setNoDelay(true);
    const client = new RawClient(socket, mute);
    socket.on('error', () => {});
    const handshake = new Promise<RawClient>((resolve, reject) => {
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        const response = head.subarray(0, end).toString('latin1');
        if (!response.startsWith('HTTP/1.1 101') || !response.includes(`Sec-WebSocket-Accept: ${accept}`)) {
          reject(new Error(`handshake refused: ${response.split('\r\n')[0]}`));
          return;
        }
        socket.on('data', (c: Buffer) => client.#read(c));
        client.#read(head.subarray(end + 4));
        resolve(client);
      };
      socket.on('data', onData);
      socket.once('close', () => reject(new Error('closed during the handshake')));
    });
    socket.on('close', () => {
      client.ended = true;
      client.#wake?.();
    });
    socket.write(
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    return withTimeout(handshake, timeoutMs, `the raw handshake to ${wsUrl}`);
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Resolves once `cond` holds (checked on every frame and at the end of the socket), or fails after `timeoutMs`. */
  async until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (this.ended && !cond()) throw new Error(`socket ended while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms`);
      await withTimeout(new Promise<void>((resolve) => { this.#wake = resolve; }), left, what).catch(() => {});
    }
  }

  /** Waits for the broker's welcome and returns it. */
  async welcome(timeoutMs = 5000): Promise<{ type: string; session: string; user: string }> {
    const find = () => this.events().find((e) => e.type === 'welcome') as { type: string; session: string; user: string } | undefined;
    await this.until(() => find() !== undefined, timeoutMs, 'the welcome');
    return find()!;
  }

  /** Text frames received, parsed as JSON events (a batch frame would be split on \n; this client never asks for one). */
  events(): { type: string; [k: string]: unknown }[] {
    return this.frames.filter((f) => f.opcode === OP_TEXT).map((f) => JSON.parse(f.payload.toString()) as { type: string });
  }

  destroy(): void {
    this.socket.destroy();
  }

  #read(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    for (;;) {
      const b = this.#buf;
      if (b.length < 2) break;
      let len = b[1] & 0x7f;
      let p = 2;
      if (len === 126) {
        if (b.length < 4) break;
        len = b.readUInt16BE(2);
        p = 4;
      } else if (len === 127) {
        if (b.length < 10) break;
        len = Number(b.readBigUInt64BE(2));
        p = 10;
      }
      if (b.length < p + len) break;
      const frame = { opcode: b[0] & 0x0f, payload: Buffer.from(b.subarray(p, p + len)) };
      this.#buf = b.subarray(p + len);
      this.frames.push(frame);
      if (this.mute) continue;
      if (frame.opcode === OP_PING) this.write(clientFrame({ opcode: OP_PONG, payload: frame.payload }));
      if (frame.opcode === OP_CLOSE && this.closeCode === null) {
        this.closeCode = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
        this.closeReason = frame.payload.subarray(2).toString();
        this.socket.destroy();
      }
    }
    this.#wake?.();
  }
}
