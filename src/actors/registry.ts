// The supervisor's registry: sessions, user names and rooms, as one immer value.
//
// Shape (every keyed collection is a HashTrie, so one change copies O(log32 n)):
//   sessions: actor id -> { actor, user, rooms: room name -> room name }
//   users:    a user name's canonical key (protocol/names.ts nameKey) -> actor:
//             `Alice`, `ALICE` and a Cyrillic `аlice` are one name
//   rooms:    room name -> { name, members: actor id -> actor, departures, live }
// `live` is a mutable RoomLive: pending presence and recovery bookkeeping
// change often, and a chat message must not pay a produce().
// immer neither drafts nor freezes class instances, so it rides along by
// reference; actors do too.
import { produce, setAutoFreeze } from 'immer';
import { nameKey } from '../protocol/names.js';
import type { ConnectionActor } from './connection-actor.js';
import { emptyTrie, trieDelete, trieGet, trieSet, trieValues, type HashTrie } from './hash-trie.js';

// The registry is changed only through `change` below, so deep-freezing every
// new version buys no safety here and cost a third of each join's produce()
// (measured in a 19k-member join storm). Frozen or not, versions are never mutated.
setAutoFreeze(false);

export interface Session {
  readonly actor: ConnectionActor;
  readonly user: string;
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
  /** Presence waiting to be sent in one batch (big rooms only). */
  joined: string[] = [];
  left: string[] = [];
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
  readonly members: HashTrie<ConnectionActor>;
  /** Members that have left this room since it was made: a list of members made before is stale. */
  readonly departures: number;
  readonly live: RoomLive;
}

export interface RegistryState {
  readonly sessions: HashTrie<Session>;
  readonly users: HashTrie<ConnectionActor>;
  readonly rooms: HashTrie<Room>;
}

export function emptyRegistry(): RegistryState {
  return { sessions: emptyTrie(), users: emptyTrie(), rooms: emptyTrie() };
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

export function addSession(state: RegistryState, actor: ConnectionActor, user: string): RegistryState {
  return change(state, (d) => {
    trieSet(d.sessions, actor.id, { actor, user, rooms: NO_ROOMS });
    trieSet(d.users, nameKey(user), actor);
  });
}

/** Removes a session from the registry and every room; returns the rooms it was in (as they are after). */
export function removeSession(state: RegistryState, actor: ConnectionActor): { state: RegistryState; left: string[] } {
  const session = trieGet(state.sessions, actor.id);
  if (session === undefined) return { state, left: [] };
  const left = trieValues(session.rooms);
  const next = change(state, (d) => {
    for (const name of left) leaveRoom(d, name, actor.id);
    trieDelete(d.sessions, actor.id);
    const key = nameKey(session.user);
    if (trieGet(d.users, key)?.id === actor.id) trieDelete(d.users, key);
  });
  return { state: next, left };
}

/** Adds a member; `added` is false when it already was one. */
export function addMember(state: RegistryState, roomName: string, actor: ConnectionActor): { state: RegistryState; added: boolean } {
  const room = trieGet(state.rooms, roomName);
  if (room !== undefined && trieGet(room.members, actor.id) !== undefined) return { state, added: false };
  const next = change(state, (d) => {
    let r = trieGet(d.rooms, roomName);
    if (r === undefined) {
      r = { name: roomName, members: emptyTrie(), departures: 0, live: new RoomLive() };
      trieSet(d.rooms, roomName, r);
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
  if (room.members.size === 0) trieDelete(d.rooms, roomName);
}
