// Supervisor: the actor that owns the registry (sessions, names, rooms) and
// decides what happens when another actor fails.
//
// Every op that touches shared state comes here as a message, so the registry
// has one writer and needs no locks. The data path is short: a `send` checks
// membership and hands the backplane the event encoded up to its seq; the
// backplane assigns the seq, keeps it in the room's history and delivers it
// back (`room-message`) to every node with members, where the supervisor wraps
// the bytes in ONE OutFrame and hands it to every local member's Peer. Nothing
// is encoded or copied per recipient and no immer produce() runs. Joins,
// leaves and registrations do produce(), each copying O(log32 n) of the state
// (see registry.ts).
//
// Recovery: a `join` with `since` marks the member as recovering in that room.
// Live messages for it are held back while the backplane reads the history;
// when the history arrives the member gets `joined`, the missed messages, then
// the held-back ones, skipping every seq it already got: no gap, no duplicate,
// whatever the order in which history and live messages come back.
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
import type { Backplane, BackplaneSink, HistoryResult, Requester } from '../transport/backplane/backplane.js';
import { OutFrame } from '../transport/out-frame.js';
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

/** A member waiting for its history replay; live messages for it wait here. */
interface Recovery {
  since: number;
  held: { seq: number; frame: OutFrame }[];
}

export class Supervisor extends Actor<SupervisorMsg> {
  get kind(): 'supervisor' {
    return 'supervisor';
  }

  override budget = SUPERVISOR_BUDGET;
  state: RegistryState = emptyRegistry();
  readonly #scheduler: Scheduler;
  readonly #log: Logger;
  readonly #bigRoom: number;
  readonly #presenceIntervalMs: number;
  /** Big rooms with presence waiting to be flushed. */
  readonly #presencePending = new Set<string>();
  #presenceTimer: NodeJS.Timeout | null = null;
  readonly #backplane: Backplane;
  /** Members recovering history, by `${actorId}\n${room}`. */
  readonly #recovering = new Map<string, Recovery>();
  /** False while the backplane's link is down (Redis gone): local rooms go on. */
  backplaneUp = true;

  constructor(scheduler: Scheduler, log: Logger, backplane: Backplane, options: SupervisorOptions = {}) {
    super('supervisor', options.mailboxCapacity ?? 1 << 16);
    this.#scheduler = scheduler;
    this.#log = log;
    this.#backplane = backplane;
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
      const culprit = msg.type === 'op' ? msg.from
        : msg.type === 'register' || msg.type === 'unregister' ? msg.actor
        : 'who' in msg ? this.#actor(msg.who) ?? null
        : null;
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

  /** The sink the backplane reports to: everything becomes a message in this mailbox. */
  sink(): BackplaneSink {
    const send = (msg: SupervisorMsg) => this.#scheduler.send(this, msg, true);
    return {
      roomMessage: (room, seq, payload) => send({ type: 'room-message', room, seq, payload }),
      published: (who, room, seq) => send({ type: 'published', who, room, seq }),
      publishFailed: (who, room, reason) => send({ type: 'publish-failed', who, room, reason }),
      history: (who, room, kind, result) => send({ type: 'history', who, room, kind, result }),
      historyFailed: (who, room, kind, reason) => send({ type: 'history-failed', who, room, kind, reason }),
      linkChanged: (up) => send({ type: 'link', up }),
    };
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
      case 'room-message':
        this.#fanOut(msg.room, msg.seq, msg.payload);
        return;
      case 'published': {
        const from = this.#actor(msg.who);
        if (from !== undefined && msg.who.id !== undefined) from.peer.deliver(encode({ type: 'ack', id: msg.who.id, seq: msg.seq }));
        return;
      }
      case 'publish-failed':
        this.#actor(msg.who)?.peer.deliver(encodeError('unavailable', `message not stored: ${msg.reason}`, msg.who.id));
        return;
      case 'history':
        if (msg.kind === 'join') this.#recovered(msg.who, msg.room, msg.result);
        else this.#historyReply(msg.who, msg.room, msg.result);
        return;
      case 'history-failed':
        if (msg.kind === 'join') this.#recovered(msg.who, msg.room, { messages: [], latest: 0, recovered: false });
        else this.#actor(msg.who)?.peer.deliver(encodeError('unavailable', `history unavailable: ${msg.reason}`, msg.who.id));
        return;
      case 'link':
        this.backplaneUp = msg.up;
        if (msg.up) this.#log.info('backplane link is up');
        else this.#log.warn('backplane link is down: serving local rooms only until it returns');
        return;
    }
  }

