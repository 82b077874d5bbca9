// MemoryBackplane: the embedded default. One process is the whole deployment,
// so this node is the only one with interest in any room: a publish assigns
// the seq, keeps the message in the room's history ring and hands it straight
// back to the sink. Histories are bounded per room and in total (HistoryStore);
// those of rooms idle longer than the retention are swept by one timer. Presence is the supervisor's registry alone: every name
// the supervisor found free is free, every room is ready, no one is remote.
import type { Backplane, BackplaneSink, HistoryQuery, HistoryStats, RemoteMembers, Requester } from './backplane.js';
import { completeEvent } from '../protocol/protocol.js';
import { OnceKeys } from './once-keys.js';
import { HistoryStore, type HistoryLimits } from './history-store.js';
import { EMPTY_ROSTER } from './roster.js';

export type MemoryBackplaneOptions = HistoryLimits;


export class MemoryBackplane implements Backplane {
  readonly kind = 'memory';
  readonly multiNode = false;
  readonly #store: HistoryStore;
  /** Rooms with members on this node: their histories are never swept. */
  readonly #interest = new Set<string>();
  readonly #once = new OnceKeys();
  #sink: BackplaneSink | null = null;
  #sweeper: NodeJS.Timeout | null = null;

  constructor(options: MemoryBackplaneOptions) {
    this.#store = new HistoryStore(options);
  }

  async start(sink: BackplaneSink): Promise<void> {
    this.#sink = sink;
    this.#sweeper = setInterval(() => this.#store.sweep((room) => this.#interest.has(room)), this.#store.sweepEveryMs);
    this.#sweeper.unref();
  }

  publish(room: string, head: string, who: Requester, once?: string): void {
    const sink = this.#sink!;
    if (once !== undefined) {
      const prior = this.#once.seen(room, once, Date.now());
      if (prior !== undefined) return sink.published(who, room, prior, true);
    }
    const msg = this.#store.append(room, (seq) => completeEvent(head, seq));
    if (once !== undefined) this.#once.remember(room, once, msg.seq, Date.now());
    if (this.#interest.has(room)) sink.roomMessage(room, msg.seq, msg.payload);
    sink.published(who, room, msg.seq);
  }

  interest(room: string, on: boolean): void {
    if (on) this.#interest.add(room);
    else {
      this.#interest.delete(room);
      this.#store.room(room).touchedAt = Date.now();
    }
  }

  latestSeq(room: string): number {
    return this.#store.latestSeq(room);
  }

  history(room: string, query: HistoryQuery, who: Requester, kind: 'join' | 'history'): void {
    this.#sink!.history(who, room, kind, this.#store.room(room).read(query));
  }

  async close(): Promise<void> {
    if (this.#sweeper !== null) clearInterval(this.#sweeper);
  }

  isReady(): boolean {
    return true;
  }

  remoteMembers(): RemoteMembers {
    return EMPTY_ROSTER;
  }

  claimUser(): boolean {
    return true;
  }

  releaseUser(): void {}

  membership(): void {}

  dm(to: string, _payload: Buffer, who: Requester): void {
    // The supervisor asks only for users it does not have: on one node, no one.
    this.#sink!.dmResult(who, to, 'unknown_user');
  }

  who(room: string, who: Requester): void {
    this.#sink!.members(who, room, [], 0);
  }

  listRooms(who: Requester): void {
    this.#sink!.roomList(who, []); // one node: the supervisor's registry is the whole answer
  }

  /** Rooms with a history (for stats and tests). */
  get rooms(): number {
    return this.#store.rooms;
  }

  historyStats(): HistoryStats {
    return this.#store;
  }
}
