// Wire: what differs between the systems under test, seen from a client. The
// load generator treats every system alike through this table: where to
// connect, when a connection is ready, how to join a room and how to send.
//
//   hubbub, ws-hub  Hubbub's protocol (ws-hub speaks its subset): welcome on
//                   connect, {op:join} -> joined, {op:send} -> message to all.
//   socketio        Engine.IO v4 / Socket.IO v5 framing over a raw ws socket:
//                   "0{..}" open -> we send "40" -> "40{..}" connected;
//                   events are 42["name",data]; server ping "2" -> "3".
//   gorilla         gorilla's chat: no protocol, the hub echoes each frame to
//                   every client of the room named in the URL; ready on open.
//
// Every chat message carries its send time in its text, "@<µs>|padding",
// microseconds of CLOCK_MONOTONIC (process.hrtime), which all processes of
// the machine share; receivers find it by the bytes `"text":"@`, whatever
// the envelope, without parsing JSON.

export type WireKind = 'hubbub' | 'ws-hub' | 'socketio' | 'gorilla';

export const TEXT_MARK = Buffer.from('"text":"@');

export function nowUs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + ns / 1e3;
}

export interface Endpoint {
  kind: WireKind;
  host: string;
  port: number;
  /** Hubbub only: ask for newline-batched frames (`?batch=1`). */
  batch: boolean;
}

export function connectUrl(ep: Endpoint, name: string, room: string): string {
  return `ws://${ep.host}:${ep.port}${connectPath(ep, name, room)}`;
}

/** The request target of the upgrade (what connectUrl puts after the host). */
export function connectPath(ep: Endpoint, name: string, room: string): string {
  switch (ep.kind) {
    case 'hubbub':
    case 'ws-hub':
      return `/ws?name=${encodeURIComponent(name)}${ep.batch ? '&batch=1' : ''}`;
    case 'socketio':
      return '/socket.io/?EIO=4&transport=websocket';
    case 'gorilla':
      return `/ws?room=${encodeURIComponent(room)}`;
  }
}

/** Does this system need a join op after connecting (gorilla's room is in the URL)? */
export function needsJoin(kind: WireKind): boolean {
  return kind !== 'gorilla';
}

/** Ready on open, before any frame? */
export function readyOnOpen(kind: WireKind): boolean {
  return kind === 'gorilla';
}

/**
 * Handles a frame before the connection is ready. Returns 'ready' when the
 * connection is now ready to join, or a frame to send back (socket.io's
 * namespace connect), or null to keep waiting.
 */
export function handshakeStep(kind: WireKind, text: string): 'ready' | string | null {
  switch (kind) {
    case 'hubbub':
    case 'ws-hub':
      return text.includes('"type":"welcome"') ? 'ready' : null;
    case 'socketio':
      if (text.startsWith('0{')) return '40';
      if (text.startsWith('40')) return 'ready';
      if (text === '2') return '3';
      return null;
    case 'gorilla':
      return 'ready';
  }
}

export function joinFrame(kind: WireKind, room: string): string {
  return kind === 'socketio' ? `42["join",${JSON.stringify(room)}]` : JSON.stringify({ op: 'join', room });
}

export function isJoined(kind: WireKind, text: string): boolean {
  return kind === 'socketio' ? text.startsWith('42["joined"') : text.includes('"type":"joined"');
}

/** A chat message stamped now. `room` must need no JSON escaping (the bench's own names). */
export function sendFrame(kind: WireKind, room: string, pad: string): string {
  const text = `@${Math.round(nowUs())}|${pad}`;
  return kind === 'socketio'
    ? `42["send",{"room":"${room}","text":"${text}"}]`
    : `{"op":"send","room":"${room}","text":"${text}"}`;
}
