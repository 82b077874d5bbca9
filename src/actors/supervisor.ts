// Supervisor: the actor that owns the registry (sessions, names, rooms) and
// decides what happens when another actor fails.
//
// Every op that touches shared state comes here as a message, so the registry
// has one writer and needs no locks. The data path is short: a `send` looks up
// the room, bumps its sequence, encodes the event ONCE and hands the same
// bytes to every member's Peer; nothing is copied per recipient and no immer
// produce() runs. Joins, leaves and registrations do produce(), each copying
// O(log32 n) of the state (see registry.ts).
//
// Failures: when an actor's handler throws, the scheduler marks it dead and
// tells the supervisor, which logs it, removes it from every room (presence
// `leave` to the others) and stops it: its socket closes with 1011. The
// supervisor's own handler has a boundary too: its state is immutable, so a
// message whose handling throws leaves the registry as it was; the connection
// whose op triggered it is stopped as above and the broker goes on.
import type { Logger } from 'pino';
import {
  BIG_ROOM_PRESENCE_INTERVAL_MS, BIG_ROOM_THRESHOLD, MAX_LISTED_USERS, MAX_NAME_LENGTH, SUPERVISOR_BUDGET,
} from '../constants.js';
import { encode, encodeError, type OpId } from '../transport/protocol.js';
import { Actor } from './actor.js';
import { ConnectionActor } from './connection-actor.js';
import { trieForEach, trieGet, trieValues } from './hash-trie.js';
import {
  addMember, addSession, emptyRegistry, removeMember, removeSession,
  type RegistryState, type Room,
} from './registry.js';
import type { Scheduler } from './scheduler.js';
import type { RoomOp, SupervisorMsg } from './supervisor-messages.js';

export interface SupervisorOptions {
  /** Rooms above this many members get coalesced presence. */
  bigRoomThreshold?: number;
  /** Coalesced presence is sent at most this often per room, ms. */
  presenceIntervalMs?: number;
  mailboxCapacity?: number;
}

export class Supervisor extends Actor<SupervisorMsg> {
  readonly kind = 'supervisor';
  override budget = SUPERVISOR_BUDGET;
  state: RegistryState = emptyRegistry();
  readonly #scheduler: Scheduler;
  readonly #log: Logger;
  readonly #bigRoom: number;
  readonly #presenceIntervalMs: number;
  /** Big rooms with presence waiting to be flushed. */
  readonly #presencePending = new Set<string>();
  #presenceTimer: NodeJS.Timeout | null = null;

  constructor(scheduler: Scheduler, log: Logger, options: SupervisorOptions = {}) {
    super('supervisor', options.mailboxCapacity ?? 1 << 16);
    this.#scheduler = scheduler;
    this.#log = log;
    this.#bigRoom = options.bigRoomThreshold ?? BIG_ROOM_THRESHOLD;
    this.#presenceIntervalMs = options.presenceIntervalMs ?? BIG_ROOM_PRESENCE_INTERVAL_MS;
    scheduler.onFailure((actor, error) => {
      scheduler.send(this, { type: 'failed', actor, error }, true);
    });
  }

  handle(msg: SupervisorMsg): void {
    try {
      this.#handle(msg);
    } catch (error) {
      const culprit = msg.type === 'op' ? msg.from : msg.type === 'failed' ? null : msg.type === 'flush-presence' ? null : msg.actor;
      this.#log.error({ err: error, msg: msg.type, actor: culprit?.id }, 'supervisor: handler threw; registry unchanged');
      if (culprit !== null && !culprit.dead) {
        try {
          this.#stopFailed(culprit, error);
        } catch (again) {
          this.#log.error({ err: again, actor: culprit.id }, 'supervisor: could not unregister the failed actor');
          this.#scheduler.stop(culprit, { kind: 'failed', error });
        }
      }
    }
  }

  /** The connection registered under a user name, if any. */
  findUser(name: string): ConnectionActor | undefined {
    return trieGet(this.state.users, name);
  }

  room(name: string): Room | undefined {
    return trieGet(this.state.rooms, name);
  }

  /** Stops the presence timer; the broker calls this when it shuts down. */
  dispose(): void {
    if (this.#presenceTimer !== null) clearTimeout(this.#presenceTimer);
    this.#presenceTimer = null;
  }

  #handle(msg: SupervisorMsg): void {
    switch (msg.type) {
      case 'op':
        if (msg.from.state !== 'open') return; // closing: its ops have no one to answer
        this.#op(msg.from, msg.op);
        return;
      case 'register':
        this.#register(msg.actor);
        return;
      case 'unregister':
        this.#unregister(msg.actor);
        return;
      case 'failed':
        if (msg.actor instanceof ConnectionActor) this.#stopFailed(msg.actor, msg.error);
        else {
          this.#log.error({ err: msg.error, actor: msg.actor.id }, 'actor failed');
          msg.actor.onStop({ kind: 'failed', error: msg.error });
        }
        return;
      case 'flush-presence':
        this.#presenceTimer = null;
        this.#flushPresence();
        return;
    }
  }

