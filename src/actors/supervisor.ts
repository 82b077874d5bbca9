// Supervisor: the actor that owns the registry (sessions, names, rooms),
// dispatches every op that touches it, and decides what happens when another
// actor fails.
//
// Every op that touches shared state comes here as a message, so the registry
// has one writer and needs no locks. The data path is short: a `send` checks
// membership and hands the backplane the event encoded up to its seq; the
// backplane assigns the seq, keeps it in the room's history and delivers it
// back (`room-message`) to every node with members, where the supervisor wraps
// the bytes in ONE OutFrame and hands it to every local member's Peer. Nothing
// is encoded or copied per recipient and no registry version is made. Joins,
// leaves and registrations make one, each copying O(log32 n) of the state
// (see registry.ts).
//
// Its parts, each in its own file: names.ts (which name a connection gets),
// recovery.ts (`join` with `since`), presence.ts (who joined and left, batched
// in big rooms), room-view.ts (users lists and counts, and the one cache),
// supervisor-sink.ts (the backplane's reports as mailbox messages),
// presence-grace.ts (a dropped user held before its leave is told). This file
// keeps the dispatch and the failure boundary.
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
  CLOSE_KICKED, CLOSE_NORMAL, CLOSE_REPLACED, MAX_HELD_NAMES, MAX_OUTBOX_BYTES, MAX_OUTBOX_FRAMES, MAX_ROOMS_PER_CONN, REPLY_CHARGE_BYTES,
  ROOM_CHANGE_WORK_BYTES, SUPERVISOR_BUDGET,
} from '../constants.js';
import { biggestRooms, type Backplane, type BackplaneSink, type HistoryResult, type Requester, type RoomCount } from '../backplane/backplane.js';
import { OutFrame } from '../protocol/out-frame.js';
import { encode, encodeError, encodeHistory, messageHead, withId, type OpId, type ServerEvent } from '../protocol/protocol.js';
import { Actor } from './actor.js';
import { ConnectionActor, RELEASE } from './connection-actor.js';
import { trieForEach, trieGet } from './hash-trie.js';
import { Names } from './names.js';
import { nameKey } from '../protocol/names.js';
import { Presence, type PresenceOptions } from './presence.js';
import { PresenceGrace, type Hold } from './presence-grace.js';
import { Recoveries } from './recovery.js';
import { fitReplay } from './replay-limit.js';
import {
  addMember, addSession, emptyRegistry, keyOf, otherTabIn, removeMember, removeSession,
  type RegistryState, type Room,
} from './registry.js';
import { accessTo, OPEN_RULES, type Access, type RoomRules } from './room-access.js';
import { RoomView } from './room-view.js';
import { errorJson, publishedJson, ServerCalls, type ReplyTo, type ServerCall } from './server-calls.js';
import type { Scheduler } from './scheduler.js';
import type { PeerMsg, RoomOp, SupervisorMsg } from './supervisor-messages.js';
import { supervisorSink } from './supervisor-sink.js';

export interface SupervisorOptions extends PresenceOptions {
  mailboxCapacity?: number;
  /** Who may read and write which rooms when a connection's token has no rooms claim (room-access.ts). */
  roomPolicy?: RoomRules;
  /** Rooms one connection may be in at once; a join past it is refused `too_many_rooms`. */
  maxRoomsPerConn?: number;
  /** User ids are verified JWT subs, compared as they are; else names compare in canonical form (Names). */
  exactUserIds?: boolean;
  /** Bytes of stored events one replay or history page may carry (replay-limit.ts); default half of MAX_OUTBOX_BYTES. */
  maxReplayBytes?: number;
  /** Messages one replay may carry, each a frame; default half of MAX_OUTBOX_FRAMES. */
  maxReplayFrames?: number;
  /** A dropped user's presence and name are held this long before its leave is told, ms; 0 (the default here): not held. */
  presenceGraceMs?: number;
  /** Names held in grace at once; past it the oldest hold ends early. */
  maxHeldNames?: number;
  /** A history page, replay or who list costs its reader one rate-limit token more per this many bytes; 0: free. */
  replyChargeBytes?: number;
}

