// What the workers of `hubbub serve --workers N` and their primary say to each
// other over node:cluster's IPC channels when there is no Redis. JSON
// (cluster's default serialization); payloads travel as strings. Every
// process.send carries a batch: the ops of one scheduler slice, or of one
// batch handled by the primary, so IPC costs one write per slice, not one per
// message.
import type { OpId } from '../protocol/protocol.js';
import type { DmOutcome, HistoryResult, RoomCount } from './backplane.js';

/** A requester as carried: actor id and op id. */
export interface WireRequester {
  a: string;
  i?: OpId;
}

export type ToHub =
  | { t: 'pub'; room: string; head: string; who: WireRequester; once?: string }
  | { t: 'interest'; room: string; on: boolean; gen: number }
  | { t: 'history'; room: string; since?: number; limit?: number; before?: number; who: WireRequester; kind: 'join' | 'history' }
  | { t: 'claim'; user: string; who: WireRequester }
  | { t: 'release'; user: string; actor: string }
  | { t: 'member'; room: string; user: string; on: boolean }
  | { t: 'dm'; to: string; payload: string; who: WireRequester }
  | { t: 'who'; room: string; who: WireRequester }
  | { t: 'rooms'; who: WireRequester };

export type ToWorker =
  | { t: 'msg'; room: string; seq: number; payload: string }
  | { t: 'pubd'; room: string; seq: number; who: WireRequester; duplicate?: true }
  | { t: 'ready'; room: string; gen: number; members: [string, number][]; seq: number }
  | { t: 'presence'; room: string; user: string; worker: number; event: 'join' | 'leave' }
  | { t: 'history'; room: string; who: WireRequester; kind: 'join' | 'history'; result: WireHistory }
  | { t: 'claimed'; user: string; ok: boolean; who: WireRequester }
  | { t: 'dm-in'; to: string; payload: string }
  | { t: 'dm-result'; to: string; outcome: DmOutcome; who: WireRequester }
  | { t: 'members'; room: string; users: string[]; count: number; who: WireRequester }
  | { t: 'rooms'; rooms: RoomCount[]; who: WireRequester };

export interface WireHistory {
  messages: [number, string][];
  latest: number;
  recovered: boolean;
}

/** The envelope: marks our messages among whatever else rides the channel. */
export interface Envelope<T> {
  hubbub: 'bp';
  ops: T[];
}

export function isEnvelope<T>(msg: unknown): msg is Envelope<T> {
  return typeof msg === 'object' && msg !== null && (msg as { hubbub?: unknown }).hubbub === 'bp';
}

export function toWireHistory(result: HistoryResult): WireHistory {
  return {
    messages: result.messages.map((m) => [m.seq, m.payload.toString()]),
    latest: result.latest,
    recovered: result.recovered,
  };
}

/**
 * Collects ops and sends them as one envelope at the end of the current
 * macrotask (a scheduler slice, or one IPC batch being handled).
 */
export class Batcher<T> {
  #ops: T[] = [];
  #scheduled = false;

  constructor(readonly send: (envelope: Envelope<T>) => void) {}

  push(op: T): void {
    this.#ops.push(op);
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => this.flush());
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#ops.length === 0) return;
    const ops = this.#ops;
    this.#ops = [];
    this.send({ hubbub: 'bp', ops });
  }
}
