// Scheduler: the P of Hubbub's G-M-P, a cooperative run loop for actors.
//
// Design, in the manner of Go's runtime/proc.go
// ---------------------------------------------
// Go multiplexes goroutines (G) onto OS threads (M) through processors (P): a
// P owns a local run queue of runnable Gs and an M runs whatever its P picks.
// Hubbub keeps the model and the names and drops what JavaScript cannot have:
//
//   G  goroutine          -> Actor: id, bounded mailbox, behaviour, status, counters
//   M  OS thread          -> the process's one JavaScript thread; `--workers N`
//                            starts N processes, each one M bound to one P
//   P  processor          -> this Scheduler: local ring, runnext, global queue
//   netpoller (epoll)     -> libuv: a readable socket becomes a message in an
//                            actor's mailbox (Scheduler.send from outside a slice)
//   sysmon                -> the watchdog counters (overruns, slow handlers)
//
// Glossary, Go name -> ours:
//   runqput(pp, gp, next=true)  -> Scheduler.send from a running actor: the woken
//                                  actor takes `runnext`; the old runnext goes
//                                  to the tail of the ring
//   runqput(pp, gp, next=false) -> #runqPut: tail of the ring
//   runqputslow                 -> #runqPutSlow: the ring is full, so half of it
//                                  plus the newcomer move to the global queue
//   globrunqput / injectglist   -> #globalQueue.put: actors woken by I/O come in
//                                  through this one door
//   globrunqget                 -> #globalGet: takes a batch into the ring
//   schedule / findRunnable     -> #findRunnable
//   execute + gopreempt_m       -> #runTurn: at most `budget` messages, then the
//                                  actor goes back to the tail of the ring
//   forcePreemptNS (10 ms)      -> sliceBudgetMs: after it the slice yields to
//                                  the event loop with setImmediate
//   (BEAM's reductions)         -> sliceWorkBytes: costly work counted in bytes
//                                  (addWork); past it the slice yields too
//
// Invariants (each broken one throws InvariantError naming the function):
//   - An actor is in at most one queue slot (runnext, ring or global queue).
//     Its `runnable` status is that membership bit: only the idle -> runnable
//     edge enqueues, so a thousand sends to one actor enqueue it once.
//   - Only the scheduler changes an actor's status, except to `dead`.
//   - A dead actor may still sit in a queue; it is skipped when taken.
//
// Why these choices:
//   - runnext: an actor woken by the running one runs next, so a request/reply
//     pair (connection -> supervisor -> connection) completes within one slice
//     instead of going around the whole queue. As in Go, the chain inherits one
//     time slice: after RUNNEXT_STREAK_MAX turns in a row from runnext, the
//     runnext actor goes to the tail of the ring and the ring's head runs, or
//     a ping-pong pair would starve everyone else.
//   - Every 61st tick takes from the global queue first: two actors that wake
//     each other could otherwise keep the ring busy forever and starve I/O.
//   - A slice runs from setImmediate: libuv's poll phase delivers every frame
//     that is readable now, each becomes a mailbox message, and the check phase
//     then runs one slice over all of them. That is what makes writes coalesce:
//     slice-end hooks flush each socket's output once.
//   - Rejected: work stealing (a socket lives in one process; there is no other
//     P in this process to steal from) and preemption of a running handler
//     (JavaScript cannot); fairness is cooperative, by message budget.
import {
  GLOBAL_QUEUE_CHECK_TICKS, OVERRUN_MS, RUN_QUEUE_SIZE, RUNNEXT_STREAK_MAX, SLICE_BUDGET_MS, SLICE_WORK_BYTES, SLOW_HANDLER_MS,
} from '../constants.js';
import { HubbubError, InvariantError } from '../protocol/errors.js';
import type { Actor, StopReason } from './actor.js';
import { Ring } from './ring.js';

// biome-ignore lint/suspicious/noExplicitAny: the scheduler moves actors of every message type; it never reads a message
type AnyActor = Actor<any>;

