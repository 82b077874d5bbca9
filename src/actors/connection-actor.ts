// ConnectionActor: one WebSocket connection as an actor.
//
// Its mailbox holds the client's text frames (their bytes as ws gave them: no
// wrapper object per frame, and decoded only when the actor's turn comes, so
// that the work a frame costs is done inside a slice, under the scheduler's
// budgets, not in the socket's read callback) and a few control messages. Its lifecycle is the xstate
// machine of connection-machine.ts; the data path (a frame in, an op out to the
// supervisor) only reads the current state. Output never passes through the
// mailbox: the supervisor encodes an event once and hands the same bytes to
// every recipient's Peer, which the transport flushes at the end of the slice.
//
// It owns input backpressure: the transport hands it each frame (`offer`) and
// it decides whether the frame goes in, when the socket stops being read and
// when reading resumes. The Peer says how its client's frames read as ops
// (the JSON protocol, or the text gateway's plain text).
import type { RoomRules } from './room-access.js';
import { CLOSE_INTERNAL_ERROR, CLOSE_POLICY_VIOLATION, FRAMES_PER_READ_MAX, INPUT_PAUSE_BYTES } from '../constants.js';
import type { OutFrame } from '../protocol/out-frame.js';
import { encode, encodeError, isFault, type ClientOp, type ProtocolFault, type ServerEvent } from '../protocol/protocol.js';
import { Actor, type StopReason } from './actor.js';
import {
  INITIAL_CONNECTION_SNAPSHOT, stepConnection,
  type ConnectionEvent, type ConnectionSnapshot, type ConnectionState,
} from './connection-machine.js';
import type { Metered, RateLimit } from './rate-limit.js';
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
  /** One client frame, its UTF-8 bytes as queued, read as the op it stands for (or what is wrong with it). */
  readOp(frame: Buffer): ClientOp | ProtocolFault;
}

/** Shared by every connection of a broker: one object, not a closure per connection. */
export interface ConnectionEnv {
  scheduler: Scheduler;
  supervisor: Actor<SupervisorMsg>;
  /** Told of every lifecycle transition. One slot, owned by the debug channel (like Scheduler.observe). */
  onTransition: ((actor: ConnectionActor, from: ConnectionState, event: ConnectionEvent) => void) | null;
  /** The per-connection frame rate limit; null: none. */
  rateLimit?: RateLimit | null;
}

export type ConnectionControl =
  /** `resume`: the secret for the welcome (presence-grace.ts); none for a token's user. */
  | { type: 'registered'; user: string; resume?: string }
  | { type: 'close'; code: number; reason: string }
  | { type: 'socket-closed'; code: number; reason: string }
  /**
   * What held this connection's frames is over: the rate limit's tokens are
   * back, or the supervisor has worked through its full mailbox.
   */
  | { type: 'release' };

/** A Buffer is a client's text frame (UTF-8, checked by ws); anything else is control. */
export type ConnectionMsg = Buffer | ConnectionControl;

/** Sent by a throttled connection's timer and by the supervisor; one object for all of them. */
export const RELEASE: ConnectionControl = { type: 'release' };

/** The throttle timer's callback: one function for every connection, no closure each. */
function tokensDue(actor: ConnectionActor): void {
  actor.env.scheduler.send(actor, RELEASE, true);
}

/** The hold while the supervisor's mailbox is full (a timer handle is the rate limit's). */
const SUPERVISOR_FULL = 'supervisor-full';

export class ConnectionActor extends Actor<ConnectionMsg> implements Metered {
  get kind(): 'connection' {
    return 'connection';
  }

  /** The rate limit's token bucket (rate-limit.ts): two small integers, no object. */
  rlTokens = 0;
  rlAt = 0;
  /** The name the supervisor gave it; '' until registered. */
  user = '';
  /**
   * True when requestedName is a verified JWT sub: the connection is that user
   * (one of its tabs), never a generated alternative.
   */
  verified = false;
  /** The display name beside the user id (a token's name claim); null: the user id is all there is. */
  displayName: string | null = null;
  /**
   * The resume secret the client presented (`?resume=`), read once when it registers and
   * then cleared; then the secret its welcome carries, until the welcome is written. Never
   * shown by the debug channel.
   */
  resume: string | null = null;
  /**
   * Whether its client can see a welcome, and so come back with its secret; false for the
   * plain-text gateway, whose drops are leaves at once (nothing to hold them for).
   */
  resumable = true;
  /** What this connection may read and write (its token's rooms claim); null: the broker's room policy. */
  rooms: RoomRules | null = null;
  snapshot: ConnectionSnapshot = INITIAL_CONNECTION_SNAPSHOT;
  /**
   * Frames held, in arrival order: those that came before registration
   * (replayed once open), and those the rate limit had no token for.
   */
  #pending: Buffer[] | null = null;
  /** Bytes of the client frames in the mailbox: reading stops past INPUT_PAUSE_BYTES. */
  #queuedBytes = 0;
  /**
   * Why frames are held, until a RELEASE says it is over: the rate limit's
   * timer that brings the tokens back, or SUPERVISOR_FULL. Reading stays
   * paused meanwhile.
   */
  #hold: NodeJS.Timeout | typeof SUPERVISOR_FULL | null = null;
  #readingPaused = false;
  #unregistered = false;

