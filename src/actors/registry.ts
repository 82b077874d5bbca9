// The supervisor's registry: sessions, user names and rooms, as one immer value.
//
// Shape (every keyed collection is a HashTrie, so one change copies O(log32 n)):
//   sessions: actor id -> { actor, user, key, rooms: room name -> room name }
//   users:    user key -> { name, tabs, owner } (the key: the name's canonical
//             form, src/protocol/names.ts, or a JWT sub as it is; several tabs
//             only for a JWT sub open in several connections)
//   rooms:    room name -> { name, key, members: actor id -> actor, departures, live }
//   roomKeys: a room's canonical form -> its name (which spelling of a name is live here)
// `live` is a mutable RoomLive: pending presence and recovery bookkeeping
// change often, and a chat message must not pay a produce().
// immer neither drafts nor freezes class instances, so it rides along by
// reference; actors do too.
import { produce, setAutoFreeze } from 'immer';
import type { ConnectionActor } from './connection-actor.js';
import { emptyTrie, trieDelete, trieGet, trieSet, trieValues, type HashTrie } from './hash-trie.js';

// The registry is changed only through `change` below, so deep-freezing every
// new version buys no safety here and cost a third of each join's produce()
// (measured in a 19k-member join storm). Frozen or not, versions are never mutated.
setAutoFreeze(false);

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

/** Every new session starts with this one (never mutated: immer copies it on the first join). */
const NO_ROOMS: HashTrie<string> = emptyTrie();

/** The parts of a room that change per message, outside immer on purpose. */
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
 * produce() with the draft typed as the plain state: immer's Draft<T> maps class
 * instances (actors, RoomLive) structurally and drops their #private fields,
 * which makes them unassignable; the registry never mutates those through the
 * draft, so the plain type is the honest one here.
 */
function change(state: RegistryState, recipe: (draft: RegistryState) => void): RegistryState {
  return produce(state, (d) => recipe(d as unknown as RegistryState));
}

/**
 * Adds a session under `key`: the user's first connection, or one more tab of it.
 * `owner`: the name claim's owner when the claim outlived its session (a resume).
 */
export function addSession(state: RegistryState, actor: ConnectionActor, user: string, key = user, owner = actor.id): RegistryState {
  const entry = trieGet(state.users, key);
  return change(state, (d) => {
    trieSet(d.sessions, actor.id, { actor, user, key, rooms: NO_ROOMS });
    trieSet(d.users, key, entry === undefined
      ? { name: user, tabs: [actor], owner }
      : { name: entry.name, tabs: [...entry.tabs, actor], owner: entry.owner });
  });
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
  const next = change(state, (d) => {
    for (const name of left) leaveRoom(d, name, actor.id);
    trieDelete(d.sessions, actor.id);
    if (entry === undefined) return;
    if (tabs.length === 0) trieDelete(d.users, session.key);
    else trieSet(d.users, session.key, { name: entry.name, tabs, owner: entry.owner });
  });
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
  const next = change(state, (d) => {
    let r = trieGet(d.rooms, roomName);
    if (r === undefined) {
      r = { name: roomName, key, members: emptyTrie(), departures: 0, live: new RoomLive() };
      trieSet(d.rooms, roomName, r);
      trieSet(d.roomKeys, key, roomName);
    }
    trieSet(r.members, actor.id, actor);
    // The room's own name string, not the client's copy of it: one string per room, not per member.
    const session = trieGet(d.sessions, actor.id);
    if (session !== undefined) trieSet(session.rooms, r.name, r.name);
  });
  return { state: next, added: true };
}

/** Removes a member; `removed` is false when it was not one. An empty room is dropped. */
export function removeMember(state: RegistryState, roomName: string, actor: ConnectionActor): { state: RegistryState; removed: boolean } {
  const room = trieGet(state.rooms, roomName);
  if (room === undefined || trieGet(room.members, actor.id) === undefined) return { state, removed: false };
  const next = change(state, (d) => {
    leaveRoom(d, roomName, actor.id);
    const rooms = trieGet(d.sessions, actor.id)?.rooms;
    if (rooms !== undefined) trieDelete(rooms, roomName);
  });
  return { state: next, removed: true };
}

function leaveRoom(d: RegistryState, roomName: string, actorId: string): void {
  const room = trieGet(d.rooms, roomName);
  if (room === undefined) return;
  trieDelete(room.members, actorId);
  (room as { departures: number }).departures++;
  if (room.members.size === 0) {
    trieDelete(d.rooms, roomName);
    trieDelete(d.roomKeys, room.key);
  }
}
