// ActorIndex: which actors are alive, by id and by lifecycle state, at no cost
// per idle connection.
//
// The supervisor's registry already holds every registered connection
// (sessions: id -> {actor, user, rooms}); copying it into a Map of our own
// would cost every idle connection another entry. So the index keeps only what
// the registry lacks: the non-connection actors (the supervisor), and the
// connections that are alive but not `open` (connecting: not registered yet;
// closing: already unregistered). Those are transient and few. An open
// connection is found in the registry.
//
// Invariants, kept by the three observer callbacks:
//   - transient holds exactly the live connections whose state is not `open`;
//   - byState counts live connections by state (a stopped one counts nowhere).
// A connection that fails is stopped first and makes its FAILED transition
// after, when it is already dead: `transitioned` ignores dead actors.
import type { Actor } from '../actors/actor.js';
import { ConnectionActor } from '../actors/connection-actor.js';
import { CONNECTION_STATES, type ConnectionState } from '../actors/connection-machine.js';
import { trieForEach, trieGet } from '../actors/hash-trie.js';
import type { RegistryState, Session } from '../actors/registry.js';

type AnyActor = Actor<unknown>;

/** Where the registry lives now: the supervisor replaces its state on every change. */
export interface RegistrySource {
  readonly state: RegistryState;
}

export class ActorIndex {
  readonly #registry: RegistrySource;
  readonly #others = new Map<string, AnyActor>();
  readonly #transient = new Map<string, ConnectionActor>();
  readonly byState: Record<ConnectionState, number> = { connecting: 0, open: 0, closing: 0, closed: 0 };

  /** `existing`: actors spawned before the index was made (the supervisor). */
  constructor(registry: RegistrySource, existing: Iterable<AnyActor> = []) {
    this.#registry = registry;
    for (const actor of existing) this.spawned(actor);
  }

  get registry(): RegistryState {
    return this.#registry.state;
  }

  spawned(actor: AnyActor): void {
    if (actor instanceof ConnectionActor) {
      this.byState[actor.state]++;
      if (actor.state !== 'open') this.#transient.set(actor.id, actor);
    } else {
      this.#others.set(actor.id, actor);
    }
  }

  transitioned(actor: ConnectionActor, from: ConnectionState): void {
    if (actor.dead) return;
    const to = actor.state;
    this.byState[from]--;
    this.byState[to]++;
    if (to === 'open') this.#transient.delete(actor.id);
    else this.#transient.set(actor.id, actor);
  }

  stopped(actor: AnyActor): void {
    if (actor instanceof ConnectionActor) {
      this.byState[actor.state]--;
      this.#transient.delete(actor.id);
    } else {
      this.#others.delete(actor.id);
    }
  }

  /** Live connections (any state). */
  get connections(): number {
    let n = 0;
    for (const s of CONNECTION_STATES) n += this.byState[s];
    return n;
  }

  /** Live actors of every kind. */
  get size(): number {
    return this.#others.size + this.connections;
  }

  /** A live actor by id, or undefined. */
  find(id: string): AnyActor | undefined {
    const other = this.#others.get(id) ?? this.#transient.get(id);
    if (other !== undefined) return other;
    const session = trieGet(this.registry.sessions, id);
    return session !== undefined && isLiveOpen(session.actor) ? session.actor : undefined;
  }

  /** The registry's session of an actor (user and rooms), if it has one. */
  session(id: string): Session | undefined {
    return trieGet(this.registry.sessions, id);
  }

  /** Calls fn for each live connection that is not open (connecting, closing). */
  forEachTransient(fn: (actor: ConnectionActor) => void): void {
    for (const a of this.#transient.values()) fn(a);
  }

  /**
   * Calls fn for live actors, each once; fn returns false to stop. `state`
   * narrows the walk to where such actors live (open: the registry; others:
   * the transient set), so a filter never costs more than it must.
   */
  forEach(fn: (actor: AnyActor) => boolean | void, state?: string): void {
    if (state === undefined) {
      for (const a of this.#others.values()) if (fn(a) === false) return;
    }
    if (state !== 'open') {
      for (const a of this.#transient.values()) {
        if ((state === undefined || a.state === state) && fn(a) === false) return;
      }
    }
    if (state === undefined || state === 'open') {
      trieForEach(this.registry.sessions, (s) => (isLiveOpen(s.actor) ? fn(s.actor) : true));
    }
  }
}

/** Open and alive: a closing actor may linger in the registry until its unregister is handled. */
function isLiveOpen(actor: ConnectionActor): boolean {
  return !actor.dead && actor.state === 'open';
}
