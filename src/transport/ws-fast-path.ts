// What HubSocket reads or replaces inside ws (8.23.0, pinned exactly in
// package.json for this reason): the one file that knows ws's private fields.
//
// - The pong fast path. A heartbeat pong that arrives alone in its TCP chunk,
//   at a frame boundary, is recognised in the socket's 'data' listener without
//   passing through ws's Receiver (a Writable stream: a write, a parse loop and
//   an event). For that, ws's own 'data' listener (`socketOnData`, found by its
//   function name) is swapped for one shared function, which reads the
//   Receiver's `_state` (0 = GET_INFO, between frames), `_bufferedBytes` and
//   `_loop` to be sure the 6 bytes cannot be the middle of another frame, and
//   finds its WebSocket by ws's private `Symbol('websocket')` on the socket.
// - The Receiver's second end() at a close, which only built an error to drop
//   it, returns at once (quietSecondEnd).
// - Memory of an idle socket: the Receiver's grown `_buffers` array is replaced
//   by an empty one between frames; ws's `_extensions` is one shared frozen
//   object; `_events` is left unset (HubSocket.emit routes events itself).
//
// Why it is worth it: idle CPU at 19,000 idle connections, 1.57% of a core
// with it and 2.00% without (medians of 3, bench/analyze/idle-cpu.ts with and
// without HUBBUB_WS_FAST_PATH=off; bench/README.md, "The ws fast path, on and off").
// If ws changes any of these, the first socket finds out (`probe`), the fast
// path turns itself off (every socket keeps ws's own listener: correct, only
// slower), and test/ws-internals.test.ts fails naming what changed.
// HUBBUB_WS_FAST_PATH=off turns it off on purpose (to measure it).
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';

/** ws's Receiver fields the fast path reads (ws/lib/receiver.js). */
export interface ReceiverState {
  _buffers: Buffer[];
  _bufferedBytes: number;
  /** 0 = GET_INFO: the next byte starts a frame. */
  _state: number;
  _loop: boolean;
  _errored: boolean;
}

/** ws's and EventEmitter's fields that HubSocket reads or replaces (not in their typings). */
export interface WsInternals {
  _events: object | undefined;
  _extensions: object;
  _autoPong: boolean | undefined;
  _socket: Socket | null;
  _receiver: ReceiverState | null;
  _closeFrameReceived: boolean;
}

/** What the shared 'data' listener needs of the WebSocket it finds on a TCP socket. */
export interface FastPongPeer {
  /** Takes a lone pong; false to let ws parse the bytes. */
  takePong(): boolean;
}

/** The heartbeat's ping: FIN + opcode 0x9, no payload, unmasked (server to client). */
export const PING_FRAME = Buffer.from([0x89, 0x00]);

/** What every socket has as ws's `_extensions`: compression is off, so nothing is ever added. */
export const NO_EXTENSIONS: Record<string, never> = Object.freeze({});

/** ws's 'data' listener and the symbol it finds its WebSocket by, read off the first socket (both module-private in ws). */
let wsOnData: ((this: Socket, chunk: Buffer) => void) | null = null;
let kWebSocket: symbol | null = null;
/** Null until the first socket is probed; then what did not match (empty: the fast path is on). */
let problems: string[] | null = process.env.HUBBUB_WS_FAST_PATH === 'off' ? ['turned off by HUBBUB_WS_FAST_PATH=off'] : null;

/** The internals `ws` must have for the fast path, each with what to say when it does not. */
function probe(socket: Socket, ws: WsInternals): string[] {
  const found: string[] = [];
  const listeners = socket.listeners('data');
  const last = listeners[listeners.length - 1] as ((this: Socket, chunk: Buffer) => void) | undefined;
  if (last?.name !== 'socketOnData') found.push(`ws's 'data' listener is no longer the function named socketOnData (found ${JSON.stringify(last?.name)})`);
  const symbol = Object.getOwnPropertySymbols(socket).find((k) => k.description === 'websocket');
  if (symbol === undefined) found.push("ws no longer marks the TCP socket with its private Symbol('websocket')");
  else if ((socket as unknown as Record<symbol, unknown>)[symbol] !== ws) found.push("ws's Symbol('websocket') on the TCP socket no longer points at its WebSocket");
  const r = ws._receiver;
  if (r === null || typeof r !== 'object') found.push('the WebSocket has no `_receiver` after setSocket');
  else {
    if (r._state !== 0) found.push(`the Receiver's \`_state\` is not 0 (GET_INFO) between frames (found ${String(r._state)})`);
    if (typeof r._bufferedBytes !== 'number') found.push("the Receiver has no numeric `_bufferedBytes`");
    if (typeof r._loop !== 'boolean') found.push("the Receiver has no boolean `_loop`");
    if (typeof r._errored !== 'boolean') found.push("the Receiver has no boolean `_errored`");
    if (!Array.isArray(r._buffers)) found.push("the Receiver's `_buffers` is not an array");
  }
  if (typeof ws._closeFrameReceived !== 'boolean') found.push('the WebSocket has no boolean `_closeFrameReceived`');
  if (ws._socket !== socket) found.push('the WebSocket\'s `_socket` is not the TCP socket it was given');
  if (found.length === 0) {
    wsOnData = last!;
    kWebSocket = symbol!;
    quietSecondEnd(r as unknown as Writable);
  }
  return found;
}

