// The storm's floors: the least a one-thread Node server can do per
// connection and still hand each storm client a WebSocket welcome. Each kind
// adds one layer, so a storm against each (bench/analyze/storm-floor.ts) says
// what every layer of a Node WebSocket server costs per connection, and so
// what is left to Hubbub's own work:
//
//   net         net.Server; the upgrade read by hand, the accept key, the 101
//               and a welcome frame in one write, the socket ended at the
//               client's FIN. Nothing a real server could do without.
//   http        node:http's parser and 'upgrade' event in front of the same.
//   ws-objects  the same, with ws's WebSocket object set on the socket
//               (Receiver, Sender, their listeners and close path) as
//               handleUpgrade does, and the welcome sent through it; the 101
//               and the welcome still leave in one write (corked), as
//               Hubbub's do.
//
// None of them reads a frame after the welcome: the storm sends none. They
// speak the ws hub's wire (welcome only), backlog 4,096 like Hubbub.
//
//   node dist/bench/baselines/storm-floor.js --kind net|http|ws-objects
// prints "LISTENING <port>".
import { hash } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';

const { values } = parseArgs({ options: { kind: { type: 'string', default: 'net' }, port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const KEY_HEADER = /\r\nsec-websocket-key:[ \t]*([A-Za-z0-9+/=]+)/i;
let sessions = 0;

function welcomeText(): string {
  const n = ++sessions;
  return JSON.stringify({ type: 'welcome', session: `s${n}`, user: `u${n}` });
}

function head101(key: string): string {
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${hash('sha1', key + WS_GUID, 'base64')}\r\n\r\n`;
}

/** The 101 and one unmasked text frame (the welcome is under 126 bytes) in one buffer. */
function handshakeBytes(key: string): Buffer {
  const head = head101(key);
  const body = welcomeText();
  const out = Buffer.allocUnsafe(head.length + 2 + Buffer.byteLength(body));
  out.write(head, 0, 'latin1');
  out[head.length] = 0x81;
  out[head.length + 1] = out.length - head.length - 2;
  out.write(body, head.length + 2, 'utf8');
  return out;
}

function byNet(): Server {
  return createNetServer({ noDelay: true }, (socket: Socket) => {
    let request = '';
    const onData = (chunk: Buffer): void => {
      request += chunk.toString('latin1');
      if (!request.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      const key = KEY_HEADER.exec(request);
      if (key === null) socket.destroy();
      else socket.write(handshakeBytes(key[1]));
    };
    socket.on('data', onData);
    socket.on('error', () => {});
    socket.on('end', () => socket.destroy());
  });
}

function byHttp(withWs: boolean): Server {
  const server = createHttpServer();
  server.on('upgrade', (req, duplex: Duplex, head: Buffer) => {
    const socket = duplex as Socket;
    const key = req.headers['sec-websocket-key'];
    if (typeof key !== 'string') return void socket.destroy();
    socket.setNoDelay(true);
    if (!withWs) {
      socket.on('error', () => {});
      socket.on('end', () => socket.destroy());
      socket.write(handshakeBytes(key));
      return;
    }
    socket.cork();
    socket.write(head101(key));
    // What handleUpgrade does after its checks: a server-side WebSocket (null address) on the socket.
    // Both are ws's own server path (null address; setSocket), neither in @types/ws.
    const ws = new (WebSocket as unknown as new (address: null, protocols: undefined, options: object) => WebSocket)(null, undefined, {});
    (ws as unknown as { setSocket(s: Socket, h: Buffer, o: object): void }).setSocket(socket, head, { allowSynchronousEvents: true, maxPayload: 64 * 1024, skipUTF8Validation: false });
    ws.on('error', () => {});
    ws.send(welcomeText());
    socket.uncork();
  });
  return server;
}

const kind = values.kind;
const server = kind === 'net' ? byNet() : kind === 'http' ? byHttp(false) : kind === 'ws-objects' ? byHttp(true) : null;
if (server === null) throw new Error(`--kind must be net, http or ws-objects, not "${kind}"`);
server.listen({ port: Number(values.port), host: values.host, backlog: 4096 }, () => {
  const addr = server.address();
  process.stdout.write(`LISTENING ${typeof addr === 'object' && addr !== null ? addr.port : addr}\n`);
});
