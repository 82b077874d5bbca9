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
// Idempotent publish: a call's `id` goes to the backplane as the publish's
// `once` key, kept where seqs are assigned (memory, the cluster's primary,
// Redis), so a retry is stored once whichever node or worker it reaches.
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

const PREFIX = 'api:';

export class ServerCalls {
  readonly #pending = new Map<string, ReplyTo>();
  #next = 0;

  /** A Requester for a call whose answer comes later; `settle` delivers it. */
  begin(reply: ReplyTo): Requester {
    const actorId = `${PREFIX}${++this.#next}`;
    this.#pending.set(actorId, reply);
    return { actorId };
  }

  static owns(who: Requester): boolean {
    return who.actorId.startsWith(PREFIX);
  }

  /**
   * Answers the call `who` stands for. False when it is not a server call (or
   * was answered). The body is made only for a server call: the same backplane
   * answers reach connections on every message.
   */
  settle(who: Requester, status: number, body: () => string): boolean {
    if (!ServerCalls.owns(who)) return false;
    const reply = this.#pending.get(who.actorId);
    if (reply === undefined) return true;
    this.#pending.delete(who.actorId);
    reply({ status, json: body() });
    return true;
  }
}

/** The body of a publish's answer: its seq (0: the backplane was down, delivered on this node only, not stored). */
export function publishedJson(seq: number, duplicate = false): string {
  return JSON.stringify(seq > 0 ? (duplicate ? { seq, duplicate: true } : { seq }) : { seq: 0, stored: false });
}

export function errorJson(code: string, message: string): string {
  return JSON.stringify({ error: code, message });
}