/**
 * ws ends a socket's Receiver twice when the peer's FIN comes first: on the
 * socket's 'end' (socketOnEnd) and again on its 'close' (socketOnClose). The
 * second end() of a finished Writable builds an ERR_STREAM_ALREADY_FINISHED
 * error, stack trace and all, and drops it (ws passes no callback): 3% of the
 * broker's CPU in a connection storm of clients that close by resetting.
 * The Receiver's class gets an end() that returns at once in exactly the
 * cases where Writable's would build an error for no one (finished or
 * destroyed, no arguments), and is Writable's otherwise.
 */
function quietSecondEnd(receiver: Writable): void {
  const proto = Object.getPrototypeOf(receiver) as Writable;
  if (Object.hasOwn(proto, 'end')) return; // ws's own end(), or done already
  const end = proto.end;
  Object.defineProperty(proto, 'end', {
    configurable: true, writable: true,
    value: function endOnce(this: Writable, ...args: unknown[]): Writable {
      if (args.length === 0 && (this.writableFinished || this.destroyed)) return this;
      return (end as (...a: unknown[]) => Writable).apply(this, args);
    },
  });
}

/**
 * Every socket's 'data' listener (one shared function): a client's pong to
 * an empty ping is 6 bytes (0x8A, mask bit with length 0, the 4-byte mask).
 * ws removes its own listener for good once it has read a close frame or
 * failed on bad input (it drains the socket to nowhere after that); the
 * listener it would remove is this one, so this one stops likewise.
 */
function onSocketData(this: Socket, chunk: Buffer): void {
  const ws = (this as unknown as Record<symbol, (FastPongPeer & WsInternals) | undefined>)[kWebSocket!];
  if (ws === undefined || parsingStopped(ws)) return;
  if (chunk.length === 6 && chunk[0] === 0x8a && chunk[1] === 0x80 && ws.takePong()) return;
  wsOnData!.call(this, chunk);
}

/**
 * Called right after ws's setSocket: swaps ws's 'data' listener for the shared
 * one. The first socket is probed; if ws is not as expected, no socket is touched.
 */
export function installFastPongs(socket: Socket, ws: WsInternals & FastPongPeer): void {
  if (problems === null) problems = probe(socket, ws);
  if (problems.length > 0) return;
  socket.removeListener('data', wsOnData!);
  socket.on('data', onSocketData);
}

/** The fast path's state: null before the first socket, else what did not match ws (empty: on). */
export function fastPathProblems(): readonly string[] | null {
  return problems;
}

/** True when `socket` reads through the fast path's listener. */
export function usesFastPath(socket: Socket): boolean {
  return socket.listeners('data').includes(onSocketData);
}

/** ws's Receiver is between frames with nothing buffered: the next bytes start a frame. */
export function receiverIdle(ws: WsInternals): boolean {
  const r = ws._receiver;
  return r !== null && r._state === 0 && r._bufferedBytes === 0 && !r._loop;
}

/** True once ws would have removed its 'data' listener: a close frame read, or a parse error. */
export function parsingStopped(ws: WsInternals): boolean {
  return ws._closeFrameReceived || ws._receiver?._errored === true;
}

/**
 * ws appends every TCP chunk to the receiver's `_buffers` and shifts it out
 * once parsed; V8 keeps the array's grown backing store (17 slots, 152 B) for
 * good. Once a frame is parsed and nothing is left, setting the length to 0
 * drops that store (measured: 41 B an array after, as a fresh `[]`), so an
 * idle socket holds no spare slots. It keeps the array itself: a fresh `[]`
 * per message lived until the socket's next message, seconds later, so every
 * one was copied by a scavenge and promoted (the many-rooms load: 86 KB of
 * each scavenge's survivors -> 76-81 KB).
 */
export function trimReceiver(ws: WsInternals): void {
  const receiver = ws._receiver;
  if (receiver !== null && receiver._buffers.length === 0) receiver._buffers.length = 0;
}
