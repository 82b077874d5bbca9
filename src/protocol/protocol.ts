// The wire protocol: parsing and validating client ops, encoding server events.
// docs/protocol.md is the contract. Every client op is parsed here and every
// event is encoded here, the hot paths' spliced JSON included (a message up to
// its seq, the backplane's completion of it, joined and history around JSON
// encoded already), and so is the plain-text clients' reading of both.
// Encoders return OutFrames so one encoded event can be written to many sockets.
import { MAX_HISTORY_LIMIT, MAX_ID_LENGTH, MAX_NAME_LENGTH, MAX_ROOM_LENGTH, MAX_TEXT_LENGTH, MAX_USER_ID_LENGTH, textTooLargeMessage } from './limits.js';
import type { ErrorCode } from './errors.js';
import { cleanName, nameProblem } from './names.js';
import { OutFrame } from './out-frame.js';

/** A client's op id, echoed in its ack or error as given. */
export type OpId = string | number;

export type ClientOp =
  | { op: 'join'; room: string; since?: number; id?: OpId }
  | { op: 'history'; room: string; limit: number; before?: number; id?: OpId }
  | { op: 'leave'; room: string; id?: OpId }
  | { op: 'send'; room: string; text: string; id?: OpId }
  | { op: 'dm'; to: string; text: string; id?: OpId }
  | { op: 'who'; room: string; id?: OpId }
  | { op: 'ping'; id?: OpId };

/** What a client did wrong: becomes an `error` event; the connection stays open. */
export interface ProtocolFault {
  fault: ErrorCode;
  message: string;
  ref?: OpId;
}

export type ServerEvent =
  /**
   * `resume`: the secret that gives this name back on a reconnect (`?resume=`), never shown to
   * anyone else; absent with a token (the token is the credential). `asked`: the name asked
   * for, when the broker gave another (it was taken).
   */
  | { type: 'welcome'; session: string; user: string; name?: string; resume?: string; asked?: string }
  | { type: 'joined'; room: string; users: string[]; count: number; recovered?: boolean; seq?: number; id?: OpId }
  | { type: 'left'; room: string; id?: OpId }
  | { type: 'presence'; room: string; user: string; event: 'join' | 'leave' }
  | { type: 'presence'; room: string; event: 'batch'; joined: string[]; left: string[]; count: number }
  | { type: 'message'; room: string; from: string; fromName?: string; text: string; data?: unknown; server?: true; ts: number; seq: number; local?: true }
  | { type: 'ack'; id: OpId; seq?: number; stored?: false }
  | { type: 'dm'; from: string; fromName?: string; to: string; text: string; data?: unknown; server?: true; ts: number }
  | { type: 'who'; room: string; users: string[]; count: number; id?: OpId }
  | { type: 'pong'; id?: OpId }
  | { type: 'history'; room: string; messages: Extract<ServerEvent, { type: 'message' }>[]; seq: number; more?: true; id?: OpId }
  | { type: 'error'; code: ErrorCode; message: string; ref?: OpId };

/** The refusal of a text over MAX_TEXT_LENGTH: the limit is in the sentence, for people. */
export function textTooLarge(length: number): ProtocolFault {
  return { fault: 'too_large', message: textTooLargeMessage(length) };
}

export function encode(event: ServerEvent): OutFrame {
  return new OutFrame(Buffer.from(JSON.stringify(event)));
}

/** The reply with the op's `id` echoed when it had one (joined, left, who). */
export function withId<E extends ServerEvent>(event: E, id: OpId | undefined): E {
  if (id !== undefined) (event as { id?: OpId }).id = id;
  return event;
}

export function encodeError(code: ErrorCode, message: string, ref?: OpId): OutFrame {
  return encode(ref === undefined ? { type: 'error', code, message } : { type: 'error', code, message, ref });
}

// --- Spliced encoders ---
// Events built around JSON that is encoded already (stored messages, a cached
// users list) or completed later (a message's seq, assigned by the backplane).
// Splicing saves a parse and a re-encode per event; the splicing is kept here
// so that the wire format is written in this one file.

/**
 * A room message up to its seq: `{"type":"message",...,"seq":`. The backplane
 * assigns the seq and finishes it with completeEvent (or unsequencedEvent).
 */