const FLUSH_PRESENCE: SupervisorMsg = { type: 'flush-presence' };
const GRACE_DUE: SupervisorMsg = { type: 'grace-due' };
/** WebSocket close 1005: a close frame without a code, as a browser's ws.close() sends. */
const CLOSE_NO_STATUS = 1005;
/** First byte of a DM payload that is the server API's disconnect, not an event (events start with `{`). */
const KICK_MARK = 0;

export class Supervisor extends Actor<SupervisorMsg> {
  get kind(): 'supervisor' {
    return 'supervisor';
  }

  override budget = SUPERVISOR_BUDGET;
  /** A big budget, so its turn is bounded in time too (scheduler.ts #runTurn). */
  override timeSliced = true;
  state: RegistryState = emptyRegistry();
  readonly #scheduler: Scheduler;
  readonly #log: Logger;
  readonly #backplane: Backplane;
  readonly #names: Names;
  readonly #presence: Presence;
  readonly #grace: PresenceGrace;
  readonly #recoveries = new Recoveries();
  readonly #view: RoomView;
  /** Times its own handler threw (each logged, the culprit stopped): 0 in a healthy broker. */
  handlerErrors = 0;
  /** The broker is closing every connection: presence has no audience left. */
  #quiescing = false;
  /** False while the backplane's link is down (Redis gone): local rooms go on. */
  backplaneUp = true;
  /** Plain joins waiting for their room to be ready, by room. */
  readonly #readyWaits = new Map<string, Requester[]>();
  readonly #roomPolicy: RoomRules;
  readonly #maxRooms: number;
  readonly #maxReplayBytes: number;
  readonly #maxReplayFrames: number;
  readonly #replyChargeBytes: number;
  readonly #calls = new ServerCalls();

