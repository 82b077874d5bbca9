// ConnectionActor: one WebSocket connection as an actor.
//
// Its mailbox holds the client's text frames (as plain strings: no wrapper
// object per frame) and a few control messages. Its lifecycle is the xstate
// machine of connection-machine.ts; the data path (a frame in, an op out to the
// supervisor) only reads the current state. Output never passes through the
// mailbox: the supervisor encodes an event once and hands the same bytes to
// every recipient's Peer, which the transport flushes at the end of the slice.
import { CLOSE_INTERNAL_ERROR } from '../constants.js';
import type { OutFrame } from '../transport/out-frame.js';
import { encode, encodeError, isFault, parseClientOp } from '../transport/protocol.js';
import { Actor, type StopReason } from './actor.js';
import {
  INITIAL_CONNECTION_SNAPSHOT, stepConnection,
  type ConnectionEvent, type ConnectionSnapshot, type ConnectionState,
} from './connection-machine.js';
import type { Scheduler } from './scheduler.js';
import type { SupervisorMsg } from './supervisor-messages.js';

/** What an actor may do with its socket, implemented by the transport. */
export interface Peer {
  /** Queues an encoded event (shared by every recipient); written when the slice ends. */
  deliver(frame: OutFrame): void;
  /** Flushes what is queued, then closes with this code and reason. */
  closeAfterFlush(code: number, reason: string): void;
  /** Backpressure on input: stop and restart reading the socket. */
  pauseReading(): void;
  resumeReading(): void;
  /** The remote address, as "ip:port"; computed when asked (logs, debug), never stored. */
  readonly remote: string;
}

/** Shared by every connection of a broker: one object, not a closure per connection. */
export interface ConnectionEnv {
  scheduler: Scheduler;
  supervisor: Actor<SupervisorMsg>;
  /** Told of every lifecycle transition (the debug channel listens here). */
  onTransition: ((actor: ConnectionActor, from: ConnectionState, event: ConnectionEvent) => void) | null;
}

export type ConnectionControl =
  | { type: 'registered'; user: string }
  | { type: 'close'; code: number; reason: string }
  | { type: 'socket-closed'; code: number; reason: string };

/** A string is a client's text frame; anything else is control. */
export type ConnectionMsg = string | ConnectionControl;

export class ConnectionActor extends Actor<ConnectionMsg> {
  get kind(): 'connection' {
    return 'connection';
  }

  /** The name the supervisor gave it; '' until registered. */
  user = '';
  snapshot: ConnectionSnapshot = INITIAL_CONNECTION_SNAPSHOT;
  /** Frames that arrived before registration, replayed once open. */
  #pending: string[] | null = null;
  #readingPaused = false;
  #unregistered = false;

  constructor(
    id: string,
    readonly peer: Peer,
    readonly env: ConnectionEnv,
    /** The name asked for in the URL (null: none or unusable). */
    readonly requestedName: string | null,
    mailboxCapacity?: number,
  ) {
    super(id, mailboxCapacity);
  }

  /** Remote address, for logs and the debug channel (asked of the socket, not stored). */
  get remote(): string {
    return this.peer.remote;
  }

  get state(): ConnectionState {
    return this.snapshot.value as ConnectionState;
  }

  handle(msg: ConnectionMsg): void {
    if (typeof msg === 'string') {
      this.#onFrame(msg);
      return;
    }
    switch (msg.type) {
      case 'registered':
        this.user = msg.user;
        this.#step({ type: 'REGISTERED' });
        break;
      case 'close':
        this.#step({ type: 'CLOSE', code: msg.code, reason: msg.reason });
        break;
      case 'socket-closed':
        this.#step({ type: 'SOCKET_CLOSED', code: msg.code, reason: msg.reason });
        break;
    }
  }

  /** Transport calls this after queuing a frame; the actor resumes reading once drained. */
  readingPaused(): void {
    if (this.#readingPaused) return;
    this.#readingPaused = true;
    this.peer.pauseReading();
  }

  /**
   * The supervisor removed it from the registry already (after a failure).
   * Called by the supervisor only.
   */
  markUnregistered(): void {
    this.#unregistered = true;
  }

  /** After a failure the supervisor stops it: the socket closes with 1011. */
  override onStop(reason: StopReason): void {
    this.#pending = null;
    if (reason.kind === 'failed') {
      this.#step({ type: 'FAILED', code: CLOSE_INTERNAL_ERROR, reason: 'internal error' });
      this.peer.closeAfterFlush(CLOSE_INTERNAL_ERROR, 'internal error');
    }
  }

  #onFrame(text: string): void {
    const state = this.state;
    if (state === 'open') this.#dispatch(text);
    else if (state === 'connecting') (this.#pending ??= []).push(text);
    // closing or closed: the client is going away; its last frames have no one to answer.
    if (this.#readingPaused && this.mailbox.size === 0) {
      this.#readingPaused = false;
      this.peer.resumeReading();
    }
  }

  #dispatch(text: string): void {
    const op = parseClientOp(text);
    if (isFault(op)) {
      this.peer.deliver(encodeError(op.fault, op.message, op.ref));
    } else if (op.op === 'ping') {
      this.peer.deliver(encode(op.id === undefined ? { type: 'pong' } : { type: 'pong', id: op.id }));
    } else if (!this.env.scheduler.send(this.env.supervisor, { type: 'op', from: this, op })) {
      this.peer.deliver(encodeError('overloaded', 'the broker is overloaded; try again', op.id));
    }
  }

  #step(event: ConnectionEvent): void {
    const from = this.state;
    const next = stepConnection(this.snapshot, event);
    if (next === this.snapshot) return;
    this.snapshot = next;
    this.env.onTransition?.(this, from, event);
    this.#enter(this.state, event);
  }

  /** The effects of entering a state; the machine itself stays pure. */
  #enter(state: ConnectionState, event: ConnectionEvent): void {
    switch (state) {
      case 'open': {
        this.peer.deliver(encode({ type: 'welcome', session: this.id, user: this.user }));
        const pending = this.#pending;
        this.#pending = null;
        if (pending !== null) for (const text of pending) this.#dispatch(text);
        break;
      }
      case 'closing':
        this.#unregister();
        if (event.type === 'CLOSE') this.peer.closeAfterFlush(event.code, event.reason);
        break;
      case 'closed':
        this.#unregister();
        this.env.scheduler.stop(this);
        break;
    }
  }

  #unregister(): void {
    if (this.#unregistered) return;
    this.#unregistered = true;
    // force: an unregister must never be lost to a full mailbox, or the registry leaks.
    this.env.scheduler.send(this.env.supervisor, { type: 'unregister', actor: this }, true);
  }
}
