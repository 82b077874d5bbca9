// The messages the supervisor receives. In a file of its own so that actors can
// name them without importing the supervisor.
import type { DmOutcome, HistoryResult, Requester, RoomCount } from '../backplane/backplane.js';
import type { ClientOp } from '../protocol/protocol.js';
import type { Actor } from './actor.js';
import type { ReplyTo, ServerCall } from './server-calls.js';
import type { ConnectionActor } from './connection-actor.js';

export type RoomOp = Exclude<ClientOp, { op: 'ping' }>;

export type SupervisorMsg =
  /** A new connection asks for a name and a place in the registry. */
  | { type: 'register'; actor: ConnectionActor }
  /** A connection is closing or closed: out of every room, presence to the rest. */
  | { type: 'unregister'; actor: ConnectionActor }
  /** A client op that needs the registry: join, leave, send, dm, who. */
  | { type: 'op'; from: ConnectionActor; op: RoomOp }
  /**
   * A connection that found this mailbox full (its op went in anyway) asks to
   * be released once the supervisor reaches this note; it is not read until then.
   */
  | { type: 'notify'; actor: ConnectionActor }
  /** An actor's handler threw; it is already dead (scheduler's error boundary). */
  | { type: 'failed'; actor: Actor<unknown>; error: unknown }
  /** A call of the server API (server-calls.ts): answered through `reply`, never by a connection. */
  | { type: 'call'; call: ServerCall; reply: ReplyTo }
  /** Time to send the coalesced presence of big rooms. */
  | { type: 'flush-presence' }
  /** Some user's grace is over (presence-grace.ts). */
  | { type: 'grace-due' }
  // From the backplane (see src/backplane/backplane.ts), via BackplaneSink:
  /** A room message to fan out to this node's members, in seq order. */
  | { type: 'room-message'; room: string; seq: number; payload: Buffer }
  | { type: 'published'; who: Requester; room: string; seq: number; duplicate: boolean }
  | { type: 'publish-failed'; who: Requester; room: string; reason: string }
  | { type: 'history'; who: Requester; room: string; kind: 'join' | 'history'; result: HistoryResult }
  | { type: 'history-failed'; who: Requester; room: string; kind: 'join' | 'history'; reason: string }
  | { type: 'link'; up: boolean }
  | PeerMsg;

/** From the backplane: what the other nodes of a deployment say (presence, names, DMs). */
export type PeerMsg =
  | { type: 'room-ready'; room: string; seq: number | null }
  | { type: 'remote-presence'; room: string; user: string; event: 'join' | 'leave' }
  | { type: 'claimed'; who: Requester; user: string; ok: boolean }
  | { type: 'direct-message'; to: string; payload: Buffer }
  | { type: 'dm-result'; who: Requester; to: string; outcome: DmOutcome }
  | { type: 'members'; who: Requester; room: string; users: string[]; count: number }
  | { type: 'room-list'; who: Requester; rooms: RoomCount[] };
