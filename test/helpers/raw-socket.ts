// A WebSocket peer made by hand over a raw TCP socket: it does the opening
// handshake, can send masked text frames, and otherwise ignores everything
// (reads and drops it all: never answers a ping or a close). For tests of misbehaving peers.
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { withTimeout } from './wait.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Connects to ws://host:port/path... and completes the handshake; resolves with the socket. */
export async function rawWebSocket(wsUrl: string, timeoutMs = 3000): Promise<Socket> {
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
      // From here on whatever arrives is read and dropped (so a close from the other side is still seen).
      socket.on('data', () => {});
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

/** One masked text frame, as a client must send it (RFC 6455 §5.2). */
export function maskedTextFrame(text: string): Buffer {
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
  const mask = randomBytes(4);
  mask.copy(frame, 2 + lenBytes);
  const at = 2 + lenBytes + 4;
  for (let i = 0; i < n; i++) frame[at + i] = payload[i] ^ mask[i & 3];
  return frame;
}
