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

export abstract class Actor<M = unknown> {
  abstract readonly kind: ActorKind;
  /** Messages handled per turn before the actor goes back to the tail of the run queue. */
  budget = DEFAULT_ACTOR_BUDGET;
  status: ActorStatus = 'idle';
  readonly mailbox: Mailbox<M>;
  /** Messages handled over the actor's life. */
  handled = 0;
  /** Turns the scheduler gave it. */
  turns = 0;
  /** Date.now() of its last turn; 0 before the first. */
  lastRunAt = 0;
  /** Turns that ended because the message budget ran out. */
  budgetYields = 0;
  /** Messages refused because the mailbox was full. */
  dropped = 0;
  readonly createdAt = Date.now();

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

export type StopReason =
  | { kind: 'normal' }
  | { kind: 'failed'; error: unknown };