  constructor(scheduler: Scheduler, log: Logger, backplane: Backplane, options: SupervisorOptions = {}) {
    super('supervisor', options.mailboxCapacity ?? 1 << 16);
    this.#scheduler = scheduler;
    this.#log = log;
    this.#backplane = backplane;
    this.#grace = new PresenceGrace({
      requestExpiry: () => this.#scheduler.send(this, GRACE_DUE, true),
      ended: (key, hold) => this.#graceEnded(key, hold),
    }, options.presenceGraceMs ?? 0, options.maxHeldNames ?? MAX_HELD_NAMES);
    this.#view = new RoomView(backplane, (room) => this.#grace.heldIn(room));
    this.#roomPolicy = options.roomPolicy ?? OPEN_RULES;
    this.#maxRooms = options.maxRoomsPerConn ?? MAX_ROOMS_PER_CONN;
    this.#maxReplayBytes = options.maxReplayBytes ?? Math.floor(MAX_OUTBOX_BYTES / 2);
    this.#maxReplayFrames = options.maxReplayFrames ?? Math.floor(MAX_OUTBOX_FRAMES / 2);
    this.#replyChargeBytes = options.replyChargeBytes ?? REPLY_CHARGE_BYTES;
    this.#names = new Names({
      registered: (key) => trieGet(this.state.users, key) !== undefined || this.#grace.held(key) !== undefined,
      resume: (actor, key) => this.#resume(actor, key),
      grant: (actor, name, key) => this.#registered(actor, name, key),
    }, backplane, options.exactUserIds ?? false);
    this.#presence = new Presence({
      room: (name) => trieGet(this.state.rooms, name),
      count: (room) => this.#view.count(room),
      deliverAll: (room, frame, except) => this.#deliverAll(room, frame, except),
      requestFlush: () => this.#scheduler.send(this, FLUSH_PRESENCE, true),
    }, options);
    scheduler.onSliceEnd(() => this.#presence.sliceEnded());
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

  /** The connection (the first tab) registered under a user name or one the same in canonical form, if any. */
  findUser(name: string): ConnectionActor | undefined {
    return this.#tabs(name)?.[0];
  }

  /** Every connection of the user `name` is on this node (several: a JWT sub in several tabs). */
  #tabs(name: string): readonly ConnectionActor[] | undefined {
    return trieGet(this.state.users, this.#names.keyOf(name))?.tabs;
  }

  room(name: string): Room | undefined {
    return trieGet(this.state.rooms, name);
  }

  /** The sink the backplane reports to: everything becomes a message in this mailbox. */
  sink(): BackplaneSink {
    return supervisorSink((msg) => this.#scheduler.send(this, msg, true));
  }

  /**
   * Shutdown is starting: every member of every room is about to go, so the
   * leaves skip presence (at 19k connections that fan-out was a third of the
   * shutdown's CPU, and clients were cut at the timeout for it).
   */
  quiesce(): void {
    this.#quiescing = true;
    this.#grace.dispose(); // no one is left to tell: shutdown waits for no grace
  }

  /** Names held in grace now (presence-grace.ts). */
  get heldNames(): number {
    return this.#grace.size;
  }

  /** Stops the presence and grace timers; the broker calls this when it shuts down. */
  dispose(): void {
    this.#presence.dispose();
    this.#grace.dispose();
  }

  #handle(msg: SupervisorMsg): void {
    switch (msg.type) {
      case 'op':
        // Closing, or replaced by a resume (still open until it reads its close): no one to answer.
        if (msg.from.state !== 'open' || msg.from.unregistered) return;
        this.#op(msg.from, msg.op);
        return;
      case 'register':
        if (!msg.actor.dead) this.#names.register(msg.actor);
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
        this.#presence.flush();
        return;
      case 'grace-due':
        this.#grace.expire();
        return;
      case 'call':
        this.#call(msg.call, msg.reply);
        return;
      case 'room-message':
        this.#fanOut(msg.room, msg.seq, msg.payload);
        return;
      case 'published': {
        if (this.#calls.settle(msg.who, 200, () => publishedJson(msg.seq, msg.duplicate))) return;
        const from = this.#actor(msg.who);
        if (from !== undefined && msg.who.id !== undefined) {
          // seq 0: the backplane is down; the message reached this node's members only.
          const ack = encode(msg.seq > 0 ? { type: 'ack', id: msg.who.id, seq: msg.seq } : { type: 'ack', id: msg.who.id, stored: false });
          // A sender still recovering the room has its own message held: the ack waits behind it.
          const room = trieGet(this.state.rooms, msg.room);
          if (room === undefined || !this.#recoveries.holdAck(from, room, ack)) from.peer.deliver(ack);
        }
        return;
      }
      case 'publish-failed':
        if (this.#calls.settle(msg.who, 503, () => errorJson('unavailable', `message not stored: ${msg.reason}`))) return;
        this.#actor(msg.who)?.peer.deliver(encodeError('unavailable', `message not stored: ${msg.reason}`, msg.who.id));
        return;
      case 'history':
        if (this.#calls.settle(msg.who, 200, () => historyJson(msg.room, msg.result))) return;
        if (msg.kind === 'join') this.#recovered(msg.who, msg.room, msg.result);
        else this.#historyReply(msg.who, msg.room, msg.result);
        return;
      case 'history-failed':
        if (this.#calls.settle(msg.who, 503, () => errorJson('unavailable', `history unavailable: ${msg.reason}`))) return;
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

  #registered(actor: ConnectionActor, name: string, key: string): void {
    // A held name comes back with the claim its first session made.
    const held = this.#grace.held(key);
    this.state = addSession(this.state, actor, name, key, held?.owner);
    if (held !== undefined) this.#grace.resume(key);
    // A token's user needs no secret to come back: the token is the credential.
    this.#scheduler.send(actor, actor.verified || !actor.resumable
      ? { type: 'registered', user: name }
      : { type: 'registered', user: name, resume: this.#grace.mint(key) }, true);
  }

  /**
   * `actor` presents a resume secret for the user under `key`: when it is the
   * one that user's welcome carried, the name it gets back. A session still
   * registered under it (half-open: its drop not seen yet) is replaced: held
   * for the new one, and closed 4001.
   */
  #resume(actor: ConnectionActor, key: string): string | null {
    const secret = actor.resume;
    actor.resume = null;
    if (actor.verified || secret === null || !this.#grace.matches(key, secret)) return null;
    const entry = trieGet(this.state.users, key);
    if (entry !== undefined) {
      for (const old of entry.tabs) {
        this.#unregister(old, true);
        old.markUnregistered();
        this.#scheduler.send(old, { type: 'close', code: CLOSE_REPLACED, reason: 'this name was resumed by a newer connection' }, true);
      }
    }
    return this.#grace.held(key)?.name ?? null;
  }

  /**
   * Out of the registry and every room. The user's last connection, dropped
   * rather than closed on purpose, is held in grace (presence-grace.ts): its
   * leaves are told, and its name released, only when the grace is over.
   */
  #unregister(actor: ConnectionActor, replaced = false): void {
    const before = this.state;
    const key = keyOf(before, actor);
    const { state, left, gone } = removeSession(before, actor);
    this.state = state;
    const held = gone !== null && !this.#quiescing && (replaced || (dropped(actor) && (actor.verified || actor.resumable)))
      && this.#grace.hold(gone.key, actor.user, gone.owner, left, replaced);
    for (const name of left) {
      this.#recoveries.end(actor.id, trieGet(before.rooms, name));
      const room = trieGet(state.rooms, name);
      // Another tab of the same user still in the room: the user has not left it.
      if (otherTabIn(state, key, actor, room)) continue;
      if (held) {
        // Still a member for everyone else; this node just has no one to deliver to there.
        if (room === undefined) this.#backplane.interest(name, false);
        continue;
      }
      this.#backplane.membership(name, actor.user, false);
      if (room !== undefined && !this.#quiescing) this.#presence.tell(room, actor.user, 'leave', null);
      else this.#backplane.interest(name, false);
    }
    if (gone !== null && !held) {
      this.#backplane.releaseUser(gone.key, { actorId: gone.owner });
      this.#grace.forget(gone.key);
    }
    this.#names.drop(actor.id);
  }

  /** A hold is over and its user did not come back (to these rooms): now they have left. */
  #graceEnded(key: string, hold: Hold): void {
    for (const name of hold.rooms) {
      this.#backplane.membership(name, hold.name, false);
      const room = trieGet(this.state.rooms, name);
      if (room === undefined) continue;
      room.live.listed = null; // a big room's cached list may name the held user
      this.#presence.tell(room, hold.name, 'leave', null);
    }
    if (hold.named) this.#backplane.releaseUser(key, { actorId: hold.owner });
  }

  #op(from: ConnectionActor, op: RoomOp): void {
    if (op.op !== 'dm' && op.op !== 'leave' && !this.#allowed(from, op.room, op.op === 'send' ? 'rw' : 'r', op.id)) return;
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
        this.#backplane.history(op.room, { limit: op.limit, before: op.before }, requester(from, op.id), 'history');
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
        const list = encode(withId({
          type: 'who', room: op.room,
          users: room === undefined ? [] : this.#view.users(room), count: room === undefined ? 0 : this.#view.count(room),
        }, op.id));
        from.peer.deliver(list);
        this.#chargeReply(from, list.payload.length);
        return;
      }
    }
  }

  /** Whether `from` may do what needs `need` in `room`; if not, it is told so (`forbidden`). */
  #allowed(from: ConnectionActor, room: string, need: 'r' | 'rw', id: OpId | undefined): boolean {
    const rules = from.rooms ?? this.#roomPolicy;
    if (rules === OPEN_RULES) return true; // no policy, no claim: the common case costs one comparison
    const has: Access = accessTo(rules, room);
    if (has === 'rw' || has === need) return true;
    from.peer.deliver(encodeError('forbidden', has === 'r'
      ? `"${room}" is read-only for you`
      : `you may not ${need === 'rw' ? 'send to' : 'join or read'} "${room}"`, id));
    return false;
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
    this.#backplane.publish(roomName, messageHead(roomName, from.user, text, Date.now(), undefined, fromName(from)), requester(from, id));
  }

  /** The data path, second half: one OutFrame, the same bytes to every local member. */
  #fanOut(roomName: string, seq: number, payload: Buffer): void {
    const room = trieGet(this.state.rooms, roomName);
    if (room === undefined) return;
    if (seq > 0) room.live.seq = seq;
    const frame = new OutFrame(payload);
    // Encoded once, framed once, written to every member at the slice's end: costly work by its bytes (Scheduler.addWork).
    this.#scheduler.addWork(payload.length);
    if (room.live.presenceQueued !== 0) this.#presence.settle(room);
    if (room.live.recovering === 0) {
      this.#deliverAll(room, frame, null);
      return;
    }
    trieForEach(room.members, (member) => {
      if (!this.#recoveries.hold(member, room, seq, frame)) this.#deliverOne(member, frame);
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
    const rooms = trieGet(this.state.sessions, from.id)?.rooms;
    if (rooms !== undefined && rooms.size >= this.#maxRooms && trieGet(rooms, roomName) === undefined) {
      from.peer.deliver(encodeError('too_many_rooms', `a connection may be in at most ${this.#maxRooms} rooms at once; leave one first`, id));
      return;
    }
    // A new room's name must not be a live room's in canonical form: `Lobby`, `LOBBY` or a
    // Cyrillic look-alike while `lobby` has members is refused, naming the room to join.
    let key = roomName;
    if (trieGet(this.state.rooms, roomName) === undefined) {
      key = nameKey(roomName);
      const live = trieGet(this.state.roomKeys, key);
      if (live !== undefined) {
        from.peer.deliver(encodeError('name_taken', `"${roomName}" is the same name as the room "${live}" (case, width and look-alike letters aside); join "${live}"`, id));
        return;
      }
    }
    const { state, added } = addMember(this.state, roomName, from, key);
    this.state = state;
    if (added) this.#scheduler.addWork(ROOM_CHANGE_WORK_BYTES);
    const room = trieGet(state.rooms, roomName)!;
    if (added && room.members.size === 1) {
      // A backplane that answers at once (memory) tells the seq now; the others with roomReady.
      room.live.seq = this.#backplane.latestSeq?.(roomName) ?? null;
      this.#backplane.interest(roomName, true);
    }
    const userKey = keyOf(state, from);
    // A user back within its grace rejoins its rooms unseen: no one was told it had left.
    if (added && !otherTabIn(state, userKey, from, room) && !this.#grace.rejoin(userKey, roomName)) {
      this.#backplane.membership(roomName, from.user, true);
      this.#presence.tell(room, from.user, 'join', from);
      this.#charge(from, room);
    }
    if (since === undefined) {
      if (this.#backplane.isReady(roomName)) from.peer.deliver(this.#view.joined(room, id));
      else this.#awaitReady(roomName, requester(from, id));
      return;
    }
    // Recovery: `joined` waits for the history, and live messages wait behind it.
    this.#recoveries.begin(from.id, room, since);
    this.#backplane.history(roomName, { since }, requester(from, id), 'join');
  }

  #recovered(who: Requester, roomName: string, result: HistoryResult): void {
    const room = trieGet(this.state.rooms, roomName);
    const actor = this.#actor(who);
    if (room === undefined || actor === undefined) return; // left meanwhile
    const fit = fitReplay(result.messages, this.#maxReplayBytes, this.#maxReplayFrames);
    if (fit.cut) result = { messages: fit.messages, latest: result.latest, recovered: false };
    this.#recoveries.finish(actor, room, result, () => this.#view.joined(room, who.id, result));
    this.#chargeReply(actor, fit.bytes);
  }

  #historyReply(who: Requester, roomName: string, result: HistoryResult): void {
    const actor = this.#actor(who);
    if (actor === undefined) return;
    const fit = fitReplay(result.messages, this.#maxReplayBytes);
    // The stored events are JSON already: spliced in rather than parsed and re-encoded.
    actor.peer.deliver(encodeHistory(roomName, fit.messages, result.latest, who.id, fit.cut));
    this.#chargeReply(actor, fit.bytes);
  }

  #leave(from: ConnectionActor, roomName: string, id: OpId | undefined): void {
    const { state, removed } = removeMember(this.state, roomName, from);
    if (removed) this.#scheduler.addWork(ROOM_CHANGE_WORK_BYTES);
    if (!removed) {
      from.peer.deliver(encodeError('not_in_room', `not a member of "${roomName}"`, id));
      return;
    }
    this.#recoveries.end(from.id, trieGet(this.state.rooms, roomName));
    this.state = state;
    from.peer.deliver(encode(withId({ type: 'left', room: roomName }, id)));
    const room = trieGet(state.rooms, roomName);
    if (otherTabIn(state, keyOf(state, from), from, room)) return; // the user is still here in another tab
    this.#backplane.membership(roomName, from.user, false);
    if (room !== undefined) {
      this.#presence.tell(room, from.user, 'leave', null);
      this.#charge(from, room);
    } else this.#backplane.interest(roomName, false);
  }

  /**
   * A reply built for one reader is paid for by it, by its size: pipelined
   * `history` pages cost their author a fifth of a second each at the default
   * rate, not one frame's token (the connection's turn ends after such an op,
   * so the charge lands before its next frame is dispatched).
   */
  #chargeReply(reader: ConnectionActor, bytes: number): void {
    // The page is written when the slice ends: a few of them end the slice early (Scheduler.addWork).
    this.#scheduler.addWork(bytes);
    if (this.#replyChargeBytes === 0) return;
    const tokens = Math.floor(bytes / this.#replyChargeBytes);
    if (tokens > 0) reader.env.rateLimit?.charge(reader, tokens, 'reply');
  }

  /** A join or leave is paid for by its author in rate-limit tokens, by the presence fan-out it makes. */
  #charge(from: ConnectionActor, room: Room): void {
    const tokens = this.#presence.cost(room);
    if (tokens > 0) from.env.rateLimit?.charge(from, tokens, 'presence');
  }

  #dm(from: ConnectionActor, to: string, text: string, id: OpId | undefined): void {
    this.#toUser(to, {
      // `to` as the registry has it: a DM to `ALICE` reaches alice, and says it went to alice.
      here: (tabs, name) => {
        const frame = encode(dmEvent(from, name, text));
        for (const tab of tabs) tab.peer.deliver(frame);
        if (id !== undefined) from.peer.deliver(encode({ type: 'ack', id }));
      },
      elsewhere: () => [encode(dmEvent(from, to, text)).payload, requester(from, id)],
      nowhere: () => from.peer.deliver(encodeError('unknown_user', `no user "${to}" is online`, id)),
    });
  }

  /**
   * Something for the user `to`: to every tab of theirs on this node, else through the
   * backplane to the node that has them (its answer comes as dm-result), else no one
   * has them. One route for client DMs and the API's send and disconnect.
   */
  #toUser(to: string, route: {
    here: (tabs: readonly ConnectionActor[], name: string) => void;
    elsewhere: () => [payload: Buffer, who: Requester];
    nowhere: () => void;
  }): void {
    const key = this.#names.keyOf(to);
    const target = trieGet(this.state.users, key);
    if (target !== undefined) route.here(target.tabs, target.name);
    else if (this.#backplane.multiNode) this.#backplane.dm(key, ...route.elsewhere());
    else route.nowhere();
  }

  // --- the server API (server-calls.ts): never limited by room rules ---

  #call(call: ServerCall, reply: ReplyTo): void {
    switch (call.call) {
      case 'publish': {
        const head = messageHead(call.room, call.from, call.text, Date.now(), { data: call.data });
        this.#backplane.publish(call.room, head, this.#calls.begin(reply), call.id);
        return;
      }
      case 'send': {
        const event = { type: 'dm', from: call.from, to: call.to, text: call.text, data: call.data, server: true, ts: Date.now() } as const;
        this.#toUser(call.to, {
          here: (tabs) => {
            const frame = encode(event);
            for (const tab of tabs) tab.peer.deliver(frame);
            reply({ status: 200, json: '{"delivered":true}' });
          },
          elsewhere: () => [encode(event).payload, this.#calls.begin(reply)],
          nowhere: () => reply({ status: 404, json: errorJson('unknown_user', `no user "${call.to}" is online`) }),
        });
        return;
      }
      case 'disconnect': {
        const disconnected = (n: number): void => reply({ status: 200, json: JSON.stringify({ disconnected: n }) });
        // Elsewhere the kick travels as a DM whose first byte no event has; `sent` there is one, `unknown_user` none.
        const counted: ReplyTo = (r) => (r.status === 200 || r.status === 404 ? disconnected(r.status === 200 ? 1 : 0) : reply(r));
        this.#toUser(call.user, {
          here: (tabs) => {
            for (const tab of tabs) this.#kick(tab, call.reason);
            disconnected(tabs.length);
          },
          elsewhere: () => [Buffer.concat([Buffer.of(KICK_MARK), Buffer.from(call.reason)]), this.#calls.begin(counted)],
          nowhere: () => disconnected(0),
        });
        return;
      }
      case 'presence': {
        const room = trieGet(this.state.rooms, call.room);
        if (this.#backplane.multiNode && (room === undefined || !this.#backplane.isReady(call.room))) {
          this.#backplane.who(call.room, this.#calls.begin(reply));
          return;
        }
        reply({ status: 200, json: JSON.stringify({
          room: call.room, users: room === undefined ? [] : this.#view.users(room), count: room === undefined ? 0 : this.#view.count(room),
        }) });
        return;
      }
      case 'history':
        this.#backplane.history(call.room, { limit: call.limit }, this.#calls.begin(reply), 'history');
        return;
      case 'rooms': {
        if (this.#backplane.multiNode) {
          this.#backplane.listRooms(this.#calls.begin(reply));
          return;
        }
        const rooms: RoomCount[] = [];
        trieForEach(this.state.rooms, (room) => { rooms.push({ room: room.name, count: this.#view.count(room) }); });
        reply({ status: 200, json: JSON.stringify({ rooms: biggestRooms(rooms) }) });
        return;
      }
    }
  }

  #kick(target: ConnectionActor, reason: string): void {
    this.#scheduler.send(target, { type: 'close', code: CLOSE_KICKED, reason }, true);
  }

  // --- several nodes: what the backplane reports about the others ---

  #fromPeers(msg: PeerMsg): void {
    switch (msg.type) {
      case 'room-ready':
        return this.#roomReady(msg.room, msg.seq);
      case 'remote-presence': {
        const room = trieGet(this.state.rooms, msg.room);
        if (room !== undefined) this.#presence.tell(room, msg.user, msg.event, null);
        return;
      }
      case 'claimed':
        return this.#names.claimed(msg.who, msg.user, msg.ok);
      case 'direct-message': {
        // msg.to is the key the sender's node routed by (Names.keyOf).
        const tabs = trieGet(this.state.users, msg.to)?.tabs;
        if (tabs === undefined) return; // gone meanwhile: a DM is delivered at most once, never queued
        const frame = msg.payload[0] === KICK_MARK ? null : new OutFrame(msg.payload);
        for (const tab of tabs) {
          if (tab.dead) continue;
          if (frame === null) this.#kick(tab, msg.payload.subarray(1).toString());
          else tab.peer.deliver(frame);
        }
        return;
      }
      case 'dm-result': {
        if (this.#calls.settle(msg.who, msg.outcome === 'sent' ? 200 : msg.outcome === 'unknown_user' ? 404 : 503,
          () => msg.outcome === 'sent' ? '{"delivered":true}' : msg.outcome === 'unknown_user'
            ? errorJson('unknown_user', 'that user is not online')
            : errorJson('unavailable', 'the backplane is down: users on other nodes cannot be reached'))) return;
        const from = this.#actor(msg.who);
        if (from === undefined) return;
        // msg.to is the name's key (Names.keyOf): not for people's eyes.
        if (msg.outcome === 'unknown_user') from.peer.deliver(encodeError('unknown_user', 'that user is not online', msg.who.id));
        else if (msg.outcome === 'unavailable') from.peer.deliver(encodeError('unavailable', 'the backplane is down: users on other nodes cannot be reached', msg.who.id));
        else if (msg.who.id !== undefined) from.peer.deliver(encode({ type: 'ack', id: msg.who.id }));
        return;
      }
      case 'room-list':
        this.#calls.settle(msg.who, 200, () => JSON.stringify({ rooms: msg.rooms }));
        return;
      case 'members': {
        if (this.#calls.settle(msg.who, 200, () => JSON.stringify({ room: msg.room, users: msg.users, count: msg.count }))) return;
        const reader = this.#actor(msg.who);
        if (reader === undefined) return;
        const list = encode(withId({ type: 'who', room: msg.room, users: msg.users, count: msg.count }, msg.who.id));
        reader.peer.deliver(list);
        this.#chargeReply(reader, list.payload.length);
        return;
      }
    }
  }

  #awaitReady(roomName: string, who: Requester): void {
    const waits = this.#readyWaits.get(roomName);
    if (waits === undefined) this.#readyWaits.set(roomName, [who]);
    else waits.push(who);
  }

  /** The room's roster is loaded: the joins that waited for it get `joined`. */
  #roomReady(roomName: string, seq: number | null): void {
    const room = trieGet(this.state.rooms, roomName);
    // Messages after `seq` come after this, so a plain join answered from here on may resume from it.
    if (room !== undefined && room.live.seq === null) room.live.seq = seq;
    const waits = this.#readyWaits.get(roomName);
    if (waits === undefined) return;
    this.#readyWaits.delete(roomName);
    if (room === undefined) return;
    let shared: OutFrame | null = null; // for the joins without an id: one encoding
    for (const who of waits) {
      const actor = this.#actor(who);
      if (actor === undefined || trieGet(room.members, actor.id) === undefined) continue; // left meanwhile
      actor.peer.deliver(who.id === undefined ? (shared ??= this.#view.joined(room, undefined)) : this.#view.joined(room, who.id));
    }
  }
}

