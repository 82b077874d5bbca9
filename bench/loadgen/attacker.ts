// The attacker of the `hostile` scenario, in a process of its own so that its
// work (reading megabytes of history, holding sockets) is not charged to the
// bystander, which the bench measures in its own process. Forked with one
// attack as JSON in argv; it runs that attack, bounded in count and time,
// reports one IPC message and exits.
//
//   busy           {ops, window}: not an attack but its yardstick, a friendly
//                  client at full speed: `ops` cheap ops (Hubbub's `ping`),
//                  `window` in flight, as fast as its rate limit lets it
//   slowloris      {sockets, holdMs}: half the sockets send nothing, half an
//                  upgrade request without its last blank line; after holdMs,
//                  how many the server had closed
//   joins          {rooms, window}: one connection joins `rooms` distinct rooms,
//                  `window` in flight; joins answered joined / refused, and ms
//   history-flood  {conns, lanes, ms, room}: `conns` connections in `room` keep
//                  `lanes` history requests of up to 1,000 messages in flight
//   history-fill   {rooms, perRoom, chars, conns}: `conns` connections fill rooms
//                  (each its share, one after the other) with `perRoom` messages
//                  of `chars` characters, leaving each
// Hubbub's wire for the ops (ws-hub speaks it for joins; Socket.IO's framing
// through wire.ts).
import { connect as tcpConnect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { connectUrl, handshakeStep, isJoined, joinFrame, type Endpoint } from './wire.js';

export type Attack =
  | { kind: 'busy'; ops: number; window: number; timeoutMs: number }
  | { kind: 'slowloris'; sockets: number; holdMs: number }
  | { kind: 'joins'; rooms: number; window: number; timeoutMs: number }
  | { kind: 'history-flood'; conns: number; lanes: number; ms: number; room: string }
  | { kind: 'history-fill'; rooms: number; perRoom: number; chars: number; conns: number; timeoutMs: number };

export type AttackReport =
  | { kind: 'busy'; answered: number; ms: number }
  | { kind: 'slowloris'; opened: number; closedByServer: number }
  | { kind: 'joins'; joined: number; refused: number; ms: number }
  | { kind: 'history-flood'; pages: number; closed: number }
  | { kind: 'history-fill'; sent: number; sentBytes: number; ms: number };

/**
 * Opens a chat connection and resolves once it is ready (welcome, or Socket.IO's connect). It goes on answering what
 * the wire asks of a client for its whole life (Socket.IO's keep-alive "2" -> "3").
 */
export function openChat(ep: Endpoint, name: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(connectUrl(ep, name, 'x'), { perMessageDeflate: false });
    ws.on('message', (data: Buffer) => {
      const step = handshakeStep(ep.kind, data.toString());
      if (step === 'ready') resolve(ws);
      else if (step !== null) ws.send(step);
    });
    ws.once('error', reject);
    ws.once('close', (code) => reject(new Error(`closed ${code} before ready`)));
  });
}

async function slowloris(ep: Endpoint, a: Extract<Attack, { kind: 'slowloris' }>): Promise<AttackReport> {
  const sockets: Socket[] = [];
  let closedByServer = 0;
  for (let i = 0; i < a.sockets; i++) {
    const s = tcpConnect({ host: ep.host, port: ep.port });
    s.on('error', () => {});
    // Read (and drop) what comes: a socket never read never sees the server's end, so its close would not count.
    s.resume();
    s.once('close', () => closedByServer++);
    if (i % 2 === 1) {
      s.once('connect', () => s.write(`GET /ws?name=slow${i} HTTP/1.1\r\nHost: ${ep.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`));
    }
    sockets.push(s);
  }
  await new Promise((r) => setTimeout(r, a.holdMs));
  const closed = closedByServer;
  for (const s of sockets) s.destroy();
  return { kind: 'slowloris', opened: a.sockets, closedByServer: closed };
}

async function busy(ep: Endpoint, a: Extract<Attack, { kind: 'busy' }>): Promise<AttackReport> {
  const ws = await openChat(ep, 'busy');
  const started = performance.now();
  const answered = await keepInFlight(ws, a.ops, a.window, a.timeoutMs, (i) => `{"op":"ping","id":"b${i}"}`,
    (data) => data.toString('latin1', 0, 16).startsWith('{"type":"pong"'));
  ws.terminate();
  return { kind: 'busy', answered, ms: Math.round(performance.now() - started) };
}

async function joins(ep: Endpoint, a: Extract<Attack, { kind: 'joins' }>): Promise<AttackReport> {
  const ws = await openChat(ep, 'joiner');
  const started = performance.now();
  let joined = 0;
  let refused = 0;
  await keepInFlight(ws, a.rooms, a.window, a.timeoutMs, (i) => joinFrame(ep.kind, `hostile-${i}-${'r'.repeat(48)}`), (data) => {
    const text = data.toString();
    if (isJoined(ep.kind, text)) joined++;
    else if (text.includes('"type":"error"')) refused++;
    else return false;
    return true;
  });
  ws.terminate();
  return { kind: 'joins', joined, refused, ms: Math.round(performance.now() - started) };
}

