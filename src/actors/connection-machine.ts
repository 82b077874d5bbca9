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
 * Next snapshots of events that carry no data, by snapshot: such a step's
 * result depends only on the snapshot, so it is computed once and shared.
 * Every open connection thus holds the same `open` snapshot as every other,
 * not a private copy (a snapshot with its arrays is several hundred bytes).
 */
const sharedSteps = new WeakMap<ConnectionSnapshot, Map<string, ConnectionSnapshot>>();

/** The pure step: the next snapshot (the same object when the event does not apply). */
export function stepConnection(snapshot: ConnectionSnapshot, event: ConnectionEvent): ConnectionSnapshot {
  if (Object.keys(event).length !== 1) return transition(connectionMachine, snapshot, event)[0];
  let steps = sharedSteps.get(snapshot);
  if (steps === undefined) sharedSteps.set(snapshot, (steps = new Map()));
  let next = steps.get(event.type);
  if (next === undefined) steps.set(event.type, (next = transition(connectionMachine, snapshot, event)[0]));
  return next;
}

/** Every state of the machine, for inspectors that draw it. */
export const CONNECTION_STATES: readonly ConnectionState[] = ['connecting', 'open', 'closing', 'closed'];
