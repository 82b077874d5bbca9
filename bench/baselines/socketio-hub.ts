// Baseline: a Socket.IO 4 chat server, websocket transport only, in the shape
// of Socket.IO's own chat examples: socket.join(room) and io.to(room).emit
// (the sender included, as Hubbub does). Socket.IO's adapter encodes a
// broadcast once and writes it to every member. Heartbeats are Engine.IO's
// defaults (ping every 25 s, timeout 20 s).
//
//   node dist/bench/baselines/socketio-hub.js --port 0 --host 127.0.0.1
// prints "LISTENING <port>" once it accepts connections.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Server } from 'socket.io';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });

const http = createServer();
const io = new Server(http, { transports: ['websocket'], serveClient: false, perMessageDeflate: false, maxHttpBufferSize: 1e6 });
let seq = 0;
let nextId = 0;

io.on('connection', (socket) => {
  const name = `u${++nextId}`;
  socket.on('join', (room: string) => {
    void socket.join(room);
    socket.emit('joined', { room, count: io.sockets.adapter.rooms.get(room)?.size ?? 0 });
  });
  socket.on('send', (msg: { room: string; text: string }) => {
    if (!socket.rooms.has(msg.room)) return;
    io.to(msg.room).emit('message', { room: msg.room, from: name, text: msg.text, ts: Date.now(), seq: ++seq });
  });
});

http.listen(Number(values.port), values.host, () => {
  const addr = http.address();
  process.stdout.write(`LISTENING ${typeof addr === 'object' && addr !== null ? addr.port : addr}\n`);
});
