// Actor: the G of Hubbub's G-M-P. An id, a bounded mailbox, a behaviour
// (`handle`), a status and counters. Actors never call each other: they send
// messages through the scheduler, which owns when they run.
//
// Status moves only as the scheduler says (see scheduler.ts):
//   idle --send--> runnable --picked--> running --mailbox empty--> idle
//                                             \--budget spent--> runnable
//   any --stop/failure--> dead
// The runnable status is the "already queued" bit: an actor is in at most one
// queue slot at a time, however many messages it is sent.
import { DEFAULT_ACTOR_BUDGET } from '../constants.js';
import { Mailbox } from './mailbox.js';

export type ActorStatus = 'idle' | 'runnable' | 'running' | 'dead';

/** What the debug channel and logs call each kind of actor. */
export type ActorKind = 'connection' | 'supervisor' | 'system';

// Times are kept as ms since this module loaded: small integers that V8 stores
// in the object itself, where a Date.now() value would be a separate boxed
// number per field per actor (16 bytes each, times 100k idle connections).
const EPOCH = Date.now();

/** ms since EPOCH as an int32 (a Smi) while it fits (24 days), then as a plain number. */
function sinceEpoch(ms: number): number {
  const rel = ms - EPOCH;
  return rel < 0x3fffffff ? rel | 0 : rel;
}

export abstract class Actor<M = unknown> {
  /** A prototype getter in subclasses, not a field: one less slot per actor. */
  abstract readonly kind: ActorKind;
  /**
   * Messages handled per turn before the actor goes back to the tail of the
   * run queue. Declared here, defaulted on the prototype (below); an actor that
   * needs another budget assigns its own.
   */
  declare budget: number;
  /**
   * Whether its turn also ends when the slice's time budget is spent (see
   * Scheduler#runTurn); on the prototype, false: an actor with a small budget
   * needs no clock read per message.
   */
  declare timeSliced: boolean;
  status: ActorStatus = 'idle';
  readonly mailbox: Mailbox<M>;
  /** Messages handled over the actor's life. */
  handled = 0;
  /** Turns the scheduler gave it. */
  turns = 0;
  /** Turns that ended because the message budget ran out. */
  budgetYields = 0;
  /** Messages refused because the mailbox was full. */
  dropped = 0;
  #createdAt = sinceEpoch(Date.now());
  #lastRunAt = -1;

  /** Date.now() when it was created. */
  get createdAt(): number {
    return EPOCH + this.#createdAt;
  }

  /** Date.now() of its last turn; 0 before the first. */
  get lastRunAt(): number {
    return this.#lastRunAt < 0 ? 0 : EPOCH + this.#lastRunAt;
  }

  set lastRunAt(ms: number) {
    this.#lastRunAt = sinceEpoch(ms);
  }

  /** A getter, not a status test, so a handler's call may change it under TypeScript's narrowing. */
  get dead(): boolean {
    return this.status === 'dead';
  }

  constructor(
    readonly id: string,
    mailboxCapacity?: number,
  ) {
    this.mailbox = new Mailbox<M>(mailboxCapacity);
  }

  /**
   * The behaviour: handles one message. Called only by the scheduler, while the
   * actor is `running`. A throw ends the actor (the scheduler's error boundary
   * hands it to the supervisor); it never reaches the loop.
   */
  abstract handle(msg: M): void;

  /**
   * Called once when the actor becomes dead, by the scheduler (after a failure)
   * or by `Scheduler.stop`. Release what the actor holds here.
   */
  onStop(_reason: StopReason): void {}
}

Actor.prototype.budget = DEFAULT_ACTOR_BUDGET;
Actor.prototype.timeSliced = false;

export type StopReason =
  | { kind: 'normal' }
  | { kind: 'failed'; error: unknown };