  #stopFailed(actor: ConnectionActor, error: unknown): void {
    this.#log.error({ err: error, actor: actor.id, user: actor.user }, 'connection actor failed; stopping it alone (1011)');
    this.#unregister(actor);
    actor.markUnregistered();
    // Dead already when the scheduler's boundary caught it; alive when the supervisor's did.
    if (actor.dead) actor.onStop({ kind: 'failed', error });
    else this.#scheduler.stop(actor, { kind: 'failed', error });
  }

  #register(actor: ConnectionActor): void {
    if (actor.dead) return;
    let name = actor.requestedName;
    if (name === null || trieGet(this.state.users, name) !== undefined) name = this.#freeName(name);
    this.state = addSession(this.state, actor, name);
    this.#scheduler.send(actor, { type: 'registered', user: name }, true);
  }

  /** A generated name: `guest-1a2b` when none was asked, `alice-1a2b` when alice is taken. */
  #freeName(base: string | null): string {
    const stem = (base ?? 'guest').slice(0, MAX_NAME_LENGTH - 5);
    for (;;) {
      const name = `${stem}-${Math.floor(Math.random() * 0x10000).toString(16).padStart(4, '0')}`;
      if (trieGet(this.state.users, name) === undefined) return name;
    }
  }

  #unregister(actor: ConnectionActor): void {
    const { state, left } = removeSession(this.state, actor);
    this.state = state;
    for (const name of left) {
      const room = trieGet(state.rooms, name);
      if (room !== undefined) this.#presence(room, actor.user, 'leave', null);
    }
  }

  #op(from: ConnectionActor, op: RoomOp): void {
    switch (op.op) {
      case 'send':
        return this.#publish(from, op.room, op.text, op.id);
      case 'join':
        return this.#join(from, op.room);
      case 'leave':
        return this.#leave(from, op.room, op.id);
      case 'dm':
        return this.#dm(from, op.to, op.text, op.id);
      case 'who': {
        const room = trieGet(this.state.rooms, op.room);
        from.peer.deliver(encode({
          type: 'who', room: op.room,
          users: room === undefined ? [] : listUsers(room), count: room?.members.size ?? 0,
        }));
        return;
      }
    }
  }

  /** The data path: encode once, the same bytes to every member. */
  #publish(from: ConnectionActor, roomName: string, text: string, id: OpId | undefined): void {
    const room = trieGet(this.state.rooms, roomName);
    if (room === undefined || trieGet(room.members, from.id) === undefined) {
      from.peer.deliver(encodeError('not_in_room', `join "${roomName}" before sending to it`, id));
      return;
    }
    const seq = ++room.live.seq;
    const frame = encode({ type: 'message', room: roomName, from: from.user, text, ts: Date.now(), seq });
    trieForEach(room.members, (member) => member.peer.deliver(frame));
    if (id !== undefined) from.peer.deliver(encode({ type: 'ack', id, seq }));
  }

  #join(from: ConnectionActor, roomName: string): void {
    const { state, added } = addMember(this.state, roomName, from);
    this.state = state;
    const room = trieGet(state.rooms, roomName)!;
    from.peer.deliver(encode({ type: 'joined', room: roomName, users: listUsers(room), count: room.members.size }));
    if (added) this.#presence(room, from.user, 'join', from);
  }

  #leave(from: ConnectionActor, roomName: string, id: OpId | undefined): void {
    const { state, removed } = removeMember(this.state, roomName, from);
    if (!removed) {
      from.peer.deliver(encodeError('not_in_room', `not a member of "${roomName}"`, id));
      return;
    }
    this.state = state;
    from.peer.deliver(encode({ type: 'left', room: roomName }));
    const room = trieGet(state.rooms, roomName);
    if (room !== undefined) this.#presence(room, from.user, 'leave', null);
  }

  #dm(from: ConnectionActor, to: string, text: string, id: OpId | undefined): void {
    const target = trieGet(this.state.users, to);
    if (target === undefined) {
      from.peer.deliver(encodeError('unknown_user', `no user "${to}" is online`, id));
      return;
    }
    target.peer.deliver(encode({ type: 'dm', from: from.user, to, text, ts: Date.now() }));
    if (id !== undefined) from.peer.deliver(encode({ type: 'ack', id }));
  }

  /**
   * Presence to the others in a room. Small rooms get one event per change,
   * encoded once. Big rooms (above the threshold) collect changes and get one
   * `batch` event at most every presenceIntervalMs: a storm of 20k joins must
   * not cost 20k x 20k writes.
   */
  #presence(room: Room, user: string, event: 'join' | 'leave', except: ConnectionActor | null): void {
    if (room.members.size > this.#bigRoom) {
      (event === 'join' ? room.live.joined : room.live.left).push(user);
      this.#presencePending.add(room.name);
      if (this.#presenceTimer === null) {
        const wait = Math.max(0, room.live.lastPresenceAt + this.#presenceIntervalMs - Date.now());
        this.#presenceTimer = setTimeout(() => this.#scheduler.send(this, { type: 'flush-presence' }, true), wait);
        this.#presenceTimer.unref();
      }
      return;
    }
    const frame = encode({ type: 'presence', room: room.name, user, event });
    trieForEach(room.members, (member) => {
      if (member !== except) member.peer.deliver(frame);
    });
  }

  #flushPresence(): void {
    const now = Date.now();
    for (const name of this.#presencePending) {
      const room = trieGet(this.state.rooms, name);
      if (room === undefined) continue;
      const live = room.live;
      const frame = encode({
        type: 'presence', room: name, event: 'batch',
        joined: live.joined.slice(0, MAX_LISTED_USERS), left: live.left.slice(0, MAX_LISTED_USERS),
        count: room.members.size,
      });
      live.joined = [];
      live.left = [];
      live.lastPresenceAt = now;
      trieForEach(room.members, (member) => member.peer.deliver(frame));
    }
    this.#presencePending.clear();
  }
}

function listUsers(room: Room): string[] {
  return trieValues(room.members, MAX_LISTED_USERS).map((a) => a.user);
}
