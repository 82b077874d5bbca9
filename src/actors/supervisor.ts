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
// Several nodes (Redis, or --workers): user names are claimed through the
// backplane before `registered`; joins and leaves are told to it so the other
// nodes' rosters follow; `joined` and `who` list this node's members and the
// backplane's roster of the others; a DM to a user who is not here goes to the
// backplane. The first join of a room on this node waits for the room to be
// ready (roster loaded, subscription live) before `joined`. With the memory
// backplane every one of these answers at once and nothing waits.
//
// Failures: when an actor's handler throws, the scheduler marks it dead and
// tells the supervisor, which logs it, removes it from every room (presence
// `leave` to the others) and stops it: its socket closes with 1011. The
// supervisor's own handler has a boundary too: its state is immutable, so a
// message whose handling throws leaves the registry as it was; the connection
// whose op triggered it is stopped as above and the broker goes on.
import type { Logger } from 'pino';
import {
  BIG_ROOM_PRESENCE_INTERVAL_MS, BIG_ROOM_PRESENCE_MS_PER_MEMBER, BIG_ROOM_THRESHOLD, MAX_BATCH_NAMES, MAX_LISTED_USERS,
  MAX_NAME_LENGTH, SUPERVISOR_BUDGET,
} from '../constants.js';
import type { Backplane, BackplaneSink, HistoryResult, Requester } from '../backplane/backplane.js';
import { OutFrame } from '../protocol/out-frame.js';
import { encode, encodeError, withId, type OpId } from '../protocol/protocol.js';
import { Actor } from './actor.js';
import { ConnectionActor, RELEASE } from './connection-actor.js';
import { trieForEach, trieGet, trieValues } from './hash-trie.js';
import {
  addMember, addSession, emptyRegistry, removeMember, removeSession,
  type RegistryState, type Room,
} from './registry.js';
import type { Scheduler } from './scheduler.js';
import type { PeerMsg, RoomOp, SupervisorMsg } from './supervisor-messages.js';

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
  /** When the armed presence timer fires (Date.now() ms). */
  #presenceDue = 0;
  readonly #backplane: Backplane;
  /** Times its own handler threw (each logged, the culprit stopped): 0 in a healthy broker. */
  handlerErrors = 0;
  /** Members recovering history, by `${actorId}\n${room}`. */
  readonly #recovering = new Map<string, Recovery>();
  /** The broker is closing every connection: presence has no audience left. */
  #quiescing = false;
  /** False while the backplane's link is down (Redis gone): local rooms go on. */
  backplaneUp = true;
  /** Connections whose name claim is out to the backplane, by actor id; and the names. */
  readonly #claims = new Map<string, { actor: ConnectionActor; user: string }>();
  readonly #claimedNames = new Set<string>();
  /** Plain joins waiting for their room to be ready, by room. */
  readonly #readyWaits = new Map<string, Requester[]>();

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
      this.handlerErrors++;
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
      roomReady: (room) => send({ type: 'room-ready', room }),
      remotePresence: (room, user, event) => send({ type: 'remote-presence', room, user, event }),
      claimed: (who, user, ok) => send({ type: 'claimed', who, user, ok }),
      directMessage: (to, payload) => send({ type: 'direct-message', to, payload }),
      dmResult: (who, to, outcome) => send({ type: 'dm-result', who, to, outcome }),
      members: (who, room, users, count) => send({ type: 'members', who, room, users, count }),
    };
  }

  /**
   * Shutdown is starting: every member of every room is about to go, so the
   * leaves skip presence (at 19k connections that fan-out was a third of the
   * shutdown's CPU, and clients were cut at the timeout for it).
   */
  quiesce(): void {
    this.#quiescing = true;
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
      case 'notify':
        // Everything this connection queued before its note is handled: it may go on.
        this.#scheduler.send(msg.actor, RELEASE, true);
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
        if (from !== undefined && msg.who.id !== undefined) {
          // seq 0: the backplane is down; the message reached this node's members only.
          from.peer.deliver(encode(msg.seq > 0 ? { type: 'ack', id: msg.who.id, seq: msg.seq } : { type: 'ack', id: msg.who.id, stored: false }));
        }
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
      default:
        this.#fromPeers(msg);
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
    if (name === null || this.#nameTaken(name)) name = this.#freeName(name);
    this.#claim(actor, name);
  }

  /** Registers at once when the backplane says the name is ours; else waits for `claimed`. */
  #claim(actor: ConnectionActor, name: string): void {
    if (this.#backplane.claimUser(name, { actorId: actor.id })) {
      this.#registered(actor, name);
      return;
    }
    this.#claims.set(actor.id, { actor, user: name });
    this.#claimedNames.add(name);
  }

  #registered(actor: ConnectionActor, name: string): void {
    this.state = addSession(this.state, actor, name);
    this.#scheduler.send(actor, { type: 'registered', user: name }, true);
  }

  #nameTaken(name: string): boolean {
    return trieGet(this.state.users, name) !== undefined || this.#claimedNames.has(name);
  }

  /** A generated name: `guest-1a2b` when none was asked, `alice-1a2b` when alice is taken. */
  #freeName(base: string | null): string {
    const stem = (base ?? 'guest').slice(0, MAX_NAME_LENGTH - 5);
    for (;;) {
      const name = `${stem}-${Math.floor(Math.random() * 0x10000).toString(16).padStart(4, '0')}`;
      if (!this.#nameTaken(name)) return name;
    }
  }

  #unregister(actor: ConnectionActor): void {
    const before = this.state;
    const { state, left } = removeSession(before, actor);
    this.state = state;
    for (const name of left) {
      this.#endRecovery(actor, trieGet(before.rooms, name));
      this.#backplane.membership(name, actor.user, false);
      const room = trieGet(state.rooms, name);
      if (room !== undefined) room.live.listedJson = null;
      if (room !== undefined && !this.#quiescing) this.#presence(room, actor.user, 'leave', null);
      else this.#backplane.interest(name, false);
    }
    if (state !== before) this.#backplane.releaseUser(actor.user, { actorId: actor.id });
    this.#dropClaim(actor.id);
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
        if (this.#backplane.multiNode && (room === undefined || !this.#backplane.isReady(op.room))) {
          this.#backplane.who(op.room, requester(from, op.id)); // others may have members we do not see
          return;
        }
        from.peer.deliver(encode(withId({
          type: 'who', room: op.room,
          users: room === undefined ? [] : this.#listUsers(room), count: room === undefined ? 0 : this.#count(room),
        }, op.id)));
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
      this.#deliverAll(room, frame, null);
      return;
    }
    trieForEach(room.members, (member) => {
      const recovery = this.#recovering.get(recoveryKey(member.id, roomName));
      if (recovery === undefined) this.#deliverOne(member, frame);
      else recovery.held.push({ seq, frame });
    });
  }

  /** One frame to every member of a room (but `except`): one member's failure robs no other. */
  #deliverAll(room: Room, frame: OutFrame, except: ConnectionActor | null): void {
    trieForEach(room.members, (member) => {
      if (member !== except) this.#deliverOne(member, frame);
    });
  }

  #deliverOne(member: ConnectionActor, frame: OutFrame): void {
    try {
      member.peer.deliver(frame);
    } catch (error) {
      // Caught here, not by handle(): the members after this one still get the frame.
      this.handlerErrors++;
      this.#log.error({ err: error, actor: member.id }, 'supervisor: delivery to a member threw; stopping it alone');
      if (!member.dead) this.#stopFailed(member, error);
    }
  }

  #join(from: ConnectionActor, roomName: string, since: number | undefined, id: OpId | undefined): void {
    const { state, added } = addMember(this.state, roomName, from);
    this.state = state;
    const room = trieGet(state.rooms, roomName)!;
    if (added && room.members.size === 1) this.#backplane.interest(roomName, true);
    if (added) {
      this.#backplane.membership(roomName, from.user, true);
      this.#presence(room, from.user, 'join', from);
    }
    if (since === undefined) {
      if (this.#backplane.isReady(roomName)) from.peer.deliver(this.#joinedFrame(room, id));
      else this.#awaitReady(roomName, requester(from, id));
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
    actor.peer.deliver(this.#joinedFrame(room, who.id, result));
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
    this.#backplane.membership(roomName, from.user, false);
    this.state = state;
    from.peer.deliver(encode(withId({ type: 'left', room: roomName }, id)));
    const room = trieGet(state.rooms, roomName);
    if (room !== undefined) room.live.listedJson = null;
    if (room !== undefined) this.#presence(room, from.user, 'leave', null);
    else this.#backplane.interest(roomName, false);
  }

  #dm(from: ConnectionActor, to: string, text: string, id: OpId | undefined): void {
    const target = trieGet(this.state.users, to);
    if (target === undefined && this.#backplane.multiNode) {
      const frame = encode({ type: 'dm', from: from.user, to, text, ts: Date.now() });
      this.#backplane.dm(to, frame.payload, requester(from, id)); // on another node, maybe
      return;
    }
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
   * `batch` event at most every presenceIntervalMs, and less often the bigger
   * they are: a storm of 20k joins must not cost 20k x 20k writes, nor 20k
   * writes every second it lasts.
   */
  #presence(room: Room, user: string, event: 'join' | 'leave', except: ConnectionActor | null): void {
    if (room.members.size > this.#bigRoom) {
      const names = event === 'join' ? room.live.joined : room.live.left;
      if (names.length < MAX_BATCH_NAMES) names.push(user); // the batch lists no more; `count` has the rest
      this.#presencePending.add(room.name);
      this.#armPresence(room.live.lastPresenceAt + this.#presenceInterval(room));
      return;
    }
    this.#deliverAll(room, encode({ type: 'presence', room: room.name, user, event }), except);
  }

  #presenceInterval(room: Room): number {
    return Math.max(this.#presenceIntervalMs, room.members.size * BIG_ROOM_PRESENCE_MS_PER_MEMBER);
  }

  /** One timer for every pending room, due at the earliest of them. */
  #armPresence(due: number): void {
    if (this.#presenceTimer !== null) {
      if (due >= this.#presenceDue) return;
      clearTimeout(this.#presenceTimer);
    }
    this.#presenceDue = due;
    this.#presenceTimer = setTimeout(() => this.#scheduler.send(this, { type: 'flush-presence' }, true), Math.max(0, due - Date.now()));
    this.#presenceTimer.unref();
  }

  /** Sends the batch of every pending room whose interval has passed; re-arms for the rest. */
  #flushPresence(): void {
    const now = Date.now();
    let nextDue = Infinity;
    for (const name of this.#presencePending) {
      const room = trieGet(this.state.rooms, name);
      if (room === undefined) {
        this.#presencePending.delete(name);
        continue;
      }
      const live = room.live;
      const due = live.lastPresenceAt + this.#presenceInterval(room);
      if (due > now) {
        nextDue = Math.min(nextDue, due);
        continue;
      }
      this.#presencePending.delete(name);
      const frame = encode({
        type: 'presence', room: name, event: 'batch', joined: live.joined, left: live.left,
        count: this.#count(room), // every node's members
      });
      live.joined = [];
      live.left = [];
      live.lastPresenceAt = now;
      this.#deliverAll(room, frame, null);
    }
    if (nextDue !== Infinity) this.#armPresence(nextDue);
  }

  // --- several nodes: what the backplane reports about the others ---

  #fromPeers(msg: PeerMsg): void {
    switch (msg.type) {
      case 'room-ready':
        return this.#roomReady(msg.room);
      case 'remote-presence': {
        const room = trieGet(this.state.rooms, msg.room);
        if (room === undefined) return;
        // A big room's cached users list may name the other nodes' members (#listUsers).
        room.live.listedJson = null;
        this.#presence(room, msg.user, msg.event, null);
        return;
      }
      case 'claimed':
        return this.#claimed(msg.who, msg.user, msg.ok);
      case 'direct-message': {
        const target = trieGet(this.state.users, msg.to);
        if (target !== undefined && !target.dead) target.peer.deliver(new OutFrame(msg.payload));
        return; // gone meanwhile: a DM is delivered at most once, never queued
      }
      case 'dm-result': {
        const from = this.#actor(msg.who);
        if (from === undefined) return;
        if (msg.outcome === 'unknown_user') from.peer.deliver(encodeError('unknown_user', `no user "${msg.to}" is online`, msg.who.id));
        else if (msg.outcome === 'unavailable') from.peer.deliver(encodeError('unavailable', 'the backplane is down: users on other nodes cannot be reached', msg.who.id));
        else if (msg.who.id !== undefined) from.peer.deliver(encode({ type: 'ack', id: msg.who.id }));
        return;
      }
      case 'members':
        this.#actor(msg.who)?.peer.deliver(encode(withId({ type: 'who', room: msg.room, users: msg.users, count: msg.count }, msg.who.id)));
        return;
    }
  }

  #claimed(who: Requester, user: string, ok: boolean): void {
    const claim = this.#claims.get(who.actorId);
    if (claim === undefined || claim.user !== user) {
      if (ok) this.#backplane.releaseUser(user, who); // its connection went away meanwhile
      return;
    }
    this.#dropClaim(who.actorId);
    const actor = claim.actor;
    if (actor.dead || actor.state !== 'connecting') {
      if (ok) this.#backplane.releaseUser(user, who);
    } else if (ok) {
      this.#registered(actor, user);
    } else {
      this.#claim(actor, this.#freeName(actor.requestedName)); // taken on another node
    }
  }

  #dropClaim(actorId: string): void {
    const claim = this.#claims.get(actorId);
    if (claim === undefined) return;
    this.#claims.delete(actorId);
    this.#claimedNames.delete(claim.user);
  }

  #awaitReady(roomName: string, who: Requester): void {
    const waits = this.#readyWaits.get(roomName);
    if (waits === undefined) this.#readyWaits.set(roomName, [who]);
    else waits.push(who);
  }

  /** The room's roster is loaded: the joins that waited for it get `joined`. */
  #roomReady(roomName: string): void {
    const waits = this.#readyWaits.get(roomName);
    if (waits === undefined) return;
    this.#readyWaits.delete(roomName);
    const room = trieGet(this.state.rooms, roomName);
    if (room === undefined) return;
    let shared: OutFrame | null = null; // for the joins without an id: one encoding
    for (const who of waits) {
      const actor = this.#actor(who);
      if (actor === undefined || trieGet(room.members, actor.id) === undefined) continue; // left meanwhile
      actor.peer.deliver(who.id === undefined ? (shared ??= this.#joinedFrame(room, undefined)) : this.#joinedFrame(room, who.id));
    }
  }

  /**
   * The `joined` reply, with every node's members. In a big room the users
   * list is cached JSON (RoomLive.listedJson): a join storm into a room of 19k
   * would otherwise list and encode 1,000 names per join.
   */
  #joinedFrame(room: Room, id: OpId | undefined, recovery: HistoryResult | null = null): OutFrame {
    const live = room.live;
    const count = this.#count(room);
    let users = count > MAX_LISTED_USERS ? live.listedJson : null;
    if (users === null) {
      users = JSON.stringify(this.#listUsers(room));
      if (count > MAX_LISTED_USERS) live.listedJson = users;
    }
    let json = `{"type":"joined","room":${JSON.stringify(room.name)},"users":${users},"count":${count}`;
    if (recovery !== null) json += `,"recovered":${recovery.recovered},"seq":${recovery.latest}`;
    if (id !== undefined) json += `,"id":${JSON.stringify(id)}`;
    return new OutFrame(Buffer.from(`${json}}`));
  }

  /** This node's members first, then the roster of the other nodes', at most MAX_LISTED_USERS. */
  #listUsers(room: Room): string[] {
    const users = listUsers(room);
    const remote = this.#backplane.remoteMembers(room.name);
    if (remote.size === 0 || users.length >= MAX_LISTED_USERS) return users;
    for (const user of remote.keys()) {
      users.push(user);
      if (users.length >= MAX_LISTED_USERS) break;
    }
    return users;
  }

  #count(room: Room): number {
    return room.members.size + this.#backplane.remoteMembers(room.name).size;
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