/**
 * Sends `total` ops on `ws`, `window` in flight: the next goes as each is
 * answered (`answers` says whether a frame answered one). Resolves with how
 * many were answered, once all were or after `timeoutMs`.
 */
function keepInFlight(ws: WebSocket, total: number, window: number, timeoutMs: number,
  frame: (i: number) => string, answers: (data: Buffer) => boolean): Promise<number> {
  let sent = 0;
  let answered = 0;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(answered), timeoutMs);
    const next = (): void => {
      if (sent < total) ws.send(frame(sent++));
    };
    ws.on('message', (data: Buffer) => {
      if (!answers(data)) return;
      if (++answered >= total) {
        clearTimeout(timer);
        resolve(answered);
      } else next();
    });
    for (let i = 0; i < window; i++) next();
  });
}

async function historyFlood(ep: Endpoint, a: Extract<Attack, { kind: 'history-flood' }>): Promise<AttackReport> {
  const conns = await Promise.all(Array.from({ length: a.conns }, (_, i) => openChat(ep, `reader-${i}`)));
  let pages = 0;
  let closed = 0;
  const until = Date.now() + a.ms;
  await Promise.all(conns.map((ws) => new Promise<void>((resolve) => {
    let id = 0;
    const ask = (): void => {
      if (Date.now() < until && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ op: 'history', room: a.room, limit: 1000, id: `h${id++}` }));
    };
    ws.on('message', (data: Buffer) => {
      const head = data.toString('latin1', 0, 24);
      if (head.startsWith('{"type":"joined"')) for (let k = 0; k < a.lanes; k++) ask();
      else if (head.startsWith('{"type":"history"')) {
        pages++;
        ask();
      }
    });
    ws.once('close', () => {
      closed++;
      resolve();
    });
    setTimeout(() => resolve(), a.ms + 500);
    ws.send(JSON.stringify({ op: 'join', room: a.room }));
  })));
  for (const ws of conns) ws.terminate();
  return { kind: 'history-flood', pages, closed };
}

async function historyFill(ep: Endpoint, a: Extract<Attack, { kind: 'history-fill' }>): Promise<AttackReport> {
  const text = '語'.repeat(a.chars);
  const started = performance.now();
  const deadline = Date.now() + a.timeoutMs;
  const counts = await Promise.all(Array.from({ length: a.conns }, (_, k) => fillRooms(ep, a, text, k, deadline)));
  const sent = counts.reduce((x, y) => x + y, 0);
  return { kind: 'history-fill', sent, sentBytes: sent * Buffer.byteLength(text), ms: Math.round(performance.now() - started) };
}

/** Connection `k` of the fill: rooms k, k + conns, ... Resolves with the messages it had acked. */
async function fillRooms(ep: Endpoint, a: Extract<Attack, { kind: 'history-fill' }>, text: string, k: number, deadline: number): Promise<number> {
  const ws = await openChat(ep, `filler-${k}`);
  let sent = 0;
  const waitFor = (pred: (s: string) => boolean): Promise<void> => new Promise((resolve) => {
    const on = (data: Buffer): void => {
      if (!pred(data.toString('latin1', 0, 64))) return;
      ws.off('message', on);
      resolve();
    };
    ws.on('message', on);
  });
  for (let r = k; r < a.rooms && Date.now() < deadline; r += a.conns) {
    const room = `fill-${r}`;
    const joined = waitFor((h) => h.startsWith('{"type":"joined"'));
    ws.send(JSON.stringify({ op: 'join', room }));
    await joined;
    const last = waitFor((h) => h.startsWith(`{"type":"ack","id":"${r}-${a.perRoom - 1}"`));
    for (let i = 0; i < a.perRoom; i++) ws.send(JSON.stringify({ op: 'send', room, text, id: `${r}-${i}` }));
    await last;
    sent += a.perRoom;
    ws.send(JSON.stringify({ op: 'leave', room }));
  }
  ws.terminate();
  return sent;
}

async function main(): Promise<void> {
  const { ep, attack } = JSON.parse(process.argv[2]) as { ep: Endpoint; attack: Attack };
  // Booted: the parent opens its measuring window now and says go. A Node process's start (~100 ms of CPU
  // on a 2-core machine) is the rig's cost, not the attack's, and must not land in the bystander's window.
  await new Promise<void>((resolve) => {
    process.once('message', () => resolve());
    process.send!('ready');
  });
  const report = attack.kind === 'busy' ? await busy(ep, attack)
    : attack.kind === 'slowloris' ? await slowloris(ep, attack)
    : attack.kind === 'joins' ? await joins(ep, attack)
    : attack.kind === 'history-flood' ? await historyFlood(ep, attack)
    : await historyFill(ep, attack);
  process.send!(report, () => process.exit(0));
}

// Run as the forked attacker only: the hostile scenario imports openChat from here too.
if (process.send !== undefined && process.argv[1] === fileURLToPath(import.meta.url)) void main();
