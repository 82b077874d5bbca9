// Backplane: what links the brokers of a deployment. The supervisor publishes
// room messages through it and hears back from it; it never talks to another
// node itself.
//
// One interface, several implementations:
//   memory  one process (the embedded default): sequence numbers and history
//           rings live here; "every interested node" is this node.
//   redis   many processes or machines: sequence numbers, history (a Stream
//           per room) and presence live in Redis; pub/sub carries messages.
//
// Everything a backplane reports goes to its BackplaneSink, which turns it into
// supervisor mailbox messages: results may arrive from I/O callbacks, outside
// any scheduler turn, and the supervisor handles them in order like any other
// message. Publishing is therefore asynchronous even in memory: the sender's
// ack and the members' copies come back as messages.
import type { OpId } from '../protocol.js';

/** Who asked, so the answer can be routed back. Opaque to the backplane. */
export interface Requester {
  readonly actorId: string;
  readonly id?: OpId;
}

/** One room message as stored and carried: its seq and its encoded event (JSON). */
export interface StoredMessage {
  seq: number;
  payload: Buffer;
}

export interface HistoryResult {
  /** Messages after `since` (or the latest `limit`), oldest first. */
  messages: StoredMessage[];
  /** The room's latest seq when the history was read (0: no message yet). */
  latest: number;
  /** False when `since` is older than the history kept: some messages are gone. */
  recovered: boolean;
}

export interface BackplaneSink {
  /** A message for a room this node has interest in, in seq order per room. */
  roomMessage(room: string, seq: number, payload: Buffer): void;
  /** The publish of `who` was stored (durably, where the backplane is durable) with this seq. */
  published(who: Requester, room: string, seq: number): void;
  publishFailed(who: Requester, room: string, reason: string): void;
  history(who: Requester, room: string, kind: 'join' | 'history', result: HistoryResult): void;
  historyFailed(who: Requester, room: string, kind: 'join' | 'history', reason: string): void;
  /** The backplane lost or regained its link (Redis went away or came back). */
  linkChanged(up: boolean): void;
}

export interface HistoryQuery {
  /** Replay what came after this seq. */
  since?: number;
  /** Or: the latest `limit` messages. */
  limit?: number;
}

export interface Backplane {
  readonly kind: 'memory' | 'redis';
  /** Called once by the broker before any other method. */
  start(sink: BackplaneSink): Promise<void>;
  /**
   * Assigns the next seq of `room`, stores the message in its history and
   * delivers it to every node with interest (roomMessage), then confirms to
   * this node (published). `head` is the encoded event up to and including
   * `"seq":` — the backplane appends the number and the closing brace, so the
   * event is encoded once, where the seq is known.
   */
  publish(room: string, head: string, who: Requester): void;
  /** This node has (on) or no longer has (off) members in `room`. */
  interest(room: string, on: boolean): void;
  history(room: string, query: HistoryQuery, who: Requester, kind: 'join' | 'history'): void;
  close(): Promise<void>;
}

/** The full event bytes from a head ending in `"seq":` and the assigned seq. */
export function completeEvent(head: string, seq: number): Buffer {
  return Buffer.from(`${head}${seq}}`);
}