/** A history page as the API answers it: the stored events spliced in as they are. */
function historyJson(room: string, result: HistoryResult): string {
  return `{"room":${JSON.stringify(room)},"seq":${result.latest},"messages":[${result.messages.map((m) => m.payload.toString()).join(',')}]}`;
}

/** A DM event; `fromName` only when the sender's display name is not its id. */
function dmEvent(from: ConnectionActor, to: string, text: string): ServerEvent {
  const name = fromName(from);
  return name === undefined
    ? { type: 'dm', from: from.user, to, text, ts: Date.now() }
    : { type: 'dm', from: from.user, fromName: name, to, text, ts: Date.now() };
}

/** The sender's display name for a message event, when it is not its id. */
function fromName(from: ConnectionActor): string | undefined {
  const name = from.displayName;
  return name === null || name === from.user ? undefined : name;
}

function requester(from: ConnectionActor, id: OpId | undefined): Requester {
  return id === undefined ? { actorId: from.id } : { actorId: from.id, id };
}

/**
 * Whether a connection's end was a drop, which the user may come back from
 * within the grace: not a close the client chose (1000, or 1005 without a
 * code), a kick (4000) or a replacement (4001).
 */
function dropped(actor: ConnectionActor): boolean {
  const code = actor.snapshot.context.closeCode;
  return code !== CLOSE_NORMAL && code !== CLOSE_NO_STATUS && code !== CLOSE_KICKED && code !== CLOSE_REPLACED;
}
