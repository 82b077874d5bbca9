// OutageWatch: a client's connection trouble told as people want to hear it,
// once per outage. The client emits a `disconnect` for every failed retry and
// a `joined` for every rejoin; a chat UI that printed each would show five
// "connection lost" lines for a six-second outage. This turns them into:
//
//   down      once, when an open connection drops and the client will retry
//   roomBack  per room, when its rejoin is answered (with how many missed
//             messages the broker is about to replay: the `joined` of a rejoin
//             comes before them, and carries the room's latest seq)
//   back      once, when every room is back (or there were none)
//
// Both the chat page and the terminal client use it, so they say the same.
import type { HubbubClient } from './client.js';
import { closeDetail, closeWords } from './close-words.js';
import { Emitter } from './emitter.js';
import type { JoinedEvent } from './wire.js';

export interface OutageEvents {
  /** The connection dropped and the client is trying again. `words` for people, `detail` (the code) for a tooltip. */
  down: { code: number; reason: string; words: string; detail: string };
  /**
   * A room was rejoined after the outage. `caughtUp`: the missed messages the
   * broker replays right after this event. `gap`: the broker could not promise
   * every missed message (its history was lost or trimmed meanwhile).
   */
  roomBack: { room: string; caughtUp: number; gap: boolean };
  /** The outage is over: every room rejoined (or refused). Sums over the rooms. */
  back: { caughtUp: number; gap: boolean };
}

export class OutageWatch extends Emitter<OutageEvents> {
  readonly #client: HubbubClient;
  #down = false;
  /** After a welcome in an outage: the rooms whose rejoin is unanswered, with the seq each resumes after. */
  readonly #pending = new Map<string, number | null>();
  /** Rooms already announced back in this outage (a drop during the rejoins does not announce them twice). */
  readonly #back = new Set<string>();
  #caughtUp = 0;
  #gap = false;

  constructor(client: HubbubClient) {
    super();
    this.#client = client;
    client.on('disconnect', (d) => {
      // Before the first welcome there was nothing to lose; after a final close nothing follows.
      // A drop during the rejoins (or a failed retry) continues the outage already told.
      if (!d.willReconnect || client.user === '' || this.#down) return;
      this.#down = true;
      this.emit('down', { code: d.code, reason: d.reason, words: closeWords(d.code), detail: closeDetail(d.code, d.reason) });
    });
    client.on('welcome', () => {
      if (!this.#down) return;
      // The client wrote its rejoins just before this event, each with `since` = lastSeq.
      this.#pending.clear();
      for (const room of client.rooms) if (!this.#back.has(room)) this.#pending.set(room, client.lastSeq(room));
      this.#settle();
    });
    client.on('joined', (ev) => this.#rejoined(ev));
    // A rejoin the broker refused (or a room left meanwhile) is not waited for.
    client.on('error', () => this.#settle());
    client.on('left', () => this.#settle());
    client.on('close', () => this.#reset());
  }

  /** True between the drop and the last rejoin's answer. */
  get down(): boolean {
    return this.#down;
  }

  #rejoined(ev: JoinedEvent): void {
    if (!this.#pending.has(ev.room)) return;
    const since = this.#pending.get(ev.room)!;
    this.#pending.delete(ev.room);
    this.#back.add(ev.room);
    const latest = ev.seq ?? 0;
    // Not recovered with messages in the room: some of them may be ones we never see.
    const gap = ev.recovered === false && latest > 0;
    const caughtUp = !gap && since !== null && latest > since ? latest - since : 0;
    this.#caughtUp += caughtUp;
    this.#gap ||= gap;
    this.emit('roomBack', { room: ev.room, caughtUp, gap });
    this.#settle();
  }

  /** Ends the outage once no rejoin is awaited any more. */
  #settle(): void {
    if (!this.#down || this.#client.state !== 'open') return;
    const rooms = new Set(this.#client.rooms);
    for (const room of this.#pending.keys()) if (!rooms.has(room)) this.#pending.delete(room);
    if (this.#pending.size > 0) return;
    const summary = { caughtUp: this.#caughtUp, gap: this.#gap };
    this.#reset();
    this.emit('back', summary);
  }

  #reset(): void {
    this.#down = false;
    this.#pending.clear();
    this.#back.clear();
    this.#caughtUp = 0;
    this.#gap = false;
  }
}

/** "back online", with what was caught up or may be missing: the line both UIs show. */
export function backWords(caughtUp: number, gap: boolean): string {
  if (gap) return 'back online; some messages sent meanwhile may be missing';
  if (caughtUp === 0) return 'back online';
  return `back online, ${caughtUp} message${caughtUp === 1 ? '' : 's'} caught up`;
}
