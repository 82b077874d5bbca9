// RoomView: a room as clients see it — every node's members, listed and
// counted — and the `joined` reply built from that view.
//
// It is the one owner of the supervisor's only cache: a big room's users list
// as JSON (RoomLive.listed). A join storm into a room of 19k would otherwise
// list and encode MAX_LISTED_USERS names per join. Nobody invalidates the
// cache: it carries the stamps it was computed from (the room's departures,
// counted by the registry; the roster's version, counted by the backplane)
// and is rebuilt when either moved. Joins keep it: any MAX_LISTED_USERS
// members make a correct list.
import { MAX_LISTED_USERS } from '../constants.js';
import type { Backplane } from '../backplane/backplane.js';
import type { OutFrame } from '../protocol/out-frame.js';
import { encodeJoined, usersJson, type OpId } from '../protocol/protocol.js';
import { trieValues } from './hash-trie.js';
import type { Room } from './registry.js';

export class RoomView {
  readonly #backplane: Backplane;
  readonly #held: (room: string) => ReadonlySet<string> | undefined;

  /** `held`: users of this node whose connection dropped and who are held in grace there (presence-grace.ts). */
  constructor(backplane: Backplane, held: (room: string) => ReadonlySet<string> | undefined = () => undefined) {
    this.#backplane = backplane;
    this.#held = held;
  }

  /** Members on every node, and those held in grace. */
  count(room: Room): number {
    return room.members.size + (this.#held(room.name)?.size ?? 0) + this.#backplane.remoteMembers(room.name).size;
  }

  /** This node's members first (held ones too), then the roster of the other nodes', at most MAX_LISTED_USERS. */
  users(room: Room): string[] {
    // A user in several tabs is listed once (a JWT sub; other users have one connection each).
    const users = [...new Set(trieValues(room.members, MAX_LISTED_USERS).map((a) => a.user))];
    for (const user of this.#held(room.name) ?? []) if (users.length < MAX_LISTED_USERS) users.push(user);
    const remote = this.#backplane.remoteMembers(room.name);
    if (remote.size === 0 || users.length >= MAX_LISTED_USERS) return users;
    for (const user of remote.keys()) {
      users.push(user);
      if (users.length >= MAX_LISTED_USERS) break;
    }
    return users;
  }

  /** The `joined` reply; `recovery` for a join with `since` (a plain join carries the room's seq where known). */
  joined(room: Room, id: OpId | undefined, recovery: { recovered: boolean; latest: number } | null = null): OutFrame {
    const seq = recovery === null ? room.live.seq : recovery.latest;
    return encodeJoined(room.name, this.#usersJson(room), this.count(room), recovery?.recovered ?? null, seq, id);
  }

  #usersJson(room: Room): string {
    if (this.count(room) <= MAX_LISTED_USERS) return usersJson(this.users(room));
    const remote = this.#backplane.remoteMembers(room.name);
    const cached = room.live.listed;
    if (cached !== null && cached.departures === room.departures && cached.remote === remote && cached.remoteVersion === remote.version) {
      return cached.json;
    }
    const json = usersJson(this.users(room));
    room.live.listed = { json, departures: room.departures, remote, remoteVersion: remote.version };
    return json;
  }
}
