// HubbubClient: one chat connection that survives the broker going away.
//
// The life of a client:
//
//   connecting ──welcome──> open ──drop──> reconnecting ──(backoff)──> ... ──welcome──> open
//        │                    │                  │
//        └──── close(), kicked (4000), replaced (4001), refused (1008) ────> closed
//
// What it promises:
// - Every op carries an `id`; its promise settles on the reply that names it
//   (ack/pong/joined/left/who by id, error by ref; from a broker that does
//   not echo ids on joined/left/who, by kind and room). Never by arrival order: the broker
//   answers ping and malformed frames itself while room ops go through the
//   supervisor, so replies can overtake each other.
// - Rooms are remembered: after a reconnect each is joined again, with `since`
//   set to the last seq seen, and a message seen twice (a replay) is dropped.
//   A join() survives a drop: it settles when the rejoin is answered.
// - send/dm/who made while offline wait in a bounded queue and go out, in
//   order, right after the rejoins. Ops in flight when the connection drops
//   fail with `disconnected`: the broker may or may not have done them.
// - Reconnection waits an exponential, jittered delay (backoff.ts).
// - The name is kept: a reconnect asks for the name the last welcome gave,
//   with that welcome's resume secret, so the broker gives it back (and,
//   within its grace, tells no one the client was gone). When the broker
//   gives another name, the welcome says which was asked (`asked`).
//
// It runs on any runtime: the socket comes from a SocketFactory (socket.ts).
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import { MAX_TEXT_LENGTH, textTooLargeMessage } from '../protocol/limits.js';
import { HubbubClientError } from './errors.js';
import { chatUrl, type ClientEvents, type ClientOptions, type ConnectionState } from './client-types.js';
import { InFlight, type OpKind, type Pending } from './in-flight.js';
import { RoomBook, type RoomRecord } from './room-book.js';
import type { ClientSocket, SocketFactory } from './socket.js';
import {
  CloseCode, parseServerEvent,
  type AckEvent, type ClientOp, type ErrorCode, type JoinedEvent, type LeftEvent, type OpId,
  type ServerEvent, type WelcomeEvent, type WhoEvent,
} from './wire.js';

export { chatUrl, type ClientEvents, type ClientOptions, type CloseInfo, type ConnectionState, type StateChange } from './client-types.js';

export class HubbubClient extends Emitter<ClientEvents> {
  /** The URL of the first connection; reconnects add the name and secret of the last welcome. */
  readonly url: string;
  readonly #base: string;
  readonly #name: string | undefined;
  readonly #token: string | undefined;
  /** The resume secret of the last welcome (presence-grace.ts on the broker); null: none. */
  #resume: string | null;
  readonly #factory: SocketFactory;
  readonly #backoff: BackoffOptions;
  readonly #reconnect: boolean;
  readonly #retryFirst: boolean;
  readonly #maxQueue: number;
  readonly #pingIntervalMs: number;
  /** Date.now() of the last liveness ping sent; 0: none on this socket. */
  #pingSentAt = 0;
  readonly #random: () => number;
  #socket: ClientSocket | null = null;
  /** Bumped per socket: callbacks of an older socket are ignored. */
  #generation = 0;
  #state: ConnectionState = 'connecting';
  #attempt = 0;
  /** The backoff's attempt when the current connection's welcome came, and when that was. */
  #attemptAtWelcome = 0;
  #welcomedAt = 0;
  #everOpen = false;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #pingTimer: ReturnType<typeof setInterval> | null = null;
  #lastHeard = 0;
  #user = '';
  #session = '';
  #nextId = 1;
  readonly #rooms = new RoomBook();
  readonly #inFlight: InFlight;
  /** Ops waiting for a connection, in call order. */
  #queue: Pending[] = [];