export function messageHead(room: string, from: string, text: string, ts: number, server?: ServerExtras, fromName?: string): string {
  const extras = server === undefined ? ''
    : `${server.data === undefined ? '' : `,"data":${JSON.stringify(server.data)}`},"server":true`;
  const name = fromName === undefined ? '' : `,"fromName":${JSON.stringify(fromName)}`;
  return `{"type":"message","room":${JSON.stringify(room)},"from":${JSON.stringify(from)}${name},` +
    `"text":${JSON.stringify(text)}${extras},"ts":${ts},"seq":`;
}

/**
 * What a message from the server API carries besides a client's: `server:true`
 * (no connection can set it: the mark to trust, not the `from` name) and an
 * optional structured `data` value.
 */
export interface ServerExtras {
  data?: unknown;
}

/** The full event bytes from a messageHead and the assigned seq. */
export function completeEvent(head: string, seq: number): Buffer {
  return Buffer.from(`${head}${seq}}`);
}

const SEQ_TAIL = ',"seq":';

/**
 * The event of a message that could not be sequenced (the link is down): no
 * seq, and `"local":true` so clients know it reached this node's members only
 * and will never be replayed.
 */
export function unsequencedEvent(head: string): Buffer {
  const body = head.endsWith(SEQ_TAIL) ? head.slice(0, -SEQ_TAIL.length) : head.slice(0, head.lastIndexOf(','));
  return Buffer.from(`${body},"local":true}`);
}

/** A `users` list as JSON, for encodeJoined (which may be given the same one many times). */
export function usersJson(users: readonly string[]): string {
  return JSON.stringify(users);
}

/**
 * `joined`, around a users list that is JSON already (usersJson). `recovered`
 * for a join with `since` only; `seq`, the room's latest, where it is known.
 */
export function encodeJoined(
  room: string, users: string, count: number,
  recovered: boolean | null, seq: number | null, id: OpId | undefined,
): OutFrame {
  let json = `{"type":"joined","room":${JSON.stringify(room)},"users":${users},"count":${count}`;
  if (recovered !== null) json += `,"recovered":${recovered}`;
  if (seq !== null) json += `,"seq":${seq}`;
  if (id !== undefined) json += `,"id":${JSON.stringify(id)}`;
  return new OutFrame(Buffer.from(`${json}}`));
}

/** `history`, around stored `message` events (each a complete JSON object), oldest first. */
export function encodeHistory(room: string, messages: readonly { payload: Buffer }[], seq: number, id: OpId | undefined, more = false): OutFrame {
  const parts: Buffer[] = [Buffer.from(`{"type":"history","room":${JSON.stringify(room)},"messages":[`)];
  messages.forEach((m, i) => {
    if (i > 0) parts.push(COMMA);
    parts.push(m.payload);
  });
  parts.push(Buffer.from(`],"seq":${seq}${more ? ',"more":true' : ''}${id === undefined ? '' : `,"id":${JSON.stringify(id)}`}}`));
  return OutFrame.ofParts(parts);
}

const COMMA = Buffer.from(',');

const OPS = new Set(['join', 'leave', 'send', 'dm', 'who', 'ping', 'history']);

