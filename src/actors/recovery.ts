// Recovery: a `join` with `since` replays what the member missed, with no gap
// and no duplicate.
//
// The join marks the member as recovering in that room. Live messages for it
// are held back while the backplane reads the history; when the history
// arrives the member gets `joined`, the missed messages, then the held-back
// ones, skipping every seq it already got, whatever the order in which
// history and live messages come back. RoomLive.recovering counts a room's
// recovering members so that the fan-out of a room with none looks nothing up.
import type { HistoryResult } from '../backplane/backplane.js';
import { OutFrame } from '../protocol/out-frame.js';
import type { ConnectionActor } from './connection-actor.js';
import type { Room } from './registry.js';

/** A member waiting for its history replay; live messages for it wait here. */
interface Recovery {
  since: number;
  /** Live messages (by seq) and the member's own acks (seq null: never skipped), in arrival order. */
  held: { seq: number | null; frame: OutFrame }[];
}

export class Recoveries {
  /** Members recovering history, by `${actorId}\n${room}`. */
  readonly #recovering = new Map<string, Recovery>();

  /** The member starts recovering from `since` (again, if it was already). */
  begin(actorId: string, room: Room, since: number): void {
    const key = recoveryKey(actorId, room.name);
    if (!this.#recovering.has(key)) room.live.recovering++;
    this.#recovering.set(key, { since, held: [] });
  }

  /** Holds a live message back when the member is recovering; false: deliver it now. */
  hold(member: ConnectionActor, room: Room, seq: number, frame: OutFrame): boolean {
    if (room.live.recovering === 0) return false;
    const recovery = this.#recovering.get(recoveryKey(member.id, room.name));
    if (recovery === undefined) return false;
    recovery.held.push({ seq, frame });
    return true;
  }

  /**
   * Holds back an ack for the member's own send in a room it is recovering:
   * its message is held (or in the history still being read), and the ack
   * must not overtake it. False: deliver it now.
   */
  holdAck(member: ConnectionActor, room: Room, frame: OutFrame): boolean {
    if (room.live.recovering === 0) return false;
    const recovery = this.#recovering.get(recoveryKey(member.id, room.name));
    if (recovery === undefined) return false;
    recovery.held.push({ seq: null, frame });
    return true;
  }

  /**
   * The history came: `joined` (made by the caller), then the missed and the
   * held-back messages, each seq once. Nothing when the member is not
   * recovering any more (it left meanwhile).
   */
  finish(actor: ConnectionActor, room: Room, result: HistoryResult, joined: () => OutFrame): void {
    const key = recoveryKey(actor.id, room.name);
    const recovery = this.#recovering.get(key);
    if (recovery === undefined) return;
    this.#recovering.delete(key);
    room.live.recovering--;
    actor.peer.deliver(joined());
    let last = recovery.since;
    for (const m of result.messages) {
      if (m.seq <= last) continue;
      actor.peer.deliver(OutFrame.ofStored(m.payload));
      last = m.seq;
    }
    for (const h of recovery.held) {
      if (h.seq === null) {
        actor.peer.deliver(h.frame); // an ack, after every message before it
        continue;
      }
      if (h.seq <= last) continue;
      actor.peer.deliver(h.frame);
      last = h.seq;
    }
  }

  /** The member left the room (or went away) while recovering: forget it. */
  end(actorId: string, room: Room | undefined): void {
    if (room === undefined || room.live.recovering === 0) return;
    if (this.#recovering.delete(recoveryKey(actorId, room.name))) room.live.recovering--;
  }
}

function recoveryKey(actorId: string, room: string): string {
  return `${actorId}\n${room}`;
}
