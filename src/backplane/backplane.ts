// Backplane: what links the brokers of a deployment. The supervisor publishes
// room messages through it and hears back from it; it never talks to another
// node itself.
//
// One interface, several implementations:
//   memory  one process (the embedded default): sequence numbers and history
//           rings live here; "every interested node" is this node.
//   redis   many processes or machines: sequence numbers, history (a Stream
//           per room) and presence live in Redis; pub/sub carries messages.
//   cluster the workers of `hubbub serve --workers N` without Redis: the
//           primary process keeps seqs, histories and presence, and relays
//           over the cluster's IPC channels.
//
// A deployment of several nodes also shares who is where: user names are
// claimed cluster-wide, each node mirrors the members other nodes have in the
// rooms it has interest in (its roster), and DMs are routed to the recipient's
// node. A single node answers all of that at once (claimUser returns true,
// isReady is always true, the roster is empty).
//
// Everything a backplane reports goes to its BackplaneSink, which turns it into
// supervisor mailbox messages: results may arrive from I/O callbacks, outside
// any scheduler turn, and the supervisor handles them in order like any other
// message. Publishing is therefore asynchronous even in memory: the sender's
// ack and the members' copies come back as messages.
import type { OpId } from '../protocol/protocol.js';

/** A node's own history store, as /metrics reads it (HistoryStore). */
export interface HistoryStats {
  /** Bytes charged by the messages kept now. */
  readonly bytes: number;
  /** Messages kept now. */
  readonly messages: number;
  /** Messages dropped before their room's count bound would have, by why. */
  readonly evictions: { readonly budget: number; readonly roomBytes: number; readonly idle: number };
}

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

/** What a DM came to: handed to the recipient's node, no such user, or the backplane is down. */
export type DmOutcome = 'sent' | 'unknown_user' | 'unavailable';

/** A room's members on other nodes, as this node mirrors them. */
export interface RemoteMembers {
  readonly size: number;
  /**
   * Goes up whenever the members change: what was computed from them (the
   * supervisor's cached users list) is stale when it differs.
   */
  readonly version: number;
  keys(): IterableIterator<string>;
}

export interface BackplaneSink {
  /**
   * A message for a room this node has interest in, in seq order per room.
   * Seq 0: an unsequenced message delivered on this node only while the link
   * is down (its payload carries `"local":true` and no seq).
   */
  roomMessage(room: string, seq: number, payload: Buffer): void;
  /**
   * The publish of `who` was stored (durably, where the backplane is durable)
   * with this seq. Seq 0: the link is down; the message went to this node's
   * members only and was not stored.
   */
  published(who: Requester, room: string, seq: number, duplicate?: boolean): void;
  publishFailed(who: Requester, room: string, reason: string): void;
  history(who: Requester, room: string, kind: 'join' | 'history', result: HistoryResult): void;
  historyFailed(who: Requester, room: string, kind: 'join' | 'history', reason: string): void;
  /** The backplane lost or regained its link (Redis went away or came back). */
  linkChanged(up: boolean): void;
  /**
   * interest(room, true) took effect: the roster is loaded and messages flow.
   * Every interest(room, true) gets exactly one, also when the link is down
   * (at once) or when interest ends first. `seq`: the room's seq then; every
   * roomMessage after this one has a higher one (null: not known).
   */
  roomReady(room: string, seq: number | null): void;
  /** A member on another node joined or left `room` (or its node died). */
  remotePresence(room: string, user: string, event: 'join' | 'leave'): void;
  /** The answer to claimUser when it did not come at once. */
  claimed(who: Requester, user: string, ok: boolean): void;
  /** A DM for a user of this node, encoded by the sender's node. */
  directMessage(to: string, payload: Buffer): void;
  dmResult(who: Requester, to: string, outcome: DmOutcome): void;
  /** The answer to who(): members across every node, at most MAX_LISTED_USERS names. */
  members(who: Requester, room: string, users: string[], count: number): void;
  /** The answer to listRooms(): rooms with members anywhere, biggest first, at most MAX_LISTED_ROOMS. */
  roomList(who: Requester, rooms: RoomCount[]): void;
}

/** A room and how many members it has across the deployment. */
export interface RoomCount {
  room: string;
  count: number;
}

/** At most this many rooms in a listRooms answer (the biggest). */
export const MAX_LISTED_ROOMS = 1000;

/** The biggest `max` rooms, biggest first, names breaking ties. */
export function biggestRooms(rooms: RoomCount[], max = MAX_LISTED_ROOMS): RoomCount[] {
  return rooms.sort((a, b) => b.count - a.count || (a.room < b.room ? -1 : a.room > b.room ? 1 : 0)).slice(0, max);
}

export interface HistoryQuery {
  /** Replay what came after this seq. */
  since?: number;
  /** Or: the latest `limit` messages... */
  limit?: number;
  /** ...with a seq below this one (a page further back). */
  before?: number;
}

export interface Backplane {
  readonly kind: 'memory' | 'redis' | 'cluster';
  /**
   * False when this node is the whole deployment (memory): the supervisor's
   * registry then answers `who` and `dm` alone, synchronously.
   */
  readonly multiNode: boolean;
  /** Called once by the broker before any other method. */
  start(sink: BackplaneSink): Promise<void>;
  /**
   * Assigns the next seq of `room`, stores the message in its history and
   * delivers it to every node with interest (roomMessage), then confirms to
   * this node (published). `head` is the encoded event up to and including
   * `"seq":` — the backplane appends the number and the closing brace, so the
   * event is encoded once, where the seq is known. `once`, an idempotency key:
   * when a publish to the room with the same key was stored in the last ten
   * minutes (on any node), nothing is stored or delivered and `published`
   * reports that one's seq as a duplicate.
   */
  publish(room: string, head: string, who: Requester, once?: string): void;
  /** This node has (on) or no longer has (off) members in `room`. */
  interest(room: string, on: boolean): void;
  /**
   * The room's latest seq, for a backplane that knows it at once (memory);
   * the others tell it with roomReady. Asked just before interest(room, true).
   */
  latestSeq?(room: string): number;
  history(room: string, query: HistoryQuery, who: Requester, kind: 'join' | 'history'): void;
  close(): Promise<void>;

  // --- shared presence (trivial on one node) ---
  /**
   * False between interest(room, true) and its roomReady: the roster is not
   * loaded yet and no message of the room is delivered. While the link is
   * down every room is ready (with what the roster last knew).
   */
  isReady(room: string): boolean;
  /** Members of `room` on other nodes; empty when this node has no interest in it. */
  remoteMembers(room: string): RemoteMembers;
  /**
   * Claims a user name for a session of this node across the deployment.
   * Returns true when the name is this session's at once (the caller checked
   * it is free locally); false when the answer comes later (sink.claimed).
   */
  claimUser(user: string, who: Requester): boolean;
  releaseUser(user: string, who: Requester): void;
  /** A user of this node joined (on) or left `room`: other nodes' rosters follow. */
  membership(room: string, user: string, on: boolean): void;
  /** A DM to a user who is not on this node; the answer comes to sink.dmResult. */
  dm(to: string, payload: Buffer, who: Requester): void;
  /** Members of a room this node cannot answer for alone; the answer comes to sink.members. */
  who(room: string, who: Requester): void;
  /** Every room with members on any node, with its count; the answer comes to sink.roomList. */
  listRooms(who: Requester): void;
  /** The history this process keeps in its own memory, for /metrics; absent where it is kept elsewhere. */
  historyStats?(): HistoryStats;
}