/** Parses one client text frame. Never throws: bad input is a ProtocolFault. */
export function parseClientOp(text: string): ClientOp | ProtocolFault {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { fault: 'bad_json', message: 'frame is not valid JSON' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { fault: 'bad_request', message: 'frame must be a JSON object' };
  }
  const o = value as Record<string, unknown>;
  const id = o.id;
  let ref: OpId | undefined;
  if (id !== undefined) {
    if (!((typeof id === 'string' && id.length <= MAX_ID_LENGTH) || (typeof id === 'number' && Number.isFinite(id)))) {
      return { fault: 'bad_request', message: `"id" must be a string of at most ${MAX_ID_LENGTH} characters or a number` };
    }
    ref = id;
  }
  const op = o.op;
  if (typeof op !== 'string') return withRef({ fault: 'bad_request', message: 'missing "op"' }, ref);
  if (!OPS.has(op)) return withRef({ fault: 'unknown_op', message: `unknown op "${op.slice(0, 32)}"` }, ref);
  switch (op) {
    case 'ping':
      return withRef({ op }, ref);
    case 'join': {
      const room = checkName(o.room, 'room', MAX_ROOM_LENGTH);
      if (typeof room !== 'string') return withRef(room, ref);
      if (o.since === undefined) return withRef({ op, room }, ref);
      if (!isCount(o.since)) return withRef({ fault: 'bad_request', message: '"since" must be a non-negative integer seq' }, ref);
      return withRef({ op, room, since: o.since }, ref);
    }
    case 'history': {
      const room = checkName(o.room, 'room', MAX_ROOM_LENGTH);
      if (typeof room !== 'string') return withRef(room, ref);
      const limit = o.limit ?? 50;
      if (!isCount(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) {
        return withRef({ fault: 'bad_request', message: `"limit" must be an integer from 1 to ${MAX_HISTORY_LIMIT}` }, ref);
      }
      if (o.before === undefined) return withRef({ op, room, limit }, ref);
      if (!isCount(o.before) || o.before < 1) return withRef({ fault: 'bad_request', message: '"before" must be a positive integer seq' }, ref);
      return withRef({ op, room, limit, before: o.before }, ref);
    }
    case 'leave':
    case 'who': {
      const room = checkName(o.room, 'room', MAX_ROOM_LENGTH);
      if (typeof room !== 'string') return withRef(room, ref);
      return withRef({ op, room }, ref);
    }
    case 'send': {
      const room = checkName(o.room, 'room', MAX_ROOM_LENGTH);
      if (typeof room !== 'string') return withRef(room, ref);
      if (typeof o.text !== 'string') return withRef({ fault: 'bad_request', message: '"text" must be a string' }, ref);
      if (o.text.length > MAX_TEXT_LENGTH) return withRef(textTooLarge(o.text.length), ref);
      return withRef({ op, room, text: o.text }, ref);
    }
    default: {
      // 'dm'
      const to = checkName(o.to, 'to', MAX_USER_ID_LENGTH);
      if (typeof to !== 'string') return withRef(to, ref);
      if (typeof o.text !== 'string') return withRef({ fault: 'bad_request', message: '"text" must be a string' }, ref);
      if (o.text.length > MAX_TEXT_LENGTH) return withRef(textTooLarge(o.text.length), ref);
      return withRef({ op: 'dm', to, text: o.text }, ref);
    }
  }
}

// --- Plain-text clients (the text gateway, /ws/text) ---
// A client written for gorilla's chat example sends bare text and reads bare
// text. It speaks this protocol through these three, so the gateway neither
// writes nor parses JSON itself.

/** The join a plain-text socket makes on arrival: its URL's room, checked as a client's join would be. */
export function textJoinOp(room: string): ClientOp | ProtocolFault {
  const checked = checkName(room, 'room', MAX_ROOM_LENGTH);
  return typeof checked === 'string' ? { op: 'join', room: checked } : checked;
}

/** A plain-text frame: a send of the whole frame to the socket's room. */
export function textSendOp(room: string, text: string): ClientOp | ProtocolFault {
  return text.length > MAX_TEXT_LENGTH ? textTooLarge(text.length) : { op: 'send', room, text };
}

/** How every `message` event begins (messageHead): any other event is known by its first bytes. */
const MESSAGE_START = Buffer.from('{"type":"message",');

/** The text of a `message` event's bytes, or null for every other event (a plain-text client reads messages only). */
export function messageText(payload: Buffer): string | null {
  if (payload.length < MESSAGE_START.length || payload.compare(MESSAGE_START, 0, MESSAGE_START.length, 0, MESSAGE_START.length) !== 0) return null;
  const text = (JSON.parse(payload.toString()) as { text?: unknown }).text;
  return typeof text === 'string' ? text : null;
}

export function isFault(x: ClientOp | ProtocolFault): x is ProtocolFault {
  return (x as ProtocolFault).fault !== undefined;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function withRef<T extends object>(x: T, ref: OpId | undefined): T {
  if (ref !== undefined) (x as { id?: OpId; ref?: OpId })[('fault' in x ? 'ref' : 'id')] = ref;
  return x;
}

function checkName(v: unknown, field: string, max: number): string | ProtocolFault {
  if (typeof v !== 'string') return { fault: 'bad_request', message: `missing "${field}"` };
  const problem = nameProblem(v, `"${field}"`, max);
  return problem === null ? v : { fault: 'bad_request', message: problem };
}

/** A user name a client asked for (trimmed), or null when it is missing or not acceptable (names.ts). */
export function cleanUserName(v: unknown): string | null {
  return cleanName(v, MAX_NAME_LENGTH);
}
