// The supervisor's registry: sessions, user names and rooms, as one immutable
// value: every change makes a new version that shares all it did not change.
//
// Shape (every keyed collection is a HashTrie, so one change copies O(log32 n)):
//   sessions: actor id -> { actor, user, key, rooms: room name -> room name }
//   users:    user key -> { name, tabs, owner } (the key: the name's canonical
//             form, src/protocol/names.ts, or a JWT sub as it is; several tabs
//             only for a JWT sub open in several connections)
//   rooms:    room name -> { name, key, members: actor id -> actor, departures, live }
//   roomKeys: a room's canonical form -> its name (which spelling of a name is live here)
// `live` is a mutable RoomLive: pending presence and recovery bookkeeping
// change often, and a chat message must not pay a new version. It rides along
// by reference from version to version; actors do too.
//
// Versions are made by hand (hash-trie's trieWith/trieWithout and object
// spreads), not with immer's produce(), which did the same copying through
// proxies: in a connection storm, registering and unregistering sessions
// through it took a fifth of the broker's CPU.
import type { ConnectionActor } from './connection-actor.js';
import { emptyTrie, trieGet, trieValues, trieWith, trieWithout, type HashTrie } from './hash-trie.js';

export interface Session {
  readonly actor: ConnectionActor;
  readonly user: string;
  /** Its entry in `users` (see Names.keyOf). */
  readonly key: string;
  /**
   * The rooms it is in, as a trie too: a join or leave copies O(log32 n) of
   * it, never the session's whole list (a session in 20,000 rooms made each
   * join cost the copy of all of them). Their count is capped by the supervisor.
   */
  readonly rooms: HashTrie<string>;
}

/** Every new session starts with this one (never mutated: the first join makes a new trie). */
const NO_ROOMS: HashTrie<string> = emptyTrie();

/** The parts of a room that change per message, outside the versioned registry on purpose. */
export class RoomLive {
  /** Members of this node still waiting for their history replay (see Supervisor). */
  recovering = 0;
  /** Presence not sent yet: user -> joins less leaves since the last frame (presence.ts). */
  changes: Map<string, number> | null = null;
  /** The connection whose join is pending, not told its own join when that is the only change. */
  joiner: ConnectionActor | null = null;
  /** Which of presence.ts's queues the room is in: 0 none, 1 this slice's end, 2 the timer. */
  presenceQueued: 0 | 1 | 2 = 0;
  lastPresenceAt = 0;
  /**
   * The seq of the last message fanned out here, or the room's seq when it
   * became live on this node (null: not known, the backplane is down). A plain
   * join's `joined` carries it, so a client that drops before any message
   * arrives can still rejoin with `since` and learn what it missed.
   */
  seq: number | null = null;
  /** The cached users list of a big room: read and written by room-view.ts only. */
  listed: ListedUsers | null = null;
}

/**
 * A big room's `users` list as JSON, with what it was computed from: it is
 * valid while no member has left since (Room.departures) and the other nodes'
 * roster is the same (RemoteMembers.version). Joins keep it: any
 * MAX_LISTED_USERS members will do.
 */
export interface ListedUsers {
  readonly json: string;
  readonly departures: number;
  readonly remote: object;
  readonly remoteVersion: number;
}

export interface Room {
  readonly name: string;
  /** Its name's canonical form (roomKeys). */
  readonly key: string;
  readonly members: HashTrie<ConnectionActor>;
  /** Members that have left this room since it was made: a list of members made before is stale. */
  readonly departures: number;
  readonly live: RoomLive;
}

/** One user on this node: the connections that are it (one, or a JWT sub's tabs), in arrival order. */
export interface UserEntry {
  readonly name: string;
  readonly tabs: readonly ConnectionActor[];
  /** The actor id the backplane's name claim was made for: the claim is released with it, by the last tab. */
  readonly owner: string;
}

export interface RegistryState {
  readonly sessions: HashTrie<Session>;
  readonly users: HashTrie<UserEntry>;
  readonly rooms: HashTrie<Room>;
  readonly roomKeys: HashTrie<string>;
}

export function emptyRegistry(): RegistryState {
  return { sessions: emptyTrie(), users: emptyTrie(), rooms: emptyTrie(), roomKeys: emptyTrie() };
}

/**
 * Adds a session under `key`: the user's first connection, or one more tab of it.
 * `owner`: the name claim's owner when the claim outlived its session (a resume).
 */
