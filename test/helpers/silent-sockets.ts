// Attackers for the edge's caps and timeouts: raw TCP sockets that connect and send nothing (or a head that never ends),
// each remembering what the broker wrote to it and whether it was closed.
import { connect, type Socket } from 'node:net';

export interface SilentSocket {
  socket: Socket;
  /** What the broker wrote (latin1). */
  got(): string;
  isClosed(): boolean;
  closed: Promise<void>;
}

export interface SilentOptions {
  /** Source address (127.0.0.x), to look like one host or another. */
  from?: string;
  /** Close on the first byte received, as a client does on reading `Connection: close`. */
  closeOnAnswer?: boolean;
  /** Written once connected, then nothing more (a request head without its end, for a slowloris). */
  head?: string;
}

export function silentSocket(port: number, options: SilentOptions = {}): SilentSocket {
  const socket = connect({ port, host: '127.0.0.1', localAddress: options.from });
  socket.on('error', () => {});
  const head = options.head;
  if (head !== undefined) socket.once('connect', () => socket.write(head));
  let got = '';
  let closed = false;
  socket.on('data', (d: Buffer) => {
    got += d.toString('latin1');
    if (options.closeOnAnswer === true) socket.end();
  });
  const done = new Promise<void>((resolve) => socket.once('close', () => {
    closed = true;
    resolve();
  }));
  return { socket, got: () => got, isClosed: () => closed, closed: done };
}

/** Opens `n` silent sockets at once. */
export function silentSockets(n: number, port: number, options: SilentOptions = {}): SilentSocket[] {
  const all: SilentSocket[] = [];
  for (let i = 0; i < n; i++) all.push(silentSocket(port, options));
  return all;
}