  constructor(url: string, options: ClientOptions) {
    super();
    this.#base = url;
    this.#name = options.name;
    this.#token = options.token;
    this.#resume = options.resume ?? null;
    this.url = chatUrl(url, options.name, options.token, this.#resume ?? undefined);
    this.#factory = options.socket;
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#reconnect = options.reconnect ?? true;
    this.#retryFirst = options.retryFirst ?? true;
    this.#inFlight = new InFlight(options.opTimeoutMs ?? 10_000, (p) => this.#timedOut(p));
    this.#maxQueue = options.maxQueue ?? 100;
    this.#pingIntervalMs = options.pingIntervalMs ?? 15_000;
    this.#random = options.random ?? Math.random;
    // A Map when room names come from users (an object key `__proto__` is not a room); a plain object still works.
    const rooms = options.rooms instanceof Map ? options.rooms : Object.entries(options.rooms ?? {});
    for (const [room, since] of rooms) this.#rooms.add(room, since);
    this.#open();
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The name the broker gave this client ('' before the first welcome). */
  get user(): string {
    return this.#user;
  }

  get session(): string {
    return this.#session;
  }

  /** Rooms this client is in or will rejoin. */
  get rooms(): string[] {
    return this.#rooms.names();
  }

  /** Ops waiting for a connection. */
  get queued(): number {
    return this.#queue.length;
  }

  /** The last seq seen in a room, or null. */
  lastSeq(room: string): number | null {
    return this.#rooms.get(room)?.lastSeq ?? null;
  }

  /** Resolves once the client is open (now or later); rejects if it closes first. */
  opened(): Promise<this> {
    if (this.#state === 'open') return Promise.resolve(this);
    if (this.#state === 'closed') return Promise.reject(new HubbubClientError('closed', 'client is closed'));
    return new Promise((resolve, reject) => {
      const offWelcome = this.once('welcome', () => {
        offClose();
        resolve(this);
      });
      const offClose = this.once('close', ({ code, reason }) => {
        offWelcome();
        reject(new HubbubClientError(this.#everOpen ? 'closed' : 'connect_failed', `connection closed (${code}${reason ? `: ${reason}` : ''})`));
      });
    });
  }

  /** Joins a room; `since` resumes after that seq (default: the last seq seen there). */
  join(room: string, options: { since?: number } = {}): Promise<JoinedEvent> {
    if (this.#state === 'closed') return Promise.reject(closedError());
    const rec = this.#rooms.add(room, options.since ?? null);
    const done = new Promise<JoinedEvent>((resolve, reject) => rec.waiters.push({ resolve, reject }));
    if (this.#state === 'open' && rec.joinId === null) this.#sendJoin(rec);
    return done;
  }

  /** Leaves a room. Offline it just forgets the room: the next connection will not rejoin it. */
  leave(room: string): Promise<LeftEvent> {
    const rec = this.#rooms.remove(room);
    if (rec !== undefined) {
      rec.rejectWaiters(new HubbubClientError('cancelled', `left "${room}" before the join was answered`));
      if (rec.joinId !== null) this.#inFlight.take(rec.joinId);
    }
    if (this.#state !== 'open') return Promise.resolve({ type: 'left', room });
    return this.#request('leave', { op: 'leave', room }, room);
  }

  /** Sends to a room; resolves with the ack (its `seq` is the message's place in the room). */
  send(room: string, text: string): Promise<AckEvent> {
    return tooLarge(text) ?? this.#request('send', { op: 'send', room, text }, room);
  }

  dm(to: string, text: string): Promise<AckEvent> {
    return tooLarge(text) ?? this.#request('dm', { op: 'dm', to, text }, null);
  }

  who(room: string): Promise<WhoEvent> {
    return this.#request('who', { op: 'who', room }, room);
  }

  /** Round trip to the broker, ms. Only while open. */
  async ping(): Promise<number> {
    if (this.#state !== 'open') throw new HubbubClientError('disconnected', 'not connected');
    const start = Date.now();
    await this.#request('ping', { op: 'ping' }, null);
    return Date.now() - start;
  }

  /** Closes for good: every waiting op fails with `closed`. */
  close(): void {
    if (this.#state === 'closed') return;
    const socket = this.#socket;
    this.#generation++;
    this.#socket = null;
    socket?.close(CloseCode.normal, 'client closed');
    this.#shutdown(CloseCode.normal, 'client closed');
  }

  // --- connection ---

  #open(): void {
    this.#retryTimer = null;
    const gen = ++this.#generation;
    try {
      // The name the broker gave last time, and the secret that proves it was ours.
      const url = this.#user === '' ? this.url : chatUrl(this.#base, this.#token === undefined ? this.#user : this.#name, this.#token, this.#resume ?? undefined);
      this.#socket = this.#factory(url, {
        open: () => {}, // open means nothing until the broker's welcome
        message: (text) => {
          if (gen === this.#generation) this.#onFrame(text);
        },
        close: (code, reason) => {
          if (gen === this.#generation) this.#onClose(code, reason);
        },
      });
    } catch (err) {
      this.#onClose(1006, err instanceof Error ? err.message : String(err));
    }
  }

  #onWelcome(ev: WelcomeEvent): void {
    this.#user = ev.user;
    this.#session = ev.session;
    this.#resume = ev.resume ?? null;
    this.#attemptAtWelcome = this.#attempt;
    this.#welcomedAt = Date.now();
    this.#attempt = 0;
    this.#everOpen = true;
    this.#setState('open');
    this.#startPing();
    // Rejoins first: the broker handles one connection's ops in order, so queued sends land in joined rooms.
    for (const rec of this.#rooms.records()) if (rec.joinId === null) this.#sendJoin(rec);
    const queue = this.#queue;
    this.#queue = [];
    for (const p of queue) this.#write(p);
    this.emit('welcome', ev);
  }

  #onClose(code: number, reason: string): void {
    this.#socket = null;
    this.#stopPing();
    for (const p of this.#inFlight.drain()) this.#orphan(p);
    for (const rec of this.#rooms.records()) rec.joinId = null;
    // Replaced: a newer connection resumed this name; reconnecting would only take it back and forth.
    const refused = code === CloseCode.kicked || code === CloseCode.replaced || code === CloseCode.policy;
    const retry = this.#reconnect && !refused && (this.#everOpen || this.#retryFirst);
    this.emit('disconnect', { code, reason, willReconnect: retry });
    if (!retry) {
      this.#shutdown(code, reason);
      return;
    }
    // A broker that closes 1013 (overloaded, or this client fell behind its
    // output) soon after the welcome did not make the connection a success:
    // the backoff goes on growing, so a rejoin that is closed again every time
    // cannot turn into a reconnect loop.
    if (code === CloseCode.slowConsumer && Date.now() - this.#welcomedAt < this.#backoff.maxMs) {
      this.#attempt = Math.max(this.#attempt, this.#attemptAtWelcome);
    }
    const delayMs = backoffDelay(this.#attempt++, this.#backoff, this.#random);
    this.#setState('reconnecting', delayMs);
    this.#retryTimer = setTimeout(() => this.#open(), delayMs);
  }

  /** An op in flight when its connection dropped. */
  #orphan(p: Pending): void {
    switch (p.kind) {
      case 'join':
        return; // the room's waiters stay: the rejoin answers them
      case 'leave':
        // The next connection will not be in that room, which is what was asked.
        return p.resolve({ type: 'left', room: p.room } as never);
      case 'who':
        this.#queue.unshift(p); // harmless to ask again
        return;
      default:
        p.reject(new HubbubClientError('disconnected', `connection lost before "${p.kind}" was answered; it may or may not have been done`, p.id));
    }
  }

  #shutdown(code: number, reason: string): void {
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#stopPing();
    this.#setState('closed');
    const err = closedError();
    for (const p of this.#inFlight.drain()) if (p.kind !== 'join') p.reject(err); // joins: their rooms' waiters, below
    for (const p of this.#queue) p.reject(err);
    this.#queue = [];
    for (const rec of this.#rooms.records()) rec.rejectWaiters(err);
    this.emit('close', { code, reason });
  }

  #setState(state: ConnectionState, delayMs?: number): void {
    this.#state = state;
    this.emit('state', delayMs === undefined ? { state, attempt: this.#attempt } : { state, attempt: this.#attempt, delayMs });
  }

  /**
   * Liveness: a broker silent for one interval gets a ping; one that has not
   * answered it an interval later is dropped. The drop needs a ping sent and
   * unanswered, not only silence: a timer that ran late (a loaded process, a
   * browser throttling a background tab's timers to one a minute) would
   * otherwise find two intervals of silence at its first tick and drop a
   * healthy connection without ever asking.
   */
  #startPing(): void {
    this.#lastHeard = Date.now();
    this.#pingSentAt = 0;
    if (this.#pingIntervalMs <= 0) return;
    this.#pingTimer = setInterval(() => {
      const now = Date.now();
      if (now - this.#lastHeard < this.#pingIntervalMs) return;
      const unanswered = this.#pingSentAt > this.#lastHeard;
      if (!unanswered) {
        this.#pingSentAt = now;
        this.#socket?.send('{"op":"ping"}');
      } else if (now - this.#pingSentAt >= this.#pingIntervalMs) {
        const socket = this.#socket;
        this.#generation++;
        socket?.abandon();
        this.#onClose(1006, 'the broker stopped answering');
      }
    }, this.#pingIntervalMs);
  }

  #stopPing(): void {
    if (this.#pingTimer !== null) clearInterval(this.#pingTimer);
    this.#pingTimer = null;
  }

  // --- ops ---

  #request<T>(kind: OpKind, op: ClientOp, room: string | null): Promise<T> {
    if (this.#state === 'closed') return Promise.reject(closedError());
    return new Promise<T>((resolve, reject) => {
      const id = this.#nextId++;
      op.id = id;
      const p: Pending = { id, kind, op, room, resolve: resolve as (v: never) => void, reject, timer: null };
      if (this.#state === 'open') this.#write(p);
      else if (kind === 'ping') reject(new HubbubClientError('disconnected', 'not connected'));
      else if (this.#queue.length >= this.#maxQueue) {
        reject(new HubbubClientError('queue_full', `${this.#maxQueue} ops are already waiting for a connection`, id));
      } else this.#queue.push(p);
    });
  }

  #sendJoin(rec: RoomRecord): void {
    const id = this.#nextId++;
    const op: ClientOp = rec.lastSeq == null ? { op: 'join', room: rec.name, id } : { op: 'join', room: rec.name, id, since: rec.lastSeq };
    rec.joinId = id;
    const settle = (): void => {};
    this.#write({ id, kind: 'join', op, room: rec.name, resolve: settle, reject: settle, timer: null });
  }

  #write(p: Pending): void {
    this.#inFlight.add(p);
    this.#socket!.send(JSON.stringify(p.op));
  }

  #timedOut(p: Pending): void {
    const err = new HubbubClientError('timeout', `no answer to "${p.kind}" within ${this.#inFlight.timeoutMs} ms`, p.id);
    if (p.kind === 'join') {
      const rec = this.#rooms.get(p.room!);
      if (rec?.joinId === p.id) rec.joinId = null;
      rec?.rejectWaiters(err);
    } else p.reject(err);
  }

  // --- incoming ---

  #onFrame(text: string): void {
    this.#lastHeard = Date.now();
    const ev = parseServerEvent(text);
    if (ev === null) return;
    this.#dispatch(ev);
  }

  #dispatch(ev: ServerEvent): void {
    switch (ev.type) {
      case 'welcome':
        return this.#onWelcome(ev);
      case 'message':
        if (this.#rooms.seen(ev)) return; // a replay of what was already shown
        return this.emit('message', ev);
      case 'joined': {
        const rec = this.#rooms.get(ev.room);
        if (rec !== undefined) {
          // A first join's seq: a rejoin before any message came resumes from it, not from nothing.
          if (rec.lastSeq === null && typeof ev.seq === 'number') rec.lastSeq = ev.seq;
          if (rec.joinId !== null) this.#inFlight.take(rec.joinId);
          rec.joinId = null;
          rec.resolveWaiters(ev);
        }
        return this.emit('joined', ev);
      }
      case 'left':
        this.#inFlight.takeByRoom('leave', ev.room, ev.id)?.resolve(ev as never);
        return this.emit('left', ev);
      case 'who':
        this.#inFlight.takeByRoom('who', ev.room, ev.id)?.resolve(ev as never);
        return this.emit('who', ev);
      case 'presence':
        return this.emit('presence', ev);
      case 'dm':
        return this.emit('dm', ev);
      case 'ack':
      case 'pong': {
        // A join is answered by `joined` (which has the member list), even where a broker also acks it.
        if (this.#inFlight.get(ev.id)?.kind === 'join') return;
        this.#inFlight.take(ev.id)?.resolve(ev as never);
        return;
      }
      case 'error':
        return this.#onError(ev.code, ev.message, ev.ref);
    }
  }

  #onError(code: ErrorCode, message: string, ref: OpId | undefined): void {
    const err = new HubbubClientError(code, message, ref);
    const p = this.#inFlight.take(ref);
    if (p === undefined) {
      this.emit('error', err);
      return;
    }
    if (p.kind !== 'join') {
      p.reject(err);
      return;
    }
    // The broker refused the join: the room is not ours, now or after a reconnect.
    const rec = this.#rooms.remove(p.room!);
    if (rec === undefined || rec.waiters.length === 0) this.emit('error', err);
    else rec.rejectWaiters(err);
  }
}

function closedError(): HubbubClientError {
  return new HubbubClientError('closed', 'client is closed');
}

/** A text the broker would refuse, refused here before it is queued or sent (same code and words as the broker's). */
function tooLarge(text: string): Promise<never> | null {
  if (text.length <= MAX_TEXT_LENGTH) return null;
  return Promise.reject(new HubbubClientError('too_large', textTooLargeMessage(text.length)));
}