  /** The live connection a backplane answer is for, if it is still here. */
  #actor(who: Requester): ConnectionActor | undefined {
    const actor = trieGet(this.state.sessions, who.actorId)?.actor;
    return actor === undefined || actor.dead ? undefined : actor;
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
    const before = this.state;
    const { state, left } = removeSession(before, actor);
    this.state = state;
    for (const name of left) {
      this.#endRecovery(actor, trieGet(before.rooms, name));
      const room = trieGet(state.rooms, name);
      if (room !== undefined) this.#presence(room, actor.user, 'leave', null);
      else this.#backplane.interest(name, false);
    }
  }

  #op(from: ConnectionActor, op: RoomOp): void {
    switch (op.op) {
      case 'send':
        return this.#publish(from, op.room, op.text, op.id);
      case 'join':
        return this.#join(from, op.room, op.since, op.id);
      case 'history':
        if (!this.#isMember(from, op.room)) {
          from.peer.deliver(encodeError('not_in_room', `join "${op.room}" to read its history`, op.id));
          return;
        }
        this.#backplane.history(op.room, { limit: op.limit }, requester(from, op.id), 'history');
        return;
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

  #isMember(actor: ConnectionActor, roomName: string): boolean {
    const room = trieGet(this.state.rooms, roomName);
    return room !== undefined && trieGet(room.members, actor.id) !== undefined;
  }

  /**
   * The data path, first half: check membership, encode the event up to its
   * seq, publish. The second half is #fanOut, when the backplane hands it back.
   */
  #publish(from: ConnectionActor, roomName: string, text: string, id: OpId | undefined): void {
    if (!this.#isMember(from, roomName)) {
      from.peer.deliver(encodeError('not_in_room', `join "${roomName}" before sending to it`, id));
      return;
    }
    const head = `{"type":"message","room":${JSON.stringify(roomName)},"from":${JSON.stringify(from.user)},` +
      `"text":${JSON.stringify(text)},"ts":${Date.now()},"seq":`;
    this.#backplane.publish(roomName, head, requester(from, id));
  }

  /** The data path, second half: one OutFrame, the same bytes to every local member. */
  #fanOut(roomName: string, seq: number, payload: Buffer): void {
    const room = trieGet(this.state.rooms, roomName);
    if (room === undefined) return;
    const frame = new OutFrame(payload);
    if (room.live.recovering === 0) {
      trieForEach(room.members, (member) => member.peer.deliver(frame));
      return;
    }
    trieForEach(room.members, (member) => {
      const recovery = this.#recovering.get(recoveryKey(member.id, roomName));
      if (recovery === undefined) member.peer.deliver(frame);
      else recovery.held.push({ seq, frame });
    });
  }

  #join(from: ConnectionActor, roomName: string, since: number | undefined, id: OpId | undefined): void {
    const { state, added } = addMember(this.state, roomName, from);
    this.state = state;
    const room = trieGet(state.rooms, roomName)!;
    if (added && room.members.size === 1) this.#backplane.interest(roomName, true);
    if (added) this.#presence(room, from.user, 'join', from);
    if (since === undefined) {
      from.peer.deliver(encode({ type: 'joined', room: roomName, users: listUsers(room), count: room.members.size }));
      return;
    }
    // Recovery: `joined` waits for the history, and live messages wait behind it.
    const key = recoveryKey(from.id, roomName);
    if (!this.#recovering.has(key)) room.live.recovering++;
    this.#recovering.set(key, { since, held: [] });
    this.#backplane.history(roomName, { since }, requester(from, id), 'join');
  }

  #recovered(who: Requester, roomName: string, result: HistoryResult): void {
    const key = recoveryKey(who.actorId, roomName);
    const recovery = this.#recovering.get(key);
    const room = trieGet(this.state.rooms, roomName);
    const actor = this.#actor(who);
    if (recovery === undefined || room === undefined || actor === undefined) return; // left meanwhile
    this.#recovering.delete(key);
    room.live.recovering--;
    actor.peer.deliver(encode({
      type: 'joined', room: roomName, users: listUsers(room), count: room.members.size,
      recovered: result.recovered, seq: result.latest,
    }));
    let last = recovery.since;
    for (const m of result.messages) {
      if (m.seq <= last) continue;
      actor.peer.deliver(new OutFrame(m.payload));
      last = m.seq;
    }
    for (const h of recovery.held) {
      if (h.seq <= last) continue;
      actor.peer.deliver(h.frame);
      last = h.seq;
    }
  }

  #endRecovery(actor: ConnectionActor, room: Room | undefined): void {
    if (room === undefined || room.live.recovering === 0) return;
    if (this.#recovering.delete(recoveryKey(actor.id, room.name))) room.live.recovering--;
  }

  #historyReply(who: Requester, roomName: string, result: HistoryResult): void {
    const actor = this.#actor(who);
    if (actor === undefined) return;
    // The stored events are JSON already: splice them in rather than parse and re-encode.
    const parts = [`{"type":"history","room":${JSON.stringify(roomName)},"messages":[`];
    result.messages.forEach((m, i) => parts.push(i === 0 ? '' : ',', m.payload.toString()));
    parts.push(`],"seq":${result.latest}${who.id === undefined ? '' : `,"id":${JSON.stringify(who.id)}`}}`);
    actor.peer.deliver(new OutFrame(Buffer.from(parts.join(''))));
  }

  #leave(from: ConnectionActor, roomName: string, id: OpId | undefined): void {
    const { state, removed } = removeMember(this.state, roomName, from);
    if (!removed) {
      from.peer.deliver(encodeError('not_in_room', `not a member of "${roomName}"`, id));
      return;
    }
    this.#endRecovery(from, trieGet(this.state.rooms, roomName));
    this.state = state;
    from.peer.deliver(encode({ type: 'left', room: roomName }));
    const room = trieGet(state.rooms, roomName);
    if (room !== undefined) this.#presence(room, from.user, 'leave', null);
    else this.#backplane.interest(roomName, false);
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

function requester(from: ConnectionActor, id: OpId | undefined): Requester {
  return id === undefined ? { actorId: from.id } : { actorId: from.id, id };
}

function recoveryKey(actorId: string, room: string): string {
  return `${actorId}\n${room}`;
}

function listUsers(room: Room): string[] {
  return trieValues(room.members, MAX_LISTED_USERS).map((a) => a.user);
}
