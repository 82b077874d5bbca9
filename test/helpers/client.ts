// A chat client for tests over a real socket: connect to /ws?name=..., await
// the welcome, then await frames by predicate. Frames are queued as they
// arrive, so a frame that came before `next` was called is not lost, and
// frames a `next` skipped stay for a later one.
import WebSocket, { type ClientOptions } from 'ws';
import { withTimeout } from './wait.js';

/** A decoded server event; tests narrow it by `type`. */
export interface Frame {
  type: string;
  [field: string]: unknown;
}

export interface Closed {
  code: number;
  reason: string;
}

export const DEFAULT_WAIT_MS = 3000;

export class TestClient {
  readonly ws: WebSocket;
  /** Set by the welcome. */
  user = '';
  /** The welcome's display name (a token's name claim), if it had one. */
  displayName: string | null = null;
  session = '';
  /** Every frame received, in order (for assertions that something did NOT arrive). */
  readonly received: Frame[] = [];
  /** Frames no `next` has taken yet. */
  readonly #unread: Frame[] = [];
  /** Pending next() calls, woken by any frame or the close. */
  readonly #waiters = new Set<() => void>();
  readonly #closed: Promise<Closed>;
  #barriers = 0;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data, isBinary) => {
      const frame = JSON.parse(isBinary ? '{"type":"<binary>"}' : data.toString()) as Frame;
      this.received.push(frame);
      this.#unread.push(frame);
      this.#wake();
    });
    this.#closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.#wake();
        resolve({ code, reason: reason.toString() });
      });
    });
    // An 'error' without a listener would throw; the close that follows it is what tests check.
    ws.on('error', () => {});
  }

  /**
   * Connects to `wsUrl` (ws://host:port/ws) as `name` (omitted from the URL
   * when null) and resolves once the welcome has arrived.
   */
  static async connect(wsUrl: string, name: string | null, options: ClientOptions = {}): Promise<TestClient> {
    const url = name === null ? wsUrl : `${wsUrl}?name=${encodeURIComponent(name)}`;
    const client = new TestClient(new WebSocket(url, { perMessageDeflate: false, ...options }));
    const welcome = await client.next((f) => f.type === 'welcome', DEFAULT_WAIT_MS, `welcome for ${name}`);
    client.user = welcome.user as string;
    client.displayName = typeof welcome.name === 'string' ? welcome.name : null;
    client.session = welcome.session as string;
    return client;
  }

  /** Sends an op as JSON, or a string/Buffer as it is (for malformed input). */
  send(op: object | string | Buffer): void {
    this.ws.send(typeof op === 'string' || Buffer.isBuffer(op) ? op : JSON.stringify(op));
  }

  /**
   * Takes the first unread frame matching `pred`, waiting up to `timeoutMs` for
   * it. Fails naming `what` and listing what did arrive; fails at once if the
   * socket closes first.
   */
  async next(pred: (f: Frame) => boolean, timeoutMs = DEFAULT_WAIT_MS, what = 'a matching frame'): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.#unread.findIndex(pred);
      if (i >= 0) return this.#unread.splice(i, 1)[0];
      if (this.ws.readyState === WebSocket.CLOSED) {
        throw new Error(`${this.user || 'client'}: closed while waiting for ${what}; unread: ${this.#describeUnread()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.user || 'client'}: no ${what} within ${timeoutMs} ms; unread: ${this.#describeUnread()}`);
      let wake = (): void => {};
      const woken = new Promise<void>((resolve) => { wake = resolve; });
      this.#waiters.add(wake);
      await withTimeout(woken, left, what).catch(() => {});
      this.#waiters.delete(wake);
    }
  }

  /** next() for a frame of `type` whose fields include `fields`. */
  nextOf(type: string, fields: Record<string, unknown> = {}, timeoutMs = DEFAULT_WAIT_MS): Promise<Frame> {
    return this.next(
      (f) => f.type === type && Object.entries(fields).every(([k, v]) => f[k] === v),
      timeoutMs,
      `${type} ${JSON.stringify(fields)}`,
    );
  }

  /**
   * Resolves once this client has been told that `user` joined or left `room`
   * (or any user, when `user` is omitted), in the single form or inside a
   * `batch`: presence is coalesced, so changes that came together arrive as
   * one batch. A frame already received counts; nothing is taken.
   */
  async presenceOf(room: string | null, user: string | null, event: 'join' | 'leave', timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    const pred = (f: Frame): boolean => isPresence(f, room, user, event);
    if (this.received.some(pred)) return;
    await this.next(pred, timeoutMs, `presence ${event} of ${user ?? 'anyone'} in ${room ?? 'any room'}`);
  }

  /**
   * Resolves once every frame the supervisor sent this client before now has
   * arrived: `who` is a supervisor op, the supervisor handles one client's ops
   * in order, and the reply is written after anything it queued earlier.
   * Returns the frames that arrived before the reply and were still unread.
   */
  async barrier(timeoutMs = DEFAULT_WAIT_MS): Promise<Frame[]> {
    const room = `barrier-${++this.#barriers}`;
    this.send({ op: 'who', room });
    await this.nextOf('who', { room }, timeoutMs);
    return this.#unread.slice();
  }

  /** Unread frames matching `pred` (nothing is taken). */
  peek(pred: (f: Frame) => boolean): Frame[] {
    return this.#unread.filter(pred);
  }

  /** Resolves with the close code and reason once the socket is closed. */
  closed(timeoutMs = DEFAULT_WAIT_MS): Promise<Closed> {
    return withTimeout(this.#closed, timeoutMs, `close of ${this.user || 'client'}`);
  }

  /** Closes normally and waits for the close handshake. */
  async close(): Promise<Closed> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    return this.closed();
  }

  #wake(): void {
    for (const wake of this.#waiters) wake();
  }

  #describeUnread(): string {
    const list = this.#unread.slice(-8).map((f) => JSON.stringify(f).slice(0, 160));
    return list.length === 0 ? '(none)' : list.join(' | ');
  }
}

/** Connects several clients by name, in order. */
export async function connectAll(wsUrl: string, names: string[]): Promise<TestClient[]> {
  const clients: TestClient[] = [];
  for (const name of names) clients.push(await TestClient.connect(wsUrl, name));
  return clients;
}

/** Closes clients that are still open (a test's cleanup). */
export async function closeAll(clients: Iterable<TestClient>): Promise<void> {
  await Promise.all([...clients].map((c) => c.close()));
}

/** Whether `f` tells that `user` (null: anyone) did `event` in `room` (null: any), singly or in a batch. */
export function isPresence(f: Frame, room: string | null, user: string | null, event: 'join' | 'leave'): boolean {
  if (f.type !== 'presence' || (room !== null && f.room !== room)) return false;
  if (f.event === event) return user === null || f.user === user;
  if (f.event !== 'batch') return false;
  const names = (event === 'join' ? f.joined : f.left) as string[];
  return user === null ? names.length > 0 : names.includes(user);
}
