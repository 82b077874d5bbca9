// Presence: telling a room's members who joined and left.
//
// Every room's presence is coalesced, small rooms' too. A change is recorded
// per user (joins less leaves), so a join and a leave of one user between two
// frames cancel, and the room's members get at most one presence frame per
// interval: members x PRESENCE_MS_PER_MEMBER ms (a room of 400: 100 ms; under
// 40 members, one slice), and for big rooms at least presenceIntervalMs. A
// room that was quiet that long sends at the end of the slice the change
// came in, so an ordinary join is told at once. One change alone goes out in
// the single form (`user`, `event`); several as one `batch` (`joined`, `left`,
// `count`), the form big rooms always use. Before a message goes to a room whose
// presence is due, that presence goes first, so "bob joined" is not told
// after bob's first message. Without this a member flapping join/leave in a
// room of 400 made 798 frames per flap (issue 13: 5.2M in 10 s).
//
// Rooms due now wait for the slice's end (a scheduler hook, registered before
// the sockets' flush, so they leave in that slice's writes); the others for
// one timer, which posts `flush-presence` to the supervisor's mailbox.
//
// What a change costs its author, in rate-limit tokens, is cost() (the
// supervisor charges it): the fan-out is paid by whoever causes it.
import {
  BIG_ROOM_PRESENCE_INTERVAL_MS, BIG_ROOM_THRESHOLD, MAX_BATCH_NAMES, PRESENCE_CHARGE_MEMBERS, PRESENCE_MS_PER_MEMBER, SLICE_BUDGET_MS,
} from '../constants.js';
import type { OutFrame } from '../protocol/out-frame.js';
import { encode } from '../protocol/protocol.js';
import type { ConnectionActor } from './connection-actor.js';
import type { Room } from './registry.js';

export interface PresenceOptions {
  /** Rooms above this many members get a batch every time, at least presenceIntervalMs apart. */
  bigRoomThreshold?: number;
  /** Coalesced presence of a big room is sent at most this often, ms. */
  presenceIntervalMs?: number;
  /** A join or leave costs one token per this many members (0: nothing). */
  presenceChargeMembers?: number;
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

const NONE = 0;
const AT_SLICE_END = 1;
const ON_TIMER = 2;

export class Presence {
  readonly #host: PresenceHost;
  readonly #bigRoom: number;
  readonly #intervalMs: number;
  readonly #chargeMembers: number;
  /** Rooms to flush at the end of this slice, by name: a Room is copied on every membership change. */
  #dueNow: string[] = [];
  /** Rooms waiting for the timer, by name (a room may be gone when it fires). */
  readonly #later = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  /** When the armed timer fires (Date.now() ms). */
  #due = 0;

  constructor(host: PresenceHost, options: PresenceOptions = {}) {
    this.#host = host;
    this.#bigRoom = options.bigRoomThreshold ?? BIG_ROOM_THRESHOLD;
    this.#intervalMs = options.presenceIntervalMs ?? BIG_ROOM_PRESENCE_INTERVAL_MS;
    this.#chargeMembers = options.presenceChargeMembers ?? PRESENCE_CHARGE_MEMBERS;
  }

  /** `user` joined or left `room` (as the room is after the change); `except` is the joiner. */
  tell(room: Room, user: string, event: 'join' | 'leave', except: ConnectionActor | null): void {
    const live = room.live;
    const changes = (live.changes ??= new Map());
    const net = (changes.get(user) ?? 0) + (event === 'join' ? 1 : -1);
    if (net === 0) changes.delete(user);
    else changes.set(user, net);
    if (event === 'join') live.joiner = except;
    if (live.presenceQueued !== NONE) return;
    const due = live.lastPresenceAt + this.#interval(room);
    if (due <= Date.now()) {
      live.presenceQueued = AT_SLICE_END;
      this.#dueNow.push(room.name);
    } else {
      live.presenceQueued = ON_TIMER;
      this.#later.add(room.name);
      this.#arm(due);
    }
  }

  /** Tokens a join or leave in `room` (as it is after the change) costs its author. */
  cost(room: Room | undefined): number {
    if (room === undefined || this.#chargeMembers === 0) return 0;
    return Math.floor(Math.min(room.members.size, this.#bigRoom) / this.#chargeMembers);
  }

  /** A message is about to go to `room`: its presence goes first if it is due. */
  settle(room: Room): void {
    const live = room.live;
    if (live.presenceQueued === AT_SLICE_END || (live.presenceQueued === ON_TIMER && live.lastPresenceAt + this.#interval(room) <= Date.now())) {
      this.#send(room, Date.now());
    }
  }

  /** The slice is over: rooms due now are told (before the sockets are flushed). */
  sliceEnded(): void {
    if (this.#dueNow.length === 0) return;
    const names = this.#dueNow;
    this.#dueNow = [];
    const now = Date.now();
    for (const name of names) {
      const room = this.#host.room(name);
      if (room?.live.presenceQueued === AT_SLICE_END) this.#send(room, now);
    }
  }

  /** The timer fired: sends every waiting room whose interval has passed; re-arms for the rest. */
  flush(): void {
    this.#timer = null;
    const now = Date.now();
    let nextDue = Infinity;
    for (const name of this.#later) {
      const room = this.#host.room(name);
      if (room === undefined || room.live.presenceQueued !== ON_TIMER) {
        this.#later.delete(name);
        continue;
      }
      const due = room.live.lastPresenceAt + this.#interval(room);
      if (due > now) nextDue = Math.min(nextDue, due);
      else this.#send(room, now);
    }
    if (nextDue !== Infinity) this.#arm(nextDue);
  }

  /** Stops the timer; the broker calls this (through the supervisor) when it shuts down. */
  dispose(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #send(room: Room, now: number): void {
    const live = room.live;
    if (live.presenceQueued === ON_TIMER) this.#later.delete(room.name);
    live.presenceQueued = NONE;
    const changes = live.changes;
    const joiner = live.joiner;
    live.changes = null;
    live.joiner = null;
    if (changes === null || changes.size === 0) return; // all cancelled: nothing to tell, and the next change goes at once
    live.lastPresenceAt = now;
    if (changes.size === 1 && room.members.size <= this.#bigRoom) {
      const [[user, net]] = changes;
      if (net === 1 || net === -1) {
        const event = net === 1 ? 'join' : 'leave';
        const except = event === 'join' && joiner !== null && joiner.user === user ? joiner : null;
        this.#host.deliverAll(room, encode({ type: 'presence', room: room.name, user, event }), except);
        return;
      }
    }
    const joined: string[] = [];
    const left: string[] = [];
    for (const [user, net] of changes) {
      const list = net > 0 ? joined : left;
      if (list.length < MAX_BATCH_NAMES) list.push(user); // the batch lists no more; `count` has the rest
    }
    const frame = encode({
      type: 'presence', room: room.name, event: 'batch', joined, left,
      count: this.#host.count(room), // every node's members
    });
    this.#host.deliverAll(room, frame, null);
  }

  #interval(room: Room): number {
    const n = room.members.size;
    const scaled = n * PRESENCE_MS_PER_MEMBER;
    if (n > this.#bigRoom) return Math.max(this.#intervalMs, scaled);
    // Below a slice's worth, per slice: a window of a millisecond or two buys nothing (a room of
    // 30 fans out no more than a message to it does) and would make a quick join-then-leave
    // vanish for the others, who had no reason to expect it to.
    return scaled < SLICE_BUDGET_MS ? 0 : scaled;
  }

  /** One timer for every waiting room, due at the earliest of them. */
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