export interface SchedulerOptions {
  /** Time budget of one slice, ms. */
  sliceBudgetMs?: number;
  /** Costly work (addWork) one slice may do before it yields, bytes. */
  sliceWorkBytes?: number;
  /** A slice longer than this is an overrun, ms. */
  overrunMs?: number;
  /** A handler turn longer than this is a slow handler, ms. */
  slowHandlerMs?: number;
  /** Monotonic clock in ms; injected so tests need no sleeping. */
  now?: () => number;
  /** How the scheduler asks the event loop for the next slice; setImmediate by default. */
  defer?: (fn: () => void) => void;
  /**
   * Fault injection, for tests only: the probability that a handler call of a
   * connection actor throws instead of running (0, the default, never). The
   * supervisor is spared: it is the registry's one writer and has its own
   * boundary inside its handler; a throw reaching ours would stop it.
   */
  faultRate?: number;
  /** Random numbers in [0, 1) for fault injection; Math.random by default. */
  random?: () => number;
}

/** The error fault injection throws. */
export class InjectedFault extends HubbubError<'injected_fault'> {
  override name = 'InjectedFault';
  constructor(message: string) {
    super('injected_fault', message);
  }
}

export interface SchedulerStats {
  runQueue: number;
  globalQueue: number;
  runnext: boolean;
  ticks: number;
  slices: number;
  /** Turns that ended with messages left: the actor spent its message budget or called yieldTurn. */
  budgetYields: number;
  /** Slices that ended because the time budget ran out with work left. */
  sliceYields: number;
  /** Slices that ended because their costly work (addWork) passed sliceWorkBytes with work left. */
  workYields: number;
  /** Slices longer than overrunMs. */
  overruns: number;
  maxSliceMs: number;
  lastSliceMs: number;
  /** Handler turns longer than slowHandlerMs, and the last actor that had one. */
  slowHandlers: number;
  lastSlowActor: string | null;
  messages: number;
  dropped: number;
  failures: number;
  /** Handler calls failed on purpose (faultRate). */
  faultsInjected: number;
}

/**
 * Called when an actor's handler throws. The actor is already dead and its
 * mailbox dropped; the handler must see that its onStop runs.
 */
export type FailureHandler = (actor: AnyActor, error: unknown) => void;

/**
 * The one door through which all actor traffic can be watched (xstate's
 * inspection relay): the debug channel plugs in here. Each callback runs
 * synchronously on the scheduler's thread and must be cheap.
 */
export interface ActorObserver {
  spawned?(actor: AnyActor): void;
  /** Before the actor's handler sees msg. */
  handled?(actor: AnyActor, msg: unknown): void;
  stopped?(actor: AnyActor, reason: StopReason): void;
}

