// The lifecycle of one connection as an xstate v5 machine.
//
// Only lifecycle and control events go through it (a handful per connection's
// life); chat messages never do: a transition costs ~20 µs, and a connection
// just reads its current state on the data path. The machine is evaluated with
// xstate's pure `transition` (no createActor: ~3.5 KB each), starting from ONE
// initial snapshot shared by every connection.
//
//   connecting --REGISTERED--> open --CLOSE--> closing --SOCKET_CLOSED--> closed
//        \------------------------\--SOCKET_CLOSED / FAILED-----------------^
import { assign, initialTransition, setup, transition, type SnapshotFrom } from 'xstate';

export type ConnectionEvent =
  | { type: 'REGISTERED' }
  | { type: 'CLOSE'; code: number; reason: string }
  | { type: 'SOCKET_CLOSED'; code: number; reason: string }
  | { type: 'FAILED'; code: number; reason: string };

export interface ConnectionContext {
  /** Close code and reason, once the connection is closing or closed. */
  closeCode: number | null;
  closeReason: string | null;
}

const recordClose = assign<ConnectionContext, ConnectionEvent, undefined, ConnectionEvent, never>({
  closeCode: ({ event }) => ('code' in event ? event.code : null),
  closeReason: ({ event }) => ('reason' in event ? event.reason : null),
});

export const connectionMachine = setup({
  types: {} as { context: ConnectionContext; events: ConnectionEvent },
}).createMachine({
  id: 'connection',
  initial: 'connecting',
  context: { closeCode: null, closeReason: null },
  states: {
    connecting: {
      on: {
        REGISTERED: 'open',
        CLOSE: { target: 'closing', actions: recordClose },
        SOCKET_CLOSED: { target: 'closed', actions: recordClose },
        FAILED: { target: 'closed', actions: recordClose },
      },
    },
    open: {
      on: {
        CLOSE: { target: 'closing', actions: recordClose },
        SOCKET_CLOSED: { target: 'closed', actions: recordClose },
        FAILED: { target: 'closed', actions: recordClose },
      },
    },
    closing: {
      on: {
        SOCKET_CLOSED: 'closed',
        FAILED: { target: 'closed', actions: recordClose },
      },
    },
    closed: { type: 'final' },
  },
});

export type ConnectionSnapshot = SnapshotFrom<typeof connectionMachine>;
export type ConnectionState = 'connecting' | 'open' | 'closing' | 'closed';

/** Every connection starts from this one frozen snapshot. */
export const INITIAL_CONNECTION_SNAPSHOT: ConnectionSnapshot = initialTransition(connectionMachine)[0];

/**
 * Next snapshots by snapshot and event (its type, and a close's code and
 * reason): a step's result depends on nothing else, so it is computed once and shared.
 * Every open connection thus holds the same `open` snapshot as every other,
 * not a private copy (a snapshot with its arrays is several hundred bytes).
 */
const sharedSteps = new WeakMap<ConnectionSnapshot, Map<string, ConnectionSnapshot>>();
/** Distinct events whose next snapshot is kept per snapshot (see stepConnection). */
const MAX_SHARED_STEPS = 32;

/** The pure step: the next snapshot (the same object when the event does not apply). */
export function stepConnection(snapshot: ConnectionSnapshot, event: ConnectionEvent): ConnectionSnapshot {
  // A close's result depends on its code and reason too. The reason may be the client's (any
  // string), so only the first few distinct closes per snapshot are kept: in a storm nearly
  // every close is the same 1006 with no reason, and xstate's transition cost ~5% of its CPU.
  const key = event.type === 'REGISTERED' ? event.type : `${event.type}\u0000${event.code}\u0000${event.reason}`;
  let steps = sharedSteps.get(snapshot);
  if (steps === undefined) sharedSteps.set(snapshot, (steps = new Map()));
  let next = steps.get(key);
  if (next === undefined) {
    next = transition(connectionMachine, snapshot, event)[0];
    if (steps.size < MAX_SHARED_STEPS) steps.set(key, next);
  }
  return next;
}

/** Every state of the machine, for inspectors that draw it. */
export const CONNECTION_STATES: readonly ConnectionState[] = ['connecting', 'open', 'closing', 'closed'];
