// Baseline: the plain `ws` hub a Node user writes first. A Set of sockets per
// room, and for each chat message JSON.stringify + send to every member. No
// actors, no heartbeats, no backpressure, no write coalescing. It speaks the
// subset of Hubbub's protocol the bench uses: welcome on connect, join ->
// joined, send -> message {room, from, text, ts, seq} to every member
// (the sender included, as Hubbub does).
//
//   node dist/bench/baselines/ws-hub.js --port 0 --host 127.0.0.1
// prints "LISTENING <port>" once it accepts connections.
import { parseArgs } from 'node:util';
import { WebSocketServer, type WebSocket } from 'ws';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });

interface Client {
  name: string;
  rooms: Set<string>;
}

const rooms = new Map<string, Set<WebSocket>>();
const clients = new Map<WebSocket, Client>();
let seq = 0;
let nextId = 0;

const wss = new WebSocketServer({ port: Number(values.port), host: values.host, perMessageDeflate: false });
wss.on('listening', () => {
  const addr = wss.address();
  process.stdout.write(`LISTENING ${typeof addr === 'object' && addr !== null ? addr.port : addr}\n`);
});

wss.on('connection', (ws, req) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const client: Client = { name: url.searchParams.get('name') ?? `guest-${++nextId}`, rooms: new Set() };
  clients.set(ws, client);
  ws.send(JSON.stringify({ type: 'welcome', session: `s${++nextId}`, user: client.name }));

  ws.on('message', (data) => {
    let msg: { op?: string; room?: string; text?: string };
    try {
      msg = JSON.parse(data.toString());
    } catch {
      ws.send(JSON.stringify({ type: 'error', code: 'bad_json', message: 'frame is not valid JSON' }));
      return;
    }
    const room = String(msg.room);
    if (msg.op === 'join') {
      let members = rooms.get(room);
      if (members === undefined) rooms.set(room, (members = new Set()));
      members.add(ws);
      client.rooms.add(room);
      ws.send(JSON.stringify({ type: 'joined', room, count: members.size }));
    } else if (msg.op === 'send') {
      const members = rooms.get(room);
      if (members === undefined || !members.has(ws)) return;
      const event = { type: 'message', room, from: client.name, text: msg.text, ts: Date.now(), seq: ++seq };
      for (const member of members) member.send(JSON.stringify(event));
    }
  });

  ws.on('close', () => {
    for (const room of client.rooms) {
      const members = rooms.get(room);
      members?.delete(ws);
      if (members?.size === 0) rooms.delete(room);
    }
    clients.delete(ws);
  });
  ws.on('error', () => {});
});
