// ClusterBackplane: a worker's side of `hubbub serve --workers N` without
// Redis. Everything shared goes to the primary's ClusterHub over the IPC
// channel, batched per scheduler slice; the answers come back in order and go
// to the sink. The link is the IPC channel itself: if the primary goes, the
// worker goes too (cli.ts), so there is no "link down" state to serve through.
import type {
  Backplane, BackplaneSink, DmOutcome, HistoryQuery, RemoteMembers, Requester,
} from './backplane.js';
import { Batcher, isEnvelope, type Envelope, type ToHub, type ToWorker, type WireRequester } from './cluster-protocol.js';
import { EMPTY_ROSTER, Roster } from './roster.js';

/** The channel to the primary: `process` in a cluster worker; a fake in tests. */
export interface HubChannel {
  send(envelope: Envelope<ToHub>): void;
  onMessage(handler: (envelope: Envelope<ToWorker>) => void): void;
}

/** process.send / process.on('message') of a cluster worker. */
export function processChannel(): HubChannel {
  return {
    send: (envelope) => {
      // The primary gone: nothing to send to; the worker is stopping (cli.ts, 'disconnect').
      if (process.connected) process.send!(envelope, undefined, undefined, () => {});
    },
    onMessage: (handler) => process.on('message', (msg: unknown) => {
      if (isEnvelope<ToWorker>(msg)) handler(msg);
    }),
  };
}

interface Feed {
  gen: number;
  ready: boolean;
  readonly roster: Roster;
}

export class ClusterBackplane implements Backplane {
  readonly kind = 'cluster';
  readonly multiNode = true;
  readonly #channel: HubChannel;
  readonly #out: Batcher<ToHub>;
  readonly #feeds = new Map<string, Feed>();
  #gen = 0;
  #sink: BackplaneSink | null = null;

  constructor(channel: HubChannel) {
    this.#channel = channel;
    this.#out = new Batcher((envelope) => channel.send(envelope));
  }

  async start(sink: BackplaneSink): Promise<void> {
    this.#sink = sink;
    this.#channel.onMessage((envelope) => {
      for (const op of envelope.ops) this.#receive(op);
    });
  }

  publish(room: string, head: string, who: Requester, once?: string): void {
    this.#out.push(once === undefined ? { t: 'pub', room, head, who: wire(who) } : { t: 'pub', room, head, who: wire(who), once });
  }

  interest(room: string, on: boolean): void {
    const gen = ++this.#gen;
    const before = this.#feeds.get(room);
    if (before !== undefined && !before.ready) this.#sink!.roomReady(room, null); // every interest gets one
    if (on) this.#feeds.set(room, { gen, ready: false, roster: new Roster() });
    else this.#feeds.delete(room);
    this.#out.push({ t: 'interest', room, on, gen });
  }

  history(room: string, query: HistoryQuery, who: Requester, kind: 'join' | 'history'): void {
    this.#out.push({ t: 'history', room, since: query.since, limit: query.limit, before: query.before, who: wire(who), kind });
  }

  isReady(room: string): boolean {
    return this.#feeds.get(room)?.ready ?? true;
  }

  remoteMembers(room: string): RemoteMembers {
    return this.#feeds.get(room)?.roster ?? EMPTY_ROSTER;
  }

  claimUser(user: string, who: Requester): boolean {
    this.#out.push({ t: 'claim', user, who: wire(who) });
    return false;
  }

  releaseUser(user: string, who: Requester): void {
    this.#out.push({ t: 'release', user, actor: who.actorId });
  }

  membership(room: string, user: string, on: boolean): void {
    this.#out.push({ t: 'member', room, user, on });
  }

  dm(to: string, payload: Buffer, who: Requester): void {
    this.#out.push({ t: 'dm', to, payload: payload.toString(), who: wire(who) });
  }

  who(room: string, who: Requester): void {
    this.#out.push({ t: 'who', room, who: wire(who) });
  }

  listRooms(who: Requester): void {
    this.#out.push({ t: 'rooms', who: wire(who) });
  }

  async close(): Promise<void> {
    this.#out.flush();
  }

  #receive(op: ToWorker): void {
    const sink = this.#sink!;
    switch (op.t) {
      case 'msg': {
        // Before `ready` (or from an interest that ended): the join came after it.
        if (this.#feeds.get(op.room)?.ready === true) sink.roomMessage(op.room, op.seq, Buffer.from(op.payload));
        return;
      }
      case 'pubd':
        return sink.published(requester(op.who), op.room, op.seq, op.duplicate === true);
      case 'ready': {
        const feed = this.#feeds.get(op.room);
        if (feed === undefined || feed.gen !== op.gen) return; // an older interest's answer
        for (const [user, worker] of op.members) feed.roster.apply(user, String(worker), 'join');
        feed.ready = true;
        sink.roomReady(op.room, op.seq);
        return;
      }
      case 'presence': {
        const feed = this.#feeds.get(op.room);
        if (feed?.ready !== true) return;
        if (feed.roster.apply(op.user, String(op.worker), op.event)) sink.remotePresence(op.room, op.user, op.event);
        return;
      }
      case 'history': {
        const result = {
          messages: op.result.messages.map(([seq, payload]) => ({ seq, payload: Buffer.from(payload) })),
          latest: op.result.latest,
          recovered: op.result.recovered,
        };
        return sink.history(requester(op.who), op.room, op.kind, result);
      }
      case 'claimed':
        return sink.claimed(requester(op.who), op.user, op.ok);
      case 'dm-in':
        return sink.directMessage(op.to, Buffer.from(op.payload));
      case 'dm-result':
        return sink.dmResult(requester(op.who), op.to, op.outcome as DmOutcome);
      case 'members':
        return sink.members(requester(op.who), op.room, op.users, op.count);
      case 'rooms':
        return sink.roomList(requester(op.who), op.rooms);
    }
  }
}

function wire(who: Requester): WireRequester {
  return who.id === undefined ? { a: who.actorId } : { a: who.actorId, i: who.id };
}

function requester(w: WireRequester): Requester {
  return w.i === undefined ? { actorId: w.a } : { actorId: w.a, id: w.i };
}
