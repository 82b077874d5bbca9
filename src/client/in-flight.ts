// InFlight: the ops a client has written and not yet seen answered. An answer
// finds its op by id (ack, pong, joined, left, who; error by ref) or, when a
// joined, left or who carries no id (an older broker), by kind and room. Every op has a timer; one that runs
// out removes the op and hands it to the owner to fail.
import type { HubbubClientError } from './errors.js';
import type { ClientOp, OpId } from './wire.js';

export type OpKind = 'join' | 'leave' | 'send' | 'dm' | 'who' | 'ping';

export interface Pending {
  id: number;
  kind: OpKind;
  op: ClientOp;
  room: string | null;
  resolve: (value: never) => void;
  reject: (err: HubbubClientError) => void;
  timer: ReturnType<typeof setTimeout> | null;
}

export class InFlight {
  readonly #ops = new Map<number, Pending>();

  constructor(
    readonly timeoutMs: number,
    readonly onTimeout: (p: Pending) => void,
  ) {}

  add(p: Pending): void {
    this.#ops.set(p.id, p);
    p.timer = setTimeout(() => {
      if (this.#ops.get(p.id) !== p) return;
      this.#ops.delete(p.id);
      p.timer = null;
      this.onTimeout(p);
    }, this.timeoutMs);
  }

  get(id: OpId | undefined): Pending | undefined {
    return typeof id === 'number' ? this.#ops.get(id) : undefined;
  }

  /** Removes the op with this id (its timer too) and returns it. */
  take(id: OpId | undefined): Pending | undefined {
    const p = this.get(id);
    if (p === undefined) return undefined;
    this.#ops.delete(p.id);
    stopTimer(p);
    return p;
  }

  /**
   * The op a reply answers: by its echoed id when the broker sent one, else
   * (brokers before ids were echoed on joined/left/who) the oldest op of this
   * kind for this room.
   */
  takeByRoom(kind: OpKind, room: string, id?: OpId): Pending | undefined {
    const byId = this.get(id);
    if (byId !== undefined && byId.kind === kind) return this.take(id);
    for (const p of this.#ops.values()) if (p.kind === kind && p.room === room) return this.take(p.id);
    return undefined;
  }

  /** Removes every op (timers stopped) and returns them, oldest first. */
  drain(): Pending[] {
    const all = [...this.#ops.values()];
    this.#ops.clear();
    for (const p of all) stopTimer(p);
    return all;
  }
}

function stopTimer(p: Pending): void {
  if (p.timer !== null) clearTimeout(p.timer);
  p.timer = null;
}
