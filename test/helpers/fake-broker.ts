// A scripted broker on a real socket (127.0.0.1, port 0) for client tests that
// need what a real broker will not do on cue: answer out of order, go silent,
// drop a connection mid-op, kick, replay history.
import { WebSocketServer, type WebSocket } from 'ws';
import type { ClientOp, ServerEvent } from '../../src/client/wire.js';

export class FakeConnection {
  readonly ops: ClientOp[] = [];
  #waiters: (() => void)[] = [];
  closed: Promise<void>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.ops.push(JSON.parse(data.toString()) as ClientOp);
      for (const w of this.#waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
  }

  send(ev: ServerEvent): void {
    this.ws.send(JSON.stringify(ev));
  }

  welcome(user = 'alice'): void {
    this.send({ type: 'welcome', session: 'c1', user });
  }

  /** The first op received (now or later) that passes `match`. */
  async nextOp(match: (op: ClientOp) => boolean, timeoutMs = 5000, what = 'an op'): Promise<ClientOp> {
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    for (;;) {
      for (; seen < this.ops.length; seen++) if (match(this.ops[seen])) return this.ops.splice(seen, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`fake broker: no ${what} within ${timeoutMs} ms (got ${JSON.stringify(this.ops)})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

export class FakeBroker {
  readonly #wss: WebSocketServer;
  readonly #pending: FakeConnection[] = [];
  #waiters: ((c: FakeConnection) => void)[] = [];
  /** Every connection accepted, in order. */
  readonly connections: FakeConnection[] = [];

  private constructor(wss: WebSocketServer) {
    this.#wss = wss;
    wss.on('connection', (ws) => {
      const conn = new FakeConnection(ws);
      this.connections.push(conn);
      const waiter = this.#waiters.shift();
      if (waiter) waiter(conn);
      else this.#pending.push(conn);
    });
  }

  static start(): Promise<FakeBroker> {
    return new Promise((resolve) => {
      const wss: WebSocketServer = new WebSocketServer({ host: '127.0.0.1', port: 0 }, () => resolve(new FakeBroker(wss)));
    });
  }

  get url(): string {
    const addr = this.#wss.address();
    return `ws://127.0.0.1:${addr !== null && typeof addr === 'object' ? addr.port : 0}/ws`;
  }

  /** The next connection not yet taken by a caller. */
  nextConnection(timeoutMs = 5000): Promise<FakeConnection> {
    const ready = this.#pending.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fake broker: no connection within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push((c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
  }

  close(): Promise<void> {
    for (const c of this.connections) c.ws.terminate();
    return new Promise((resolve) => this.#wss.close(() => resolve()));
  }
}