export function addSession(state: RegistryState, actor: ConnectionActor, user: string, key = user, owner = actor.id): RegistryState {
  const entry = trieGet(state.users, key);
  return {
    ...state,
    sessions: trieWith(state.sessions, actor.id, { actor, user, key, rooms: NO_ROOMS }),
    users: trieWith(state.users, key, entry === undefined
      ? { name: user, tabs: [actor], owner }
      : { name: entry.name, tabs: [...entry.tabs, actor], owner: entry.owner }),
  };
}

/**
 * Removes a session from the registry and every room; returns the rooms it
 * was in (as they are after) and, when it was its user's last tab here, the
 * user to release (its key and the claim's owner).
 */
export function removeSession(state: RegistryState, actor: ConnectionActor): {
  state: RegistryState; left: string[]; gone: { key: string; owner: string } | null;
} {
  const session = trieGet(state.sessions, actor.id);
  if (session === undefined) return { state, left: [], gone: null };
  const left = trieValues(session.rooms);
  const entry = trieGet(state.users, session.key);
  const tabs = entry?.tabs.filter((t) => t !== actor) ?? [];
  let next: Mutable<RegistryState> = { ...state };
  for (const name of left) next = leaveRoom(next, name, actor.id);
  next.sessions = trieWithout(next.sessions, actor.id);
  if (entry !== undefined) {
    next.users = tabs.length === 0
      ? trieWithout(next.users, session.key)
      : trieWith(next.users, session.key, { name: entry.name, tabs, owner: entry.owner });
  }
  return { state: next, left, gone: entry !== undefined && tabs.length === 0 ? { key: session.key, owner: entry.owner } : null };
}

/** Whether a connection of the user under `key` other than `except` (another tab) is a member of `room`. */
export function otherTabIn(state: RegistryState, key: string, except: ConnectionActor, room: Room | undefined): boolean {
  if (room === undefined) return false;
  const tabs = trieGet(state.users, key)?.tabs;
  if (tabs === undefined || tabs.length < 2 && tabs[0] === except) return false;
  return tabs.some((t) => t !== except && trieGet(room.members, t.id) !== undefined);
}

/** The key a session is registered under ('' when it is not). */
export function keyOf(state: RegistryState, actor: ConnectionActor): string {
  return trieGet(state.sessions, actor.id)?.key ?? '';
}

/** Adds a member; `added` is false when it already was one. `key`: the name's canonical form, for a new room. */
export function addMember(state: RegistryState, roomName: string, actor: ConnectionActor, key = roomName): { state: RegistryState; added: boolean } {
  const room = trieGet(state.rooms, roomName);
  if (room !== undefined && trieGet(room.members, actor.id) !== undefined) return { state, added: false };
  const next: Mutable<RegistryState> = { ...state };
  const r: Room = room === undefined
    ? { name: roomName, key, members: trieWith(emptyTrie(), actor.id, actor), departures: 0, live: new RoomLive() }
    : { ...room, members: trieWith(room.members, actor.id, actor) };
  next.rooms = trieWith(state.rooms, roomName, r);
  if (room === undefined) next.roomKeys = trieWith(state.roomKeys, key, roomName);
  // The room's own name string, not the client's copy of it: one string per room, not per member.
  const session = trieGet(state.sessions, actor.id);
  if (session !== undefined) next.sessions = trieWith(state.sessions, actor.id, { ...session, rooms: trieWith(session.rooms, r.name, r.name) });
  return { state: next, added: true };
}

/** Removes a member; `removed` is false when it was not one. An empty room is dropped. */
export function removeMember(state: RegistryState, roomName: string, actor: ConnectionActor): { state: RegistryState; removed: boolean } {
  const room = trieGet(state.rooms, roomName);
  if (room === undefined || trieGet(room.members, actor.id) === undefined) return { state, removed: false };
  const next = leaveRoom(state, roomName, actor.id);
  const session = trieGet(next.sessions, actor.id);
  if (session !== undefined) next.sessions = trieWith(next.sessions, actor.id, { ...session, rooms: trieWithout(session.rooms, roomName) });
  return { state: next, removed: true };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A new version without `actorId` in the room (a fresh object the caller may go on setting fields of). */
function leaveRoom(state: RegistryState, roomName: string, actorId: string): Mutable<RegistryState> {
  const next: Mutable<RegistryState> = { ...state };
  const room = trieGet(state.rooms, roomName);
  if (room === undefined) return next;
  const members = trieWithout(room.members, actorId);
  if (members.size === 0) {
    next.rooms = trieWithout(state.rooms, roomName);
    next.roomKeys = trieWithout(state.roomKeys, room.key);
  } else {
    next.rooms = trieWith(state.rooms, roomName, { ...room, members, departures: room.departures + 1 });
  }
  return next;
}
