// RoomFeed: one room this node has interest in, as the Redis backplane sees
// it. It turns the room's channel into what the supervisor needs: messages in
// seq order with no gap and no duplicate, the roster of the other nodes'
// members, and acks that never overtake the sender's own message.
//
// States:
//   loading    interest just began: SUBSCRIBE and LOAD are on their way (in
//              that order, on the one connection). Channel traffic is kept;
//              when LOAD answers, messages up to its seq are dropped (they
//              came before the join) and the rest delivered; then roomReady.
//   ready      messages are delivered as they come; a seq that jumps ahead
//              (after a reconnect) starts a reload instead.
//   reloading  LOAD is asked again with the messages after the last one
//              delivered (Redis came back, or a gap): channel traffic is kept
//              and merged with what LOAD returns, in seq order.
// While the link is down every feed counts as ready (with what its roster last
// knew); `last` is -1 for a feed that never loaded (interest began while down).
import type { BackplaneSink, Requester, StoredMessage } from './backplane.js';
import { Roster, type PresenceEvent } from './roster.js';

type Kept =
  | { kind: 'message'; seq: number; payload: Buffer }
  | { kind: 'presence'; user: string; node: string; event: PresenceEvent };

export class RoomFeed {
  state: 'loading' | 'ready' | 'reloading' = 'loading';
  /** Seq of the last message handed to the supervisor; -1 before the first load. */
  last = -1;
  /** roomReady was sent: the supervisor answers joins at once. */
  announced = false;
  /** The link is down: acks go out at once (the message is stored; its echo waits for Redis). */
  #down = false;
  readonly roster = new Roster();
  /** Which LOAD answer counts: only the latest one asked. */
  #loadGen = 0;
  #kept: Kept[] = [];
  #acks: { seq: number; who: Requester }[] = [];
  #whenReady: (() => void)[] = [];

  constructor(readonly room: string, readonly sink: BackplaneSink) {}

  /** A message from the room's channel. */
  message(seq: number, payload: Buffer): void {
    if (this.state !== 'ready') {
      this.#kept.push({ kind: 'message', seq, payload });
      return;
    }
    if (seq <= this.last) return; // had it already
    if (seq === this.last + 1 || this.last < 0) {
      this.#deliver(seq, payload);
      return;
    }
    // A gap: the messages in between are in the stream; the owner reloads.
    this.#kept.push({ kind: 'message', seq, payload });
    this.state = 'reloading';
    this.onGap?.(this);
  }

  /** Set by the owner: reload the feed (LOAD after `last`). */
  onGap: ((feed: RoomFeed) => void) | null = null;

  /** A presence event of another node from the room's channel. */
  presence(user: string, node: string, event: PresenceEvent): void {
    if (this.state !== 'ready') this.#kept.push({ kind: 'presence', user, node, event });
    else if (this.roster.apply(user, node, event)) this.sink.remotePresence(this.room, user, event);
  }

  /** A LOAD is being asked; returns its generation for `loaded`. */
  beginLoad(): number {
    this.#down = false;
    if (this.state === 'ready') this.state = this.announced ? 'reloading' : 'loading';
    return ++this.#loadGen;
  }

  /**
   * LOAD answered: the room's seq, the other nodes' members, and the stored
   * messages after `last` (on a reload).
   */
  loaded(gen: number, seq: number, members: Map<string, string>, messages: StoredMessage[]): void {
    if (gen !== this.#loadGen || this.state === 'ready') return;
    const kept = this.#kept;
    this.#kept = [];
    for (const k of kept) {
      if (k.kind === 'presence') {
        if (k.event === 'join') members.set(k.user, k.node);
        else members.delete(k.user);
      }
    }
    const changes = this.roster.replace(members);
    const first = !this.announced;
    if (first || this.last < 0) this.last = seq; // a plain join gets what comes after it
    this.state = 'ready';
    if (first) {
      this.#announce();
    } else {
      for (const c of changes) this.sink.remotePresence(this.room, c.user, c.event);
    }
    const pending: StoredMessage[] = messages.slice();
    for (const k of kept) if (k.kind === 'message') pending.push(k);
    pending.sort((a, b) => a.seq - b.seq);
    // Jumps allowed here: what the stream no longer has cannot be delivered.
    for (const m of pending) if (m.seq > this.last) this.#deliver(m.seq, m.payload);
    this.#releaseAcks(this.last);
    this.#flushWhenReady();
  }

  /** LOAD failed while the link stayed up: go on with what is known rather than stall the room. */
  loadFailed(gen: number): void {
    if (gen !== this.#loadGen) return;
    this.linkDown();
  }

  /** The link went down: every room is served locally; nothing waits for Redis. */
  linkDown(): void {
    this.#down = true;
    const kept = this.#kept;
    this.#kept = [];
    this.state = 'ready';
    if (!this.announced) {
      this.#announce();
    }
    for (const k of kept) {
      if (k.kind === 'presence') {
        if (this.roster.apply(k.user, k.node, k.event)) this.sink.remotePresence(this.room, k.user, k.event);
      } else if (k.seq > this.last) {
        this.#deliver(k.seq, k.payload);
      }
    }
    this.#releaseAcks(Infinity);
    this.#flushWhenReady();
  }

  /** The publish of `who` was stored with `seq`: ack once the message itself went out. */
  acked(seq: number, who: Requester): void {
    if (this.#down || (this.state === 'ready' && this.last >= seq)) this.sink.published(who, this.room, seq);
    else if (this.state !== 'ready' || this.last >= 0) this.#acks.push({ seq, who });
    else this.sink.published(who, this.room, seq);
  }

  /** Runs `fn` once the feed is ready (at once if it is). */
  whenReady(fn: () => void): void {
    if (this.state === 'ready') fn();
    else this.#whenReady.push(fn);
  }

  /** Interest ended: whatever waits is answered now (a roomReady too: every interest gets one). */
  drop(): void {
    this.#releaseAcks(Infinity);
    this.#kept = [];
    this.state = 'ready';
    if (!this.announced) {
      this.#announce();
    }
    this.#flushWhenReady();
  }

  /** roomReady, once per interest: messages after `last` follow it. */
  #announce(): void {
    this.announced = true;
    this.sink.roomReady(this.room, this.last >= 0 ? this.last : null);
  }

  #deliver(seq: number, payload: Buffer): void {
    this.last = seq;
    this.sink.roomMessage(this.room, seq, payload);
    if (this.#acks.length > 0) this.#releaseAcks(seq);
  }

  #releaseAcks(upTo: number): void {
    if (this.#acks.length === 0) return;
    const waiting: { seq: number; who: Requester }[] = [];
    for (const a of this.#acks) {
      if (a.seq <= upTo) this.sink.published(a.who, this.room, a.seq);
      else waiting.push(a);
    }
    this.#acks = waiting;
  }

  #flushWhenReady(): void {
    const fns = this.#whenReady;
    this.#whenReady = [];
    for (const fn of fns) fn();
  }
}