  constructor(
    id: string,
    readonly peer: Peer,
    readonly env: ConnectionEnv,
    /** The user asked for: the URL's name (null: none or unusable), or a verified token's sub. */
    readonly requestedName: string | null,
    mailboxCapacity?: number,
  ) {
    super(id, mailboxCapacity);
    env.rateLimit?.fill(this);
  }

  /** Remote address, for logs and the debug channel (asked of the socket, not stored). */
  get remote(): string {
    return this.peer.remote;
  }

  get state(): ConnectionState {
    return this.snapshot.value as ConnectionState;
  }

  handle(msg: ConnectionMsg): void {
    if (msg instanceof Uint8Array) {
      this.#queuedBytes -= msg.length;
      this.#onFrame(msg);
      return;
    }
    switch (msg.type) {
      case 'registered':
        this.user = msg.user;
        this.resume = msg.resume ?? null;
        this.#step({ type: 'REGISTERED' });
        break;
      case 'close':
        this.#step({ type: 'CLOSE', code: msg.code, reason: msg.reason });
        break;
      case 'socket-closed':
        this.#step({ type: 'SOCKET_CLOSED', code: msg.code, reason: msg.reason });
        break;
      case 'release':
        this.#hold = null;
        if (this.state === 'open') this.#release();
        this.#resumeIfDrained();
        break;
    }
  }

