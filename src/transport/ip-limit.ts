// Open connections per remote IP address: the count, and where it is kept.
//
// A slot is taken when the TCP connection is accepted (before any byte of
// HTTP, so sockets that never finish a request count too) and given back when
// it closes, whatever the way. One process keeps the count itself (IpCount);
// under --workers the primary keeps it for every worker (IpCountHost there,
// PrimaryIpCount in each worker, over the cluster's IPC channel), so the cap
// is the deployment's, not each worker's. Across Redis nodes on different
// hosts each node counts alone. The address is the TCP peer's; behind a
// reverse proxy every client shares the proxy's, so set the cap there instead.

/** Gives a slot back; safe to call more than once. */
export type Release = () => void;

export interface IpSlots {
  readonly max: number;
  /**
   * A slot for `ip`: its release, or null at the cap; a promise of either when
   * the count is in another process, or of undefined when it did not answer.
   */
  take(ip: string): Release | null | Promise<Release | null | undefined>;
}

export class IpCount implements IpSlots {
  readonly #open = new Map<string, number>();

  constructor(readonly max: number) {}

  take(ip: string): Release | null {
    const n = this.#open.get(ip) ?? 0;
    if (n >= this.max) return null;
    this.#open.set(ip, n + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#give(ip);
    };
  }

  /** Open connections from `ip` (for tests and inspection). */
  count(ip: string): number {
    return this.#open.get(ip) ?? 0;
  }

  /** Addresses with at least one open connection. */
  get addresses(): number {
    return this.#open.size;
  }

  #give(ip: string): void {
    const n = (this.#open.get(ip) ?? 1) - 1;
    if (n <= 0) this.#open.delete(ip);
    else this.#open.set(ip, n);
  }
}

// --- under --workers: the count in the primary ---

/** Worker -> primary: take a slot for a new connection `id`, or give back the one `id` holds. */
export interface IpSlotAsk {
  hubbub: 'ip-slot';
  op: 'take' | 'give';
  id: number;
  ip?: string;
}

/** Primary -> worker: the answer to a take. */
export interface IpSlotAnswer {
  hubbub: 'ip-slot-answer';
  id: number;
  ok: boolean;
}

export function isIpSlotAsk(msg: unknown): msg is IpSlotAsk {
  return typeof msg === 'object' && msg !== null && (msg as { hubbub?: unknown }).hubbub === 'ip-slot';
}

function isIpSlotAnswer(msg: unknown): msg is IpSlotAnswer {
  return typeof msg === 'object' && msg !== null && (msg as { hubbub?: unknown }).hubbub === 'ip-slot-answer';
}

/** The primary's side: one count for every worker; what a worker held is given back when it exits. */
export class IpCountHost {
  readonly #count: IpCount;
  /** Per worker, the slots its connections hold, by connection id. */
  readonly #held = new Map<number, Map<number, Release>>();

  constructor(max: number) {
    this.#count = new IpCount(max);
  }

  /** Handles a worker's ask; returns the answer to send back to it, if any. */
  handle(worker: number, ask: IpSlotAsk): IpSlotAnswer | null {
    let held = this.#held.get(worker);
    if (held === undefined) {
      held = new Map();
      this.#held.set(worker, held);
    }
    if (ask.op === 'give') {
      held.get(ask.id)?.();
      held.delete(ask.id);
      return null;
    }
    const release = typeof ask.ip === 'string' ? this.#count.take(ask.ip) : null;
    if (release !== null) held.set(ask.id, release);
    return { hubbub: 'ip-slot-answer', id: ask.id, ok: release !== null };
  }

  dropWorker(worker: number): void {
    for (const release of this.#held.get(worker)?.values() ?? []) release();
    this.#held.delete(worker);
  }

  count(ip: string): number {
    return this.#count.count(ip);
  }
}

export interface PrimaryChannel {
  /** False when there is no primary to ask any more (the worker is stopping). */
  send(msg: IpSlotAsk): boolean;
  onMessage(handler: (msg: unknown) => void): void;
}

/** This process's IPC channel to the --workers primary. */
export function primaryChannel(): PrimaryChannel {
  return {
    send: (msg) => {
      if (!process.connected) return false;
      process.send!(msg, undefined, undefined, () => {});
      return true;
    },
    onMessage: (handler) => process.on('message', handler),
  };
}

/** A take the primary has not answered this long after is refused (its socket must not wait forever), ms. */
// Refused, not admitted: a primary too busy to answer is no reason to lift the cap.
const ANSWER_TIMEOUT_MS = 5000;

/** A worker's side: every take is a round trip to the primary (well under a millisecond over IPC). */
export class PrimaryIpCount implements IpSlots {
  readonly #channel: PrimaryChannel;
  readonly #waiting = new Map<number, (ok: boolean) => void>();
  /** Takes refused for lack of an answer: a late yes is given straight back. */
  readonly #abandoned = new Set<number>();
  #nextId = 0;

  readonly #answerTimeoutMs: number;

  constructor(readonly max: number, channel: PrimaryChannel = primaryChannel(), answerTimeoutMs = ANSWER_TIMEOUT_MS) {
    this.#channel = channel;
    this.#answerTimeoutMs = answerTimeoutMs;
    channel.onMessage((msg) => {
      if (!isIpSlotAnswer(msg)) return;
      if (this.#abandoned.delete(msg.id)) {
        if (msg.ok) this.#channel.send({ hubbub: 'ip-slot', op: 'give', id: msg.id });
        return;
      }
      this.#waiting.get(msg.id)?.(msg.ok);
      this.#waiting.delete(msg.id);
    });
  }

  take(ip: string): Promise<Release | null | undefined> {
    const id = ++this.#nextId;
    if (!this.#channel.send({ hubbub: 'ip-slot', op: 'take', id, ip })) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        this.#abandoned.add(id);
        resolve(undefined);
      }, this.#answerTimeoutMs);
      this.#waiting.set(id, (ok) => {
        clearTimeout(timer);
        if (!ok) return resolve(null);
        let held = true;
        resolve(() => {
          if (!held) return;
          held = false;
          this.#channel.send({ hubbub: 'ip-slot', op: 'give', id });
        });
      });
    });
  }
}

/** "::ffff:127.0.0.1" (IPv4 on a dual-stack socket) counts as "127.0.0.1". */
export function clientIp(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
