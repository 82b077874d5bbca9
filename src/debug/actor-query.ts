// The read side of the debug channel: a page of actors (`actors`), one actor in
// full (`actor`), and the busiest lately (`top`).
//
// Cheap with 100,000 actors: a query walks the smallest set its filters allow
// (a room's members, one user, the transient set), keeps only actor references
// while walking, and serializes just the page. A sorted page near the top is
// found by top-k selection (one comparison per actor that does not make the
// cut), never by sorting everyone.
import type { Actor } from '../actors/actor.js';
import { ConnectionActor } from '../actors/connection-actor.js';
import { connectionMachine } from '../actors/connection-machine.js';
import { trieForEach, trieGet, trieValues } from '../actors/hash-trie.js';
import type { Session } from '../actors/registry.js';
import { nameKey } from '../protocol/names.js';
import type { ActorIndex } from './actor-index.js';
import { ACTOR_RECENT_EVENTS, DEFAULT_PAGE, MAX_PAGE, TOP_K_SELECT_MAX } from './limits.js';
import type { TraceEvent, TraceRing } from './trace-ring.js';

type AnyActor = Actor<unknown>;

export const SORT_KEYS = ['id', 'user', 'state', 'mailbox', 'handled', 'lastActive'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface ActorsQuery {
  offset?: number;
  limit?: number;
  /** Lifecycle state of connections (connecting, open, closing, closed). */
  state?: string;
  room?: string;
  /** Exact user name. */
  user?: string;
  /** Substring of id or user name. */
  q?: string;
  kind?: string;
  sort?: SortKey;
  /** Numbers sort descending and names ascending unless told. */
  order?: 'asc' | 'desc';
}

export interface ActorItem {
  id: string;
  kind: string;
  user: string | null;
  state: string;
  status: string;
  mailbox: number;
  rooms: readonly string[];
  handled: number;
  /** Ms since its last turn (since it was created when it never ran). */
  lastActiveMs: number;
}

export interface ActorsPage {
  total: number;
  offset: number;
  limit: number;
  items: ActorItem[];
}

/** A connection's lifecycle state; other actors report their scheduler status. */
function stateOf(a: AnyActor): string {
  return a instanceof ConnectionActor ? a.state : a.status;
}

function userOf(a: AnyActor): string | null {
  return a instanceof ConnectionActor ? a.user : null;
}

export function actorItem(index: ActorIndex, a: AnyActor, now: number): ActorItem {
  return {
    id: a.id,
    kind: a.kind,
    user: userOf(a),
    state: stateOf(a),
    status: a.status,
    mailbox: a.mailbox.size,
    rooms: roomsOf(index.session(a.id)),
    handled: a.handled,
    lastActiveMs: now - (a.lastRunAt || a.createdAt),
  };
}

/** Natural order of ids: c9 before c10. */
function compareIds(x: string, y: string): number {
  return x.length - y.length || (x < y ? -1 : x > y ? 1 : 0);
}

function comparator(sort: SortKey | undefined, order: 'asc' | 'desc' | undefined): (x: AnyActor, y: AnyActor) => number {
  const str = (f: (a: AnyActor) => string) => (x: AnyActor, y: AnyActor) => {
    const a = f(x);
    const b = f(y);
    return a < b ? -1 : a > b ? 1 : 0;
  };
  const num = (f: (a: AnyActor) => number) => (x: AnyActor, y: AnyActor) => f(y) - f(x); // descending
  let base: (x: AnyActor, y: AnyActor) => number;
  let descending = false;
  switch (sort) {
    case 'user': base = str((a) => userOf(a) ?? ''); break;
    case 'state': base = str(stateOf); break;
    case 'mailbox': base = num((a) => a.mailbox.size); descending = true; break;
    case 'handled': base = num((a) => a.handled); descending = true; break;
    case 'lastActive': base = num((a) => a.lastRunAt || a.createdAt); descending = true; break;
    default: base = (x, y) => compareIds(x.id, y.id);
  }
  const flip = order !== undefined && (order === 'desc') !== descending;
  // Ties fall back to id order so that pages do not overlap between requests.
  return (x, y) => (flip ? -base(x, y) : base(x, y)) || compareIds(x.id, y.id);
}

export function clampPage(q: ActorsQuery): { offset: number; limit: number } {
  const offset = Number.isInteger(q.offset) && q.offset! > 0 ? q.offset! : 0;
  const limit = Number.isInteger(q.limit) && q.limit! >= 0 ? Math.min(q.limit!, MAX_PAGE) : DEFAULT_PAGE;
  return { offset, limit };
}

export function listActors(index: ActorIndex, q: ActorsQuery, now = Date.now()): ActorsPage {
  const { offset, limit } = clampPage(q);
  const needle = q.q?.toLowerCase();
  const roomMembers = q.room === undefined ? undefined : trieGet(index.registry.rooms, q.room)?.members;
  const match = (a: AnyActor): boolean => {
    if (q.kind !== undefined && a.kind !== q.kind) return false;
    if (q.state !== undefined && stateOf(a) !== q.state) return false;
    if (q.user !== undefined && userOf(a) !== q.user) return false;
    if (roomMembers !== undefined && trieGet(roomMembers, a.id) !== a) return false;
    if (needle !== undefined && !a.id.includes(needle) && !(userOf(a) ?? '').toLowerCase().includes(needle)) return false;
    return true;
  };
  // The smallest set to walk: one user, one room, or the index (narrowed by state).
  // fn returns false to stop the walk early.
  const walk = (fn: (a: AnyActor) => boolean | void): void => {
    if (q.room !== undefined && roomMembers === undefined) return; // no such room: nobody
    if (q.user !== undefined) {
      // Keyed by canonical form (or a sub as it is): look both up; match() keeps the exact name.
      const entry = trieGet(index.registry.users, q.user) ?? trieGet(index.registry.users, nameKey(q.user));
      const tabs = entry?.tabs ?? [];
      for (const a of tabs) if (!a.dead && fn(a) === false) return;
      index.forEachTransient((t) => { if (!tabs.includes(t as ConnectionActor) && t.user === q.user) fn(t); });
      return;
    }
    if (roomMembers !== undefined) {
      trieForEach(roomMembers, (a) => (a.dead ? true : fn(a)));
      return;
    }
    index.forEach(fn, q.state);
  };
  const unfiltered = q.kind === undefined && q.state === undefined && q.user === undefined && q.room === undefined && needle === undefined;

  let total = 0;
  const page: AnyActor[] = [];
  if (q.sort === undefined && unfiltered) {
    // Everyone, in registry order: the count is known, so walk only up to the page.
    total = index.size;
    let seen = 0;
    if (limit > 0) walk((a) => {
      if (seen++ >= offset) page.push(a);
      return page.length < limit;
    });
  } else if (q.sort === undefined) {
    walk((a) => {
      if (!match(a)) return;
      if (total >= offset && total < offset + limit) page.push(a);
      total++;
    });
  } else {
    const cmp = comparator(q.sort, q.order);
    const k = offset + limit;
    if (k <= TOP_K_SELECT_MAX) {
      walk((a) => {
        if (!match(a)) return;
        total++;
        if (k === 0) return;
        if (page.length === k && cmp(a, page[k - 1]) >= 0) return;
        let lo = 0;
        let hi = page.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (cmp(page[mid], a) <= 0) lo = mid + 1;
          else hi = mid;
        }
        page.splice(lo, 0, a);
        if (page.length > k) page.pop();
      });
    } else {
      walk((a) => { if (match(a)) page.push(a); });
      total = page.length;
      page.sort(cmp);
    }
    page.splice(0, offset);
    page.length = Math.min(page.length, limit);
  }
  return { total, offset, limit, items: page.map((a) => actorItem(index, a, now)) };
}

