// Server calls: what an application's backend asks of the broker without a
// WebSocket (the HTTP API in transport/server-api.ts), as supervisor messages.
//
// A call goes through the supervisor's mailbox like any client op, so it sees
// the registry as every connection does and needs no lock. Where the answer
// comes from the backplane (a publish's seq, a history page, members and DMs
// on other nodes), the call waits under a Requester of its own, `api:<n>`,
// which no connection ever has; the supervisor settles it here instead of
// delivering to a connection.
//
// Idempotent publish: a call's `id` is remembered with the seq it got, for
// IDEMPOTENCY_TTL_MS and at most IDEMPOTENCY_MAX ids, so a retried publish is
// answered with the first one's seq and stored once. The memory is this
// node's: a retry should reach the node that took the first attempt.
import type { Requester } from '../backplane/backplane.js';

export type ServerCall =
  | { call: 'publish'; room: string; text: string; data?: unknown; from: string; id?: string }
  | { call: 'send'; to: string; text: string; data?: unknown; from: string }
  | { call: 'disconnect'; user: string; reason: string }
  | { call: 'presence'; room: string }
  | { call: 'history'; room: string; limit: number }
  | { call: 'rooms' };

/** An answer: an HTTP status and the JSON body, encoded. */
export interface ServerReply {
  status: number;
  json: string;
}

export type ReplyTo = (reply: ServerReply) => void;

export const IDEMPOTENCY_TTL_MS = 10 * 60_000;
export const IDEMPOTENCY_MAX = 100_000;
const PREFIX = 'api:';

interface Remembered {
  at: number;
  /** The seq, once stored; until then the replies of retries that came meanwhile. */
  seq: number | null;
  waiting: ReplyTo[];
}

export class ServerCalls {
  readonly #pending = new Map<string, ReplyTo>();
  /** Publish ids, oldest first (a Map keeps insertion order): expiry walks from the front. */
  readonly #ids = new Map<string, Remembered>();
  #next = 0;

  /** A Requester for a call whose answer comes later; `settle` delivers it. */
  begin(reply: ReplyTo, id?: string): Requester {
    const actorId = `${PREFIX}${++this.#next}`;
    this.#pending.set(actorId, reply);
    return id === undefined ? { actorId } : { actorId, id };
  }

  static owns(who: Requester): boolean {
    return who.actorId.startsWith(PREFIX);
  }

  /** Answers the call `who` stands for. False when it is not a server call (or was answered). */
  settle(who: Requester, status: number, body: string): boolean {
    if (!ServerCalls.owns(who)) return false;
    const reply = this.#pending.get(who.actorId);
    if (reply === undefined) return true;
    this.#pending.delete(who.actorId);
    reply({ status, json: body });
    return true;
  }

  /**
   * A publish with an id: 'new' when it should go ahead (call `stored` or
   * `forget` when it ends), or 'answered' when a retry was answered from
   * memory (or will be, once the first attempt is stored).
   */
  claim(room: string, id: string, reply: ReplyTo, now: number): 'new' | 'answered' {
    this.#expire(now);
    const key = `${room}\u0000${id}`;
    const known = this.#ids.get(key);
    if (known === undefined) {
      if (this.#ids.size >= IDEMPOTENCY_MAX) this.#ids.delete(this.#ids.keys().next().value!);
      this.#ids.set(key, { at: now, seq: null, waiting: [] });
      return 'new';
    }
    if (known.seq === null) known.waiting.push(reply);
    else reply({ status: 200, json: publishedJson(known.seq, true) });
    return 'answered';
  }

  /** The first attempt of `id` was stored as `seq`: retries that waited get it too. */
  stored(room: string, id: string, seq: number): void {
    const known = this.#ids.get(`${room}\u0000${id}`);
    if (known === undefined) return;
    known.seq = seq;
    for (const r of known.waiting.splice(0)) r({ status: 200, json: publishedJson(seq, true) });
  }

  /** The first attempt failed: the id is free again, and retries that waited get the same failure. */
  forget(room: string, id: string, status: number, body: string): void {
    const key = `${room}\u0000${id}`;
    const known = this.#ids.get(key);
    if (known === undefined) return;
    this.#ids.delete(key);
    for (const r of known.waiting) r({ status, json: body });
  }

  #expire(now: number): void {
    for (const [key, r] of this.#ids) {
      if (now - r.at < IDEMPOTENCY_TTL_MS) break;
      if (r.seq !== null) this.#ids.delete(key);
    }
  }
}

/** The body of a publish's answer: its seq (0: the backplane was down, delivered on this node only, not stored). */
export function publishedJson(seq: number, duplicate = false): string {
  return JSON.stringify(seq > 0 ? (duplicate ? { seq, duplicate: true } : { seq }) : { seq: 0, stored: false });
}

export function errorJson(code: string, message: string): string {
  return JSON.stringify({ error: code, message });
}
