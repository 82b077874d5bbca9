// Presence: telling a room's members who joined and left.
//
// Small rooms get one event per change, encoded once. Big rooms (above the
// threshold) collect changes and get one `batch` event at most every
// presenceIntervalMs, and less often the bigger they are: a storm of 20k
// joins must not cost 20k x 20k writes, nor 20k writes every second it lasts.
// One timer serves every pending room; when it fires it posts `flush-presence`
// to the supervisor's mailbox, so flushing runs as the registry's one writer.
import {
  BIG_ROOM_PRESENCE_INTERVAL_MS, BIG_ROOM_PRESENCE_MS_PER_MEMBER, BIG_ROOM_THRESHOLD, MAX_BATCH_NAMES,
} from '../constants.js';
import type { OutFrame } from '../protocol/out-frame.js';
import { encode } from '../protocol/protocol.js';
import type { ConnectionActor } from './connection-actor.js';
import type { Room } from './registry.js';

export interface PresenceOptions {
  /** Rooms above this many members get coalesced presence. */
  bigRoomThreshold?: number;
  /** Coalesced presence is sent at most this often per room, ms. */
  presenceIntervalMs?: number;
}

/** What presence needs of the supervisor. */
export interface PresenceHost {
  /** The room by name as it is now, if it still exists. */
  room(name: string): Room | undefined;
  /** Members on every node (RoomView.count). */
  count(room: Room): number;
  /** One frame to every local member but `except`. */
  deliverAll(room: Room, frame: OutFrame, except: ConnectionActor | null): void;
  /** Asks for flush() to be called from the supervisor's mailbox. */
  requestFlush(): void;
}

export class Presence {
  readonly #host: PresenceHost;
  readonly #bigRoom: number;
  readonly #intervalMs: number;
  /** Big rooms with presence waiting to be flushed. */
  readonly #pending = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  /** When the armed timer fires (Date.now() ms). */
  #due = 0;

  constructor(host: PresenceHost, options: PresenceOptions = {}) {
    this.#host = host;
    this.#bigRoom = options.bigRoomThreshold ?? BIG_ROOM_THRESHOLD;
    this.#intervalMs = options.presenceIntervalMs ?? BIG_ROOM_PRESENCE_INTERVAL_MS;
  }

  /** `user` joined or left `room` (as the room is after the change). */
  tell(room: Room, user: string, event: 'join' | 'leave', except: ConnectionActor | null): void {
    if (room.members.size > this.#bigRoom) {
      const names = event === 'join' ? room.live.joined : room.live.left;
      if (names.length < MAX_BATCH_NAMES) names.push(user); // the batch lists no more; `count` has the rest
      this.#pending.add(room.name);
      this.#arm(room.live.lastPresenceAt + this.#interval(room));
      return;
    }
    this.#host.deliverAll(room, encode({ type: 'presence', room: room.name, user, event }), except);
  }

  /** Sends the batch of every pending room whose interval has passed; re-arms for the rest. */
  flush(): void {
    this.#timer = null;
    const now = Date.now();
    let nextDue = Infinity;
    for (const name of this.#pending) {
      const room = this.#host.room(name);
      if (room === undefined) {
        this.#pending.delete(name);
        continue;
      }
      const live = room.live;
      const due = live.lastPresenceAt + this.#interval(room);
      if (due > now) {
        nextDue = Math.min(nextDue, due);
        continue;
      }
      this.#pending.delete(name);
      const frame = encode({
        type: 'presence', room: name, event: 'batch', joined: live.joined, left: live.left,
        count: this.#host.count(room), // every node's members
      });
      live.joined = [];
      live.left = [];
      live.lastPresenceAt = now;
      this.#host.deliverAll(room, frame, null);
    }
    if (nextDue !== Infinity) this.#arm(nextDue);
  }

  /** Stops the timer; the broker calls this (through the supervisor) when it shuts down. */
  dispose(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #interval(room: Room): number {
    return Math.max(this.#intervalMs, room.members.size * BIG_ROOM_PRESENCE_MS_PER_MEMBER);
  }

  /** One timer for every pending room, due at the earliest of them. */
  #arm(due: number): void {
    if (this.#timer !== null) {
      if (due >= this.#due) return;
      clearTimeout(this.#timer);
    }
    this.#due = due;
    this.#timer = setTimeout(() => this.#host.requestFlush(), Math.max(0, due - Date.now()));
    this.#timer.unref();
  }
}