/** The states and transitions of the connection machine, read from its definition. */
export function describeConnectionMachine(): { id: string; initial: string; states: string[]; final: string[]; transitions: { from: string; event: string; to: string }[] } {
  interface StateConfig { type?: string; on?: Record<string, string | { target?: string }> }
  const config = connectionMachine.config as unknown as { id: string; initial: string; states: Record<string, StateConfig> };
  const transitions: { from: string; event: string; to: string }[] = [];
  const final: string[] = [];
  for (const [from, s] of Object.entries(config.states)) {
    if (s.type === 'final') final.push(from);
    for (const [event, t] of Object.entries(s.on ?? {})) {
      const to = typeof t === 'string' ? t : t.target;
      if (to !== undefined) transitions.push({ from, event, to });
    }
  }
  return { id: config.id, initial: config.initial, states: Object.keys(config.states), final, transitions };
}

let machineDescription: ReturnType<typeof describeConnectionMachine> | null = null;

/** `actor`: one actor in full, with its recent events from the trace ring. */
export function describeActor(index: ActorIndex, trace: TraceRing, a: AnyActor, now = Date.now()): Record<string, unknown> {
  const session = index.session(a.id);
  const common = {
    id: a.id,
    kind: a.kind,
    status: a.status,
    mailbox: { depth: a.mailbox.size, capacity: a.mailbox.capacity, allocated: a.mailbox.allocated },
    counters: { handled: a.handled, turns: a.turns, budgetYields: a.budgetYields, dropped: a.dropped },
    createdAt: a.createdAt,
    lastRunAt: a.lastRunAt,
    lastActiveMs: now - (a.lastRunAt || a.createdAt),
    rooms: roomsOf(session),
    events: trace.recent(a.id, ACTOR_RECENT_EVENTS) as TraceEvent[],
    eventsSince: trace.since,
  };
  if (a instanceof ConnectionActor) {
    machineDescription ??= describeConnectionMachine();
    return {
      ...common,
      user: a.user,
      remote: a.remote,
      state: a.snapshot.value,
      snapshotStatus: a.snapshot.status,
      context: a.snapshot.context,
      input: a.input,
      machine: machineDescription,
    };
  }
  const reg = index.registry;
  return {
    ...common,
    user: null,
    state: a.status,
    context: a.kind === 'supervisor'
      ? { sessions: reg.sessions.size, users: reg.users.size, rooms: reg.rooms.size }
      : {},
    machine: null,
  };
}

/** A session's rooms as a list, sorted (the registry keeps them in a trie, in hash order). */
function roomsOf(session: Session | undefined): string[] {
  return session === undefined ? [] : trieValues(session.rooms).sort();
}