  /**
   * For the debug channel: whether the socket is read, how many frames are
   * held, and what holds them (the rate limit, the supervisor's full mailbox,
   * or the welcome not yet given).
   */
  get input(): { reading: boolean; held: number; heldBy: 'rate-limit' | 'supervisor' | 'welcome' | null } {
    const hold = this.#hold;
    const held = this.#pending?.length ?? 0;
    const heldBy = hold === SUPERVISOR_FULL ? 'supervisor' : hold !== null ? 'rate-limit' : held > 0 ? 'welcome' : null;
    return { reading: !this.#readingPaused, held, heldBy };
  }

  /**
   * A client frame, from the transport. It goes in the mailbox; past half the
   * mailbox the socket stops being read until the actor has drained it. A
   * frame that finds the mailbox full is refused `overloaded`, except while
   * reading is paused: the rest of the TCP chunk ws is still parsing then goes
   * in past the capacity (a chunk holds a bounded number), so a burst is
   * delayed, never cut. `socketPaused` is the socket's own state, which
   * shutdown may have paused too. Reading stops as well once the frames
   * waiting hold INPUT_PAUSE_BYTES: half a mailbox of the biggest frames
   * would be tens of megabytes per connection.
   */
  offer(frame: Buffer, socketPaused: boolean): void {
    const mailbox = this.mailbox;
    const overshoot = socketPaused && mailbox.size < mailbox.capacity + FRAMES_PER_READ_MAX;
    if (this.env.scheduler.send(this, frame, overshoot)) this.#queuedBytes += frame.length;
    else this.peer.deliver(encodeError('overloaded', 'too many frames waiting; this one was dropped'));
    if (mailbox.size * 2 >= mailbox.capacity || this.#queuedBytes >= INPUT_PAUSE_BYTES) this.#pauseReading();
  }

  #pauseReading(): void {
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

  /** Out of the registry already: its ops still in the supervisor's mailbox have no session to act for. */
  get unregistered(): boolean {
    return this.#unregistered;
  }

  /** After a failure the supervisor stops it: the socket closes with 1011. */
  override onStop(reason: StopReason): void {
    this.#drop();
    if (reason.kind === 'failed') {
      this.#step({ type: 'FAILED', code: CLOSE_INTERNAL_ERROR, reason: 'internal error' });
      this.peer.closeAfterFlush(CLOSE_INTERNAL_ERROR, 'internal error');
    }
  }

  #onFrame(frame: Buffer): void {
    const state = this.state;
    if (state === 'connecting') {
      this.#park(frame);
    } else if (state === 'open') {
      const limit = this.env.rateLimit;
      if (this.#hold !== null) {
        // Behind frames already held: order is kept.
        (this.#pending ??= []).push(frame);
        if (limit != null && this.#hold !== SUPERVISOR_FULL) limit.held++;
      } else if (limit == null || limit.takeFrame(this, frame.length)) {
        this.#dispatch(frame);
      } else {
        this.#pending = [frame];
        limit.held++;
        limit.pauses++;
        this.#arm();
      }
    }
    // closing or closed: the client is going away; its last frames have no one to answer.
    this.#resumeIfDrained();
  }

  /** Holds a frame until registration; a client that floods before it is even welcomed is closed. */
  #park(frame: Buffer): void {
    const pending = (this.#pending ??= []);
    if (pending.length >= this.mailbox.capacity) {
      this.#step({ type: 'CLOSE', code: CLOSE_POLICY_VIOLATION, reason: 'too many frames before the welcome' });
      return;
    }
    pending.push(frame);
  }

  /**
   * Dispatches held frames while the rate limit has tokens for them and the
   * supervisor takes them; when either says stop, the rest wait for a RELEASE.
   * The socket is not read meanwhile: what the client sends on waits in TCP,
   * so what is held stays below what the mailbox let in.
   */
  #release(): void {
    const pending = this.#pending;
    if (pending === null) return;
    const limit = this.env.rateLimit;
    let i = 0;
    while (i < pending.length && this.#hold === null && this.state === 'open' && (limit == null || limit.takeFrame(this, pending[i].length))) {
      this.#dispatch(pending[i++]);
    }
    if (this.state !== 'open') return; // a dispatch closed it; #enter dropped what was held
    if (i === pending.length) this.#pending = null;
    else {
      pending.splice(0, i);
      if (this.#hold === null) this.#arm();
    }
  }

  /** Stops reading and sets the timer for the tokens a turn's worth of held frames needs. */
  #arm(): void {
    this.#pauseReading();
    const wait = this.env.rateLimit!.msUntil(this, Math.min(this.#pending!.length, this.budget));
    this.#hold = setTimeout(tokensDue, wait, this);
  }

  #resumeIfDrained(): void {
    if (this.#readingPaused && this.mailbox.size === 0 && this.#hold === null) {
      this.#readingPaused = false;
      this.peer.resumeReading();
    }
  }

  /** What was held has no one to answer any more. */
  #drop(): void {
    this.#pending = null;
    if (this.#hold !== null && this.#hold !== SUPERVISOR_FULL) clearTimeout(this.#hold);
    this.#hold = null;
  }

  #dispatch(frame: Buffer): void {
    // Its decoding and parsing are work of this slice: past the slice's share the event loop gets its turn.
    this.env.scheduler.addWork(frame.length);
    const op = this.peer.readOp(frame);
    if (isFault(op)) {
      this.peer.deliver(encodeError(op.fault, op.message, op.ref));
    } else if (op.op === 'ping') {
      this.peer.deliver(encode(op.id === undefined ? { type: 'pong' } : { type: 'pong', id: op.id }));
    } else {
      // An op is never refused. When the supervisor's mailbox is full the op
      // goes in anyway, and so does a note asking to be told once the
      // supervisor has reached it (Go's channel send queue, in mailbox order):
      // until then this connection holds its frames and is not read. Each
      // waiting connection adds two messages past the capacity, no more.
      const { scheduler, supervisor } = this.env;
      const full = supervisor.mailbox.size >= supervisor.mailbox.capacity;
      scheduler.send(supervisor, { type: 'op', from: this, op }, true);
      // An op whose cost the supervisor charges to this connection once it
      // knows it (presence fan-out, reply bytes: see Supervisor#charge): the
      // turn ends here so that the supervisor runs, and the charge is in the
      // bucket, before this connection's next frame is looked at. Without it a
      // client's pipelined burst of expensive ops all passed in one turn, each
      // a charge too late to hold back the next.
      if (op.op !== 'send' && op.op !== 'dm') scheduler.yieldTurn();
      if (full) {
        scheduler.send(supervisor, { type: 'notify', actor: this }, true);
        this.#hold = SUPERVISOR_FULL;
        this.#pauseReading();
      }
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
      case 'open':
        this.peer.deliver(encode(this.#welcome()));
        this.resume = null;
        this.#release(); // what came before the welcome, as tokens allow
        break;
      case 'closing':
        this.#drop();
        this.#unregister();
        if (event.type === 'CLOSE') this.peer.closeAfterFlush(event.code, event.reason);
        break;
      case 'closed':
        this.#drop();
        this.#unregister();
        this.env.scheduler.stop(this);
        break;
    }
  }

  #welcome(): Extract<ServerEvent, { type: 'welcome' }> {
    const welcome: Extract<ServerEvent, { type: 'welcome' }> = { type: 'welcome', session: this.id, user: this.user };
    if (this.displayName !== null) welcome.name = this.displayName;
    if (this.resume !== null) welcome.resume = this.resume;
    // Told in the welcome, not left for the client to notice: the name asked for was taken.
    if (!this.verified && this.requestedName !== null && this.requestedName !== this.user) welcome.asked = this.requestedName;
    return welcome;
  }

  #unregister(): void {
    if (this.#unregistered) return;
    this.#unregistered = true;
    // force: an unregister must never be lost to a full mailbox, or the registry leaks.
    this.env.scheduler.send(this.env.supervisor, { type: 'unregister', actor: this }, true);
  }
}
