// A WebSocket peer made by hand over a raw TCP socket: it does the opening
// handshake, can send masked text frames, and otherwise ignores everything
// (reads and drops it all: never answers a ping or a close), unless given an
// `onFrame` that sees each server frame. For tests of misbehaving peers and of
// exactly what bytes cross the wire.
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { withTimeout } from './wait.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A server frame as the raw peer parsed it (server frames are unmasked). */
export type OnFrame = (opcode: number, payload: Buffer) => void;

/**
 * Connects to ws://host:port/path... and completes the handshake; resolves
 * with the socket. `onFrame`, when given, sees every frame the server sends
 * from the handshake on (none may be larger than 64 KiB).
 */
export async function rawWebSocket(wsUrl: string, timeoutMs = 3000, onFrame?: OnFrame): Promise<Socket> {
  const url = new URL(wsUrl);
  const key = randomBytes(16).toString('base64');
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  const socket = connect(Number(url.port), url.hostname);
  socket.on('error', () => {}); // the server may reset it; tests watch 'close'
  const handshake = new Promise<Socket>((resolve, reject) => {
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const response = head.slice(0, end);
      if (!response.startsWith('HTTP/1.1 101') || !response.includes(`Sec-WebSocket-Accept: ${accept}`)) {
        reject(new Error(`handshake refused: ${response.split('\r\n')[0]}`));
        return;
      }
      // From here on whatever arrives is read (so a close from the other side is
      // still seen) and parsed into frames or dropped.
      if (onFrame === undefined) socket.on('data', () => {});
      else {
        const parse = frameParser(onFrame);
        parse(Buffer.from(head.slice(end + 4), 'latin1'));
        socket.on('data', parse);
      }
      resolve(socket);
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error('closed during the handshake')));
    socket.write(
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
  return withTimeout(handshake, timeoutMs, `the handshake of a raw socket to ${wsUrl}`);
}

/** Splits a byte stream of unmasked frames with payloads under 64 KiB into frames. */
function frameParser(onFrame: OnFrame): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      if (pending.length < 2) return;
      let len = pending[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (pending.length < 4) return;
        len = pending.readUInt16BE(2);
        at = 4;
      } else if (len === 127) throw new Error('raw peer: a frame over 64 KiB');
      if (pending.length < at + len) return;
      onFrame(pending[0] & 0x0f, pending.subarray(at, at + len));
      pending = pending.subarray(at + len);
    }
  };
}

/** A client's pong with no payload: FIN + pong, masked, length 0, a zero mask (6 bytes). */
export const MASKED_EMPTY_PONG = Buffer.from([0x8a, 0x80, 0, 0, 0, 0]);

/** One masked text frame, as a client must send it (RFC 6455 §5.2); `mask` is random unless given. */
export function maskedTextFrame(text: string, mask: Buffer = randomBytes(4)): Buffer {
  const payload = Buffer.from(text);
  const n = payload.length;
  const lenBytes = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const frame = Buffer.alloc(2 + lenBytes + 4 + n);
  frame[0] = 0x81; // FIN + text
  if (lenBytes === 0) frame[1] = 0x80 | n;
  else if (lenBytes === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(n), 2);
  }
  mask.copy(frame, 2 + lenBytes);
  const at = 2 + lenBytes + 4;
  for (let i = 0; i < n; i++) frame[at + i] = payload[i] ^ mask[i & 3];
  return frame;
}
