// The debug channel's ops: one JSON frame in, one reply out. docs/debug.md is
// the contract; this file is its only implementation. A reply echoes the op's
// `req` (a string or number the client chose) when it had one: `id` already
// names the actor in `actor` and `kick`. A bad op gets {type:"error", code,
// message, req?} and the socket stays open.
import type { WebSocket } from 'ws';
import { ConnectionActor } from '../actors/connection-actor.js';
import type { ActorIndex } from './actor-index.js';
import { actorItem, describeActor, listActors, SORT_KEYS, type ActorsQuery, type SortKey } from './actor-query.js';
import { TOPICS, type DebugStream, type Topic } from './debug-stream.js';
import type { StatsSampler } from './stats-sampler.js';
import type { TraceRing } from './trace-ring.js';
import { HubbubError } from '../protocol/errors.js';

export interface OpContext {
  index: ActorIndex;
  trace: TraceRing;
  stream: DebugStream;
  sampler: StatsSampler;
  /** Closes a connection with 4000 and the reason. */
  kick(actor: ConnectionActor, reason: string): void;
}

export type DebugErrorCode = 'bad_json' | 'bad_request' | 'unknown_op' | 'not_found';

type Reply = Record<string, unknown>;

/** A refused debug op: answered as `{ ok: false, code, error }`, never thrown out of handleDebugOp. */
class OpError extends HubbubError<DebugErrorCode> {
  override name = 'DebugOpError';
}

const DEFAULT_TOPICS: readonly Topic[] = ['lifecycle', 'transitions', 'stats'];
/** WebSocket close reasons are at most 123 bytes (RFC 6455 §5.5). */
const MAX_REASON_BYTES = 123;
const TOP_MAX = 100;

/** Handles one frame from a debug client; returns the reply to send. Never throws. */
export function handleDebugOp(ctx: OpContext, ws: WebSocket, text: string): Reply {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { type: 'error', code: 'bad_json', message: 'frame is not valid JSON' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { type: 'error', code: 'bad_request', message: 'frame must be a JSON object' };
  }
  const o = value as Record<string, unknown>;
  const req = typeof o.req === 'string' || typeof o.req === 'number' ? o.req : undefined;
  try {
    const reply = dispatch(ctx, ws, o);
    if (req !== undefined) reply.req = req;
    return reply;
  } catch (err) {
    if (!(err instanceof OpError)) throw err;
    const reply: Reply = { type: 'error', code: err.code, message: err.message };
    if (req !== undefined) reply.req = req;
    return reply;
  }
}

function dispatch(ctx: OpContext, ws: WebSocket, o: Record<string, unknown>): Reply {
  switch (o.op) {
    case 'stats':
      return { ...ctx.sampler.current() };
    case 'history':
      return { type: 'history', samples: ctx.sampler.history() };
    case 'actors':
      return { type: 'actors', ...listActors(ctx.index, actorsQuery(o)) };
    case 'actor': {
      const actor = ctx.index.find(str(o, 'id', true)!);
      if (actor === undefined) throw new OpError('not_found', `no live actor "${String(o.id).slice(0, 64)}"`);
      return { type: 'actor', ...describeActor(ctx.index, ctx.trace, actor) };
    }
    case 'top': {
      const limit = int(o, 'limit') ?? 20;
      const now = Date.now();
      const items = [];
      for (const { id, recent } of ctx.trace.top(Math.min(limit, TOP_MAX) * 2)) {
        const actor = ctx.index.find(id); // the ring also remembers actors that are gone
        if (actor !== undefined) items.push({ ...actorItem(ctx.index, actor, now), recent });
        if (items.length >= Math.min(limit, TOP_MAX)) break;
      }
      return { type: 'top', window: { size: ctx.trace.size, since: ctx.trace.since }, items };
    }
    case 'subscribe':
      return { type: 'subscribed', topics: ctx.stream.subscribe(ws, topics(o, DEFAULT_TOPICS)) };
    case 'unsubscribe':
      return { type: 'subscribed', topics: ctx.stream.unsubscribe(ws, topics(o, TOPICS)) };
    case 'kick': {
      const target = str(o, 'id', true)!;
      const actor = ctx.index.find(target);
      if (!(actor instanceof ConnectionActor)) {
        throw new OpError('not_found', `no live connection "${target.slice(0, 64)}"`);
      }
      const reason = closeReason(str(o, 'reason') ?? 'kicked by an operator');
      ctx.kick(actor, reason);
      return { type: 'kicked', target: actor.id, user: actor.user, reason };
    }
    case undefined:
      throw new OpError('bad_request', 'missing "op"');
    default:
      throw new OpError('unknown_op', `unknown op "${String(o.op).slice(0, 32)}"`);
  }
}

function actorsQuery(o: Record<string, unknown>): ActorsQuery {
  const sort = str(o, 'sort');
  if (sort !== undefined && !(SORT_KEYS as readonly string[]).includes(sort)) {
    throw new OpError('bad_request', `"sort" must be one of ${SORT_KEYS.join(', ')}`);
  }
  const order = str(o, 'order');
  if (order !== undefined && order !== 'asc' && order !== 'desc') throw new OpError('bad_request', '"order" must be asc or desc');
  return {
    offset: int(o, 'offset'),
    limit: int(o, 'limit'),
    state: str(o, 'state'),
    room: str(o, 'room'),
    user: str(o, 'user'),
    q: str(o, 'q'),
    kind: str(o, 'kind'),
    sort: sort as SortKey | undefined,
    order,
  };
}

function topics(o: Record<string, unknown>, fallback: readonly Topic[]): Topic[] {
  const t = o.topics;
  if (t === undefined) return [...fallback];
  if (!Array.isArray(t) || !t.every((x): x is Topic => (TOPICS as readonly unknown[]).includes(x))) {
    throw new OpError('bad_request', `"topics" must be an array of ${TOPICS.join(', ')}`);
  }
  return t;
}

/** An optional string field ('' counts as absent); `required` makes it mandatory. */
function str(o: Record<string, unknown>, key: string, required = false): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') {
    if (required) throw new OpError('bad_request', `missing "${key}"`);
    return undefined;
  }
  if (typeof v !== 'string') throw new OpError('bad_request', `"${key}" must be a string`);
  return v;
}

function int(o: Record<string, unknown>, key: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new OpError('bad_request', `"${key}" must be a non-negative integer`);
  }
  return v;
}

/** Cut to what a close frame can carry, without splitting a character. */
function closeReason(reason: string): string {
  const chars = Array.from(reason.slice(0, 2 * MAX_REASON_BYTES)).slice(0, MAX_REASON_BYTES);
  while (Buffer.byteLength(chars.join('')) > MAX_REASON_BYTES) chars.pop();
  return chars.join('');
}
