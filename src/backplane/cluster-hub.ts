// ClusterHub: the primary process's side of the cluster backplane — what Redis
// is to the Redis backplane, for the workers of one machine with nothing else
// installed. It assigns each room's seqs, keeps its history ring, knows every
// worker's members and names, and relays a room's messages to the workers with
// interest in it.
//
// Ordering comes from the IPC channels: each is FIFO and the hub handles one
// worker's ops in order, so a worker gets `ready` before the room's messages,
// a message before the ack of its sender, and a history read after the
// messages it covers. A worker that exits is dropped: its members leave every
// room (the other workers are told), its names are free.
import { MAX_LISTED_USERS } from '../constants.js';
import type { ToHub, ToWorker } from './cluster-protocol.js';
import { toWireHistory } from './cluster-protocol.js';
import { biggestRooms, type RoomCount } from './backplane.js';
import { OnceKeys } from './once-keys.js';
import { HistoryStore, type HistoryLimits } from './history-store.js';

export interface ClusterHubOptions extends HistoryLimits {
  /** Sends one op to a worker (the caller batches). */
  send: (worker: number, op: ToWorker) => void;
}

interface HubRoom {
  /** user -> worker id */
  members: Map<string, number>;
  /** Workers with interest, and the generation of their latest interest. */
  interest: Map<number, number>;
}

export class ClusterHub {
  readonly #rooms = new Map<string, HubRoom>();
  /** user -> owner */
  readonly #users = new Map<string, { worker: number; actor: string }>();
  readonly #options: ClusterHubOptions;
  readonly #once = new OnceKeys();
  readonly #sweeper: NodeJS.Timeout;
  /** Every room's history, bounded in total (the rooms' seqs live there too). */
  readonly history: HistoryStore;

  constructor(options: ClusterHubOptions) {
    this.#options = options;
    this.history = new HistoryStore(options);
    this.#sweeper = setInterval(() => this.#sweep(), this.history.sweepEveryMs);
    this.#sweeper.unref();
  }

  handle(worker: number, op: ToHub): void {
    const send = this.#options.send;
    switch (op.t) {
      case 'pub': {
        if (op.once !== undefined) {
          const prior = this.#once.seen(op.room, op.once, Date.now());
          if (prior !== undefined) return send(worker, { t: 'pubd', room: op.room, seq: prior, who: op.who, duplicate: true });
        }
        const room = this.#room(op.room);
        let text = '';
        const msg = this.history.append(op.room, (seq) => Buffer.from((text = `${op.head}${seq}}`)));
        for (const w of room.interest.keys()) send(w, { t: 'msg', room: op.room, seq: msg.seq, payload: text });
        if (op.once !== undefined) this.#once.remember(op.room, op.once, msg.seq, Date.now());
        send(worker, { t: 'pubd', room: op.room, seq: msg.seq, who: op.who });
        return;
      }
      case 'interest': {
        const room = this.#room(op.room);
        if (!op.on) {
          room.interest.delete(worker);
          this.history.room(op.room).touchedAt = Date.now();
          return;
        }
        room.interest.set(worker, op.gen);
        const members: [string, number][] = [];
        for (const [user, w] of room.members) if (w !== worker) members.push([user, w]);
        send(worker, { t: 'ready', room: op.room, gen: op.gen, members, seq: this.history.latestSeq(op.room) });
        return;
      }
      case 'history': {
        const result = this.history.room(op.room).read(op);
        send(worker, { t: 'history', room: op.room, who: op.who, kind: op.kind, result: toWireHistory(result) });
        return;
      }
      case 'claim': {
        const owner = this.#users.get(op.user);
        const ok = owner === undefined || (owner.worker === worker && owner.actor === op.who.a);
        if (ok) this.#users.set(op.user, { worker, actor: op.who.a });
        send(worker, { t: 'claimed', user: op.user, ok, who: op.who });
        return;
      }
      case 'release': {
        const owner = this.#users.get(op.user);
        if (owner !== undefined && owner.worker === worker && owner.actor === op.actor) this.#users.delete(op.user);
        return;
      }
      case 'member':
        return this.#member(worker, op.room, op.user, op.on);
      case 'dm': {
        const owner = this.#users.get(op.to);
        if (owner !== undefined) send(owner.worker, { t: 'dm-in', to: op.to, payload: op.payload });
        send(worker, { t: 'dm-result', to: op.to, outcome: owner === undefined ? 'unknown_user' : 'sent', who: op.who });
        return;
      }
      case 'who': {
        const members = this.#rooms.get(op.room)?.members;
        const users = members === undefined ? [] : [...take(members.keys(), MAX_LISTED_USERS)];
        send(worker, { t: 'members', room: op.room, users, count: members?.size ?? 0, who: op.who });
        return;
      }
      case 'rooms': {
        const rooms: RoomCount[] = [];
        for (const [name, room] of this.#rooms) if (room.members.size > 0) rooms.push({ room: name, count: room.members.size });
        send(worker, { t: 'rooms', rooms: biggestRooms(rooms), who: op.who });
        return;
      }
    }
  }

  /** A worker exited: its members leave their rooms (others are told), its names are free. */
  dropWorker(worker: number): void {
    for (const [name, room] of this.#rooms) {
      room.interest.delete(worker);
      const gone: string[] = [];
      for (const [user, w] of room.members) if (w === worker) gone.push(user);
      for (const user of gone) this.#member(worker, name, user, false);
    }
    for (const [user, owner] of this.#users) if (owner.worker === worker) this.#users.delete(user);
  }

  close(): void {
    clearInterval(this.#sweeper);
  }

  #member(worker: number, roomName: string, user: string, on: boolean): void {
    const room = this.#room(roomName);
    if (on) room.members.set(user, worker);
    else if (room.members.get(user) === worker) room.members.delete(user);
    else return;
    for (const w of room.interest.keys()) {
      if (w !== worker) this.#options.send(w, { t: 'presence', room: roomName, user, worker, event: on ? 'join' : 'leave' });
    }
  }

  #room(name: string): HubRoom {
    let room = this.#rooms.get(name);
    if (room === undefined) {
      room = { members: new Map(), interest: new Map() };
      this.#rooms.set(name, room);
    }
    return room;
  }

  #sweep(): void {
    const inUse = (name: string): boolean => {
      const room = this.#rooms.get(name);
      return room !== undefined && (room.interest.size > 0 || room.members.size > 0);
    };
    this.history.sweep(inUse);
    for (const name of this.#rooms.keys()) {
      if (!inUse(name)) this.#rooms.delete(name);
    }
  }
}

function* take<T>(it: Iterable<T>, n: number): Generator<T> {
  if (n <= 0) return;
  for (const x of it) {
    yield x;
    if (--n === 0) return;
  }
}