export class Scheduler {
  readonly #runq = new Ring<AnyActor>(RUN_QUEUE_SIZE);
  #runnext: AnyActor | null = null;
  /** Turns in a row taken from runnext: the "inherited time slice" of a wake-up chain. */
  #runnextStreak = 0;
  readonly #globalQueue = new Ring<AnyActor>(Infinity);
  #current: AnyActor | null = null;
  /** The running actor asked to end its turn after the message it is handling (yieldTurn). */
  #yieldAsked = false;
  #scheduled = false;
  #failureHandler: FailureHandler | null = null;
  #observer: ActorObserver | null = null;
  #live = 0;
  readonly #sliceEndHooks: (() => void)[] = [];
  readonly #sliceBudgetMs: number;
  readonly #sliceWorkBytes: number;
  /** Costly work done in this slice so far (addWork), bytes. */
  #sliceWork = 0;
  readonly #overrunMs: number;
  readonly #slowHandlerMs: number;
  readonly #now: () => number;
  readonly #defer: (fn: () => void) => void;
  readonly #faultRate: number;
  readonly #random: () => number;
  #sliceObserver: ((ms: number) => void) | null = null;
  readonly #runSlice = (): void => this.runSlice();
  readonly #stats: SchedulerStats = {
    runQueue: 0, globalQueue: 0, runnext: false, ticks: 0, slices: 0, budgetYields: 0,
    sliceYields: 0, workYields: 0, overruns: 0, maxSliceMs: 0, lastSliceMs: 0, slowHandlers: 0,
    lastSlowActor: null, messages: 0, dropped: 0, failures: 0, faultsInjected: 0,
  };

  constructor(options: SchedulerOptions = {}) {
    this.#sliceBudgetMs = options.sliceBudgetMs ?? SLICE_BUDGET_MS;
    this.#sliceWorkBytes = options.sliceWorkBytes ?? SLICE_WORK_BYTES;
    this.#overrunMs = options.overrunMs ?? OVERRUN_MS;
    this.#slowHandlerMs = options.slowHandlerMs ?? SLOW_HANDLER_MS;
    this.#now = options.now ?? (() => performance.now());
    this.#defer = options.defer ?? setImmediate;
    this.#faultRate = options.faultRate ?? 0;
    this.#random = options.random ?? Math.random;
  }

  /** Who is told when a handler throws (the supervisor). One handler per scheduler. */
  onFailure(handler: FailureHandler): void {
    this.#failureHandler = handler;
  }

  /**
   * Sets (or with null clears) THE observer of all actor traffic: one slot,
   * held by the debug channel, so the data path pays one null check. A second
   * observer would silently blind the first; it throws instead.
   */
  observe(observer: ActorObserver | null): void {
    if (observer !== null && this.#observer !== null && observer !== this.#observer) {
      throw new InvariantError('Scheduler.observe', 'an observer is already attached (one slot: the debug channel)');
    }
    this.#observer = observer;
  }

  /** Announces a new actor (it may be sent messages before or after). Counts live actors. */
  spawn(actor: AnyActor): void {
    this.#live++;
    this.#observer?.spawned?.(actor);
  }

  /** Actors spawned and not yet dead. */
  get liveActors(): number {
    return this.#live;
  }

  /** Told the duration (ms) of every slice, after its hooks ran (the metrics' histogram). */
  observeSlices(observer: ((ms: number) => void) | null): void {
    this.#sliceObserver = observer;
  }

  /** Runs after every slice, in registration order: where output is flushed. */
  onSliceEnd(hook: () => void): void {
    this.#sliceEndHooks.push(hook);
  }

  /** The actor whose handler is running now, or null between turns. */
  get current(): AnyActor | null {
    return this.#current;
  }

  /**
   * Puts a message in an actor's mailbox and makes the actor runnable if it was
   * idle. Callable by anyone. From a running actor this is Go's runqput with
   * next=true (the woken actor takes runnext); from outside a slice (I/O
   * callbacks, timers) it is injectglist: the global queue, then a slice is
   * scheduled. Returns false when the actor is dead or its mailbox is full;
   * `force` overrides the capacity, for lifecycle messages that must arrive.
   */
  send<M>(to: Actor<M>, msg: M, force = false): boolean {
    if (to.status === 'dead') return false;
    if (!to.mailbox.put(msg, force)) {
      to.dropped++;
      this.#stats.dropped++;
      return false;
    }
    if (to.status === 'idle') {
      to.status = 'runnable';
      this.#ready(to);
    }
    return true;
  }

  /**
   * Ends the running actor's turn after the message it is handling, as if its
   * budget were spent: it goes to the tail of the ring with the rest of its
   * mailbox. Called by a handler that has just sent work whose cost is only
   * known once its receiver has run (a connection's `history`, whose reply the
   * supervisor charges to the connection): the receiver runs first, so the
   * charge is in place before the actor's next message is looked at. A call
   * from outside a turn does nothing.
   */
  yieldTurn(): void {
    if (this.#current !== null) this.#yieldAsked = true;
  }

  /**
   * Counts costly work the running actor does, in bytes (a client frame it
   * decodes and parses, a reply it builds for one reader): once a slice has
   * done sliceWorkBytes of it, the running turn ends after its current message
   * and the slice yields to the event loop. A slice's length is then bounded
   * by what its messages cost, not only by the clock: the clock is read
   * between messages, and a few big frames fill 10 ms, during which no socket
   * is read and no ping answered (BEAM counts reductions, not time).
   */
  addWork(bytes: number): void {
    this.#sliceWork += bytes;
  }

  /**
   * Stops an actor: it becomes dead, its mailbox is dropped and its onStop runs
   * once. Stopping a dead actor does nothing. Callable by anyone; a running
   * actor may stop itself (its turn ends after the current message).
   */
  stop(actor: AnyActor, reason: StopReason = { kind: 'normal' }): void {
    if (actor.status === 'dead') return;
    actor.status = 'dead';
    actor.mailbox.clear();
    this.#live--;
    this.#observer?.stopped?.(actor, reason);
    actor.onStop(reason);
  }

  stats(): SchedulerStats {
    const s = this.#stats;
    s.runQueue = this.#runq.size;
    s.globalQueue = this.#globalQueue.size;
    s.runnext = this.#runnext !== null;
    return { ...s };
  }

  /** True when no actor is queued: for tests and shutdown. */
  get quiescent(): boolean {
    return this.#runnext === null && this.#runq.size === 0 && this.#globalQueue.size === 0;
  }

  /**
   * One slice: runs queued actors until none is left or the time budget is
   * spent, then runs the slice-end hooks. Called by the event loop (setImmediate);
   * tests may call it directly. Never re-entered.
   */
  runSlice(): void {
    if (this.#current !== null) throw new InvariantError('Scheduler.runSlice', 're-entered from a handler');
    this.#scheduled = false;
    const start = this.#now();
    const s = this.#stats;
    s.slices++;
    this.#sliceWork = 0;
    if (this.#globalQueue.size > 0 && this.#runq.size > 0) this.#pullGlobal();
    let actor: AnyActor | null;
    while ((actor = this.#findRunnable()) !== null) {
      this.#runTurn(actor, start);
      if (this.quiescent) continue;
      if (this.#now() - start >= this.#sliceBudgetMs) {
        s.sliceYields++;
        break;
      }
      if (this.#workSpent) {
        s.workYields++;
        break;
      }
    }
    for (const hook of this.#sliceEndHooks) hook();
    const ms = this.#now() - start;
    s.lastSliceMs = ms;
    if (ms > s.maxSliceMs) s.maxSliceMs = ms;
    if (ms > this.#overrunMs) s.overruns++;
    if (this.#sliceObserver !== null) this.#sliceObserver(ms);
    if (!this.quiescent) this.#wake();
  }

  /** Go's ready(): an idle actor just became runnable. */
  #ready(actor: AnyActor): void {
    if (this.#current !== null) {
      // runqput(next=true): the woken actor runs next; the one it displaces goes to the tail.
      const old = this.#runnext;
      this.#runnext = actor;
      if (old !== null) this.#runqPut(old);
    } else {
      this.#globalQueue.put(actor);
      this.#wake();
    }
  }

  #wake(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#defer(this.#runSlice);
  }

  /** runqput(next=false): tail of the local ring, or half of it to the global queue when full. */
  #runqPut(actor: AnyActor): void {
    if (!this.#runq.put(actor)) this.#runqPutSlow(actor);
  }

  /** runqputslow: moves half of the ring plus the newcomer to the global queue in one batch. */
  #runqPutSlow(actor: AnyActor): void {
    const half = this.#runq.size >>> 1;
    for (let i = 0; i < half; i++) this.#globalQueue.put(this.#runq.take()!);
    this.#globalQueue.put(actor);
  }

  /** findRunnable: fairness check, runnext, local ring, then a batch from the global queue. */
  #findRunnable(): AnyActor | null {
    for (;;) {
      const tick = ++this.#stats.ticks;
      let actor: AnyActor | undefined | null;
      if (tick % GLOBAL_QUEUE_CHECK_TICKS === 0 && this.#globalQueue.size > 0) {
        actor = this.#globalQueue.take();
      } else if (this.#runnext !== null && this.#runnextStreak < RUNNEXT_STREAK_MAX) {
        actor = this.#runnext;
        this.#runnext = null;
        this.#runnextStreak++;
      } else {
        if (this.#runnext !== null) {
          // The chain's slice is spent: runnext to the tail, like a preempted G.
          this.#runqPut(this.#runnext);
          this.#runnext = null;
        }
        this.#runnextStreak = 0;
        actor = this.#runq.take() ?? this.#globalGet();
      }
      if (actor == null) {
        this.#stats.ticks--; // an empty look is not a tick
        return null;
      }
      if (actor.status === 'dead') continue; // stopped while queued
      if (actor.status !== 'runnable') {
        throw new InvariantError('Scheduler.findRunnable', `actor ${actor.id} queued while ${actor.status}`);
      }
      return actor;
    }
  }

  /**
   * At a slice's start, while the ring still holds actors from the slice
   * before (a busy one yielded): the actors woken by I/O since then join the
   * ring's tail, behind those, as many as it has room for. Without this they
   * waited for the ring to empty or for the 61st tick; once slices end after a
   * frame or two of costly work (addWork), that was some twenty slices, and a
   * bystander's frame read between two of them waited as long.
   */
  #pullGlobal(): void {
    this.#globalToRing(RUN_QUEUE_SIZE);
  }

  /** Moves up to `max` actors from the global queue to the ring's tail, as many as the ring has room for. */
  #globalToRing(max: number): void {
    let n = Math.min(this.#globalQueue.size, max, RUN_QUEUE_SIZE - this.#runq.size);
    while (n-- > 0) this.#runq.put(this.#globalQueue.take()!);
  }

  /** The slice has done its share of costly work (addWork). */
  get #workSpent(): boolean {
    return this.#sliceWork >= this.#sliceWorkBytes;
  }

  /** globrunqget: one actor to run now, and up to half a ring more moved into the ring. */
  #globalGet(): AnyActor | undefined {
    const first = this.#globalQueue.take();
    if (first === undefined) return undefined;
    this.#globalToRing(RUN_QUEUE_SIZE >>> 1);
    return first;
  }

  /**
   * execute: one turn of at most `budget` messages, inside the actor's error
   * boundary. A `timeSliced` actor's turn also ends once the slice that began
   * at `sliceStart` has spent its time budget (Go's sysmon preempting a G that
   * ran past forcePreemptNS): its 1,024-message budget could otherwise hold the
   * event loop for as long as those messages take, and every socket's reads
   * and pings with it.
   */
  #runTurn(actor: AnyActor, sliceStart: number): void {
    const s = this.#stats;
    actor.status = 'running';
    actor.turns++;
    actor.lastRunAt = Date.now();
    this.#current = actor;
    const start = this.#now();
    const budget = actor.budget;
    const deadline = actor.timeSliced ? sliceStart + this.#sliceBudgetMs : Infinity;
    let n = 0;
    try {
      while (n < budget) {
        const msg = actor.mailbox.take();
        if (msg === undefined) break;
        n++;
        actor.handled++;
        if (this.#observer !== null) this.#observer.handled?.(actor, msg);
        if (this.#faultRate > 0 && actor.kind !== 'supervisor' && this.#random() < this.#faultRate) {
          s.faultsInjected++;
          throw new InjectedFault(`injected fault in ${actor.id}`);
        }
        actor.handle(msg);
        if (actor.dead || this.#yieldAsked || this.#workSpent) break;
        if (deadline !== Infinity && this.#now() >= deadline) break;
      }
    } catch (error) {
      this.#yieldAsked = false;
      this.#current = null;
      s.messages += n;
      this.#fail(actor, error);
      return;
    }
    this.#current = null;
    this.#yieldAsked = false;
    s.messages += n;
    const ms = this.#now() - start;
    if (ms > this.#slowHandlerMs) {
      s.slowHandlers++;
      s.lastSlowActor = actor.id;
    }
    if (actor.dead) return;
    if (actor.mailbox.size > 0) {
      actor.status = 'runnable';
      actor.budgetYields++;
      s.budgetYields++;
      this.#runqPut(actor);
    } else {
      actor.status = 'idle';
      actor.mailbox.clear(); // an idle actor holds no ring: 100k idle connections, 100k arrays fewer
    }
  }

  /** The error boundary: the actor alone dies; the failure handler decides the rest. */
  #fail(actor: AnyActor, error: unknown): void {
    this.#stats.failures++;
    actor.status = 'dead';
    actor.mailbox.clear();
    this.#live--;
    this.#observer?.stopped?.(actor, { kind: 'failed', error });
    if (this.#failureHandler !== null) this.#failureHandler(actor, error);
    else actor.onStop({ kind: 'failed', error });
  }
}
