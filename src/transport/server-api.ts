// The server API: HTTP under /api/ for an application's backend (docs/api.md).
//
// This file owns the HTTP side only: the API key, reading and checking a
// JSON body, and turning a call into a supervisor message (server-calls.ts)
// whose answer becomes the HTTP reply. What a call does is the supervisor's.
//
// The key is compared in constant time (over digests, so its length leaks
// nothing either). A body is read up to the frame limit, since what it
// carries must fit in one WebSocket frame to be delivered; every refusal is
// a JSON `{error, message}` with a stable code. Off unless a key is set.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Scheduler } from '../actors/scheduler.js';
import { errorJson, type ServerCall, type ServerReply } from '../actors/server-calls.js';
import type { SupervisorMsg } from '../actors/supervisor-messages.js';
import type { Actor } from '../actors/actor.js';
import { MAX_HISTORY_LIMIT, MAX_ID_LENGTH, MAX_ROOM_LENGTH, MAX_TEXT_LENGTH, MAX_USER_ID_LENGTH, textTooLargeMessage } from '../protocol/limits.js';
import { nameProblem } from '../protocol/names.js';

export interface ServerApiOptions {
  /** The key a backend presents; null: the API is off (404). */
  apiKey: string | null;
  /** Largest body, and largest message it may carry (the frame limit). */
  maxBodyBytes: number;
  /** A call the supervisor has not answered in this long gets 504. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** The `from` of API messages when the call names none; `server:true` is the mark to trust. */
export const SERVER_SENDER = 'server';

type Body = Record<string, unknown>;
type Refusal = { status: number; error: string; message: string };
type Parsed = ServerCall | Refusal;

export class ServerApi {
  readonly #key: Buffer | null;
  readonly #options: ServerApiOptions;
  readonly #scheduler: Scheduler;
  readonly #supervisor: Actor<SupervisorMsg>;
  readonly #log: Logger;
  /** Calls answered, by HTTP status: /metrics and tests read it. */
  readonly answered = new Map<number, number>();

  constructor(scheduler: Scheduler, supervisor: Actor<SupervisorMsg>, log: Logger, options: ServerApiOptions) {
    this.#scheduler = scheduler;
    this.#supervisor = supervisor;
    this.#log = log;
    this.#options = options;
    this.#key = options.apiKey === null ? null : digest(options.apiKey);
  }

  handle(req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (this.#key === null) return this.#send(res, { status: 404, json: errorJson('disabled', 'the server API is off: start the broker with --api-key') });
    if (!this.#authorized(req)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="hubbub-api"');
      return this.#send(res, { status: 401, json: errorJson('unauthorized', 'a valid API key is needed: Authorization: Bearer <key>') });
    }
    const route = ROUTES[url.pathname];
    if (route === undefined) return this.#send(res, { status: 404, json: errorJson('not_found', `no API call ${url.pathname}`) });
    if (req.method !== route.method) {
      res.setHeader('Allow', route.method);
      return this.#send(res, { status: 405, json: errorJson('method_not_allowed', `${url.pathname} takes ${route.method}`) });
    }
    if (route.method === 'GET') return this.#dispatch(res, route.parse(Object.fromEntries(url.searchParams)));
    this.#readBody(req, res, (body) => this.#dispatch(res, route.parse(body)));
  }

  #authorized(req: IncomingMessage): boolean {
    const m = /^Bearer[ \t]+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    const given = m?.[1] ?? req.headers['x-api-key'];
    return typeof given === 'string' && timingSafeEqual(digest(given), this.#key!);
  }

  #readBody(req: IncomingMessage, res: ServerResponse, then: (body: Body) => void): void {
    const max = this.#options.maxBodyBytes;
    const declared = Number(req.headers['content-length']);
    if (declared > max) return this.#tooBig(req, res, max);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) this.#tooBig(req, res, max);
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (res.headersSent) return;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return this.#send(res, { status: 400, json: errorJson('bad_json', 'the body must be one JSON object') });
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        return this.#send(res, { status: 400, json: errorJson('bad_json', 'the body must be one JSON object') });
      }
      then(body as Body);
    });
    req.on('error', () => res.destroy());
  }

  #tooBig(req: IncomingMessage, res: ServerResponse, max: number): void {
    if (res.headersSent) return;
    // Answer now and close after the answer; the rest of the body is read and dropped, not buffered.
    res.setHeader('Connection', 'close');
    this.#send(res, { status: 413, json: errorJson('too_big', `the body must be at most ${max} bytes`) });
    req.resume();
  }

  #dispatch(res: ServerResponse, parsed: Parsed): void {
    if ('status' in parsed) return this.#send(res, { status: parsed.status, json: errorJson(parsed.error, parsed.message) });
    let answered = false;
    const timer = setTimeout(() => {
      answered = true;
      this.#send(res, { status: 504, json: errorJson('timeout', 'the broker did not answer in time; a publish may still be stored: retry with the same id') });
    }, this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const reply = (r: ServerReply): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      this.#send(res, r);
    };
    if (!this.#scheduler.send(this.#supervisor, { type: 'call', call: parsed, reply })) {
      answered = true;
      clearTimeout(timer);
      this.#send(res, { status: 503, json: errorJson('overloaded', 'the broker is overloaded; retry later') });
    }
  }

  #send(res: ServerResponse, r: ServerReply): void {
    if (res.headersSent || res.destroyed) return;
    this.answered.set(r.status, (this.answered.get(r.status) ?? 0) + 1);
    if (r.status >= 500) this.#log.warn({ status: r.status, body: r.json }, 'server API call failed');
    res.writeHead(r.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(r.json), 'Cache-Control': 'no-store' });
    res.end(r.json);
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function bad(message: string): Parsed {
  return { status: 400, error: 'bad_request', message };
}

function name(v: unknown, what: string, max: number): string | Parsed {
  if (typeof v !== 'string') return bad(`"${what}" must be a string`);
  const problem = nameProblem(v, `"${what}"`, max);
  return problem === null ? v : bad(problem);
}

/** text and data of a message: at least one; data any JSON value. */
function content(b: Body): { text: string; data?: unknown } | Parsed {
  if (b.text !== undefined && typeof b.text !== 'string') return bad('"text" must be a string');
  if (b.text === undefined && b.data === undefined) return bad('a message needs "text", "data" or both');
  if (typeof b.text === 'string' && b.text.length > MAX_TEXT_LENGTH) return { status: 413, error: 'too_large', message: textTooLargeMessage(b.text.length) };
  return b.data === undefined ? { text: (b.text as string | undefined) ?? '' } : { text: (b.text as string | undefined) ?? '', data: b.data };
}

function sender(b: Body): string | Parsed {
  return b.from === undefined ? SERVER_SENDER : name(b.from, 'from', MAX_USER_ID_LENGTH);
}

const isError = (v: unknown): v is Parsed & { status: number } => typeof v === 'object' && v !== null && 'status' in v;

/** What publish and send both take: the target (a room or a user), who it is from, and what it carries. */
function messageParts(b: Body, field: 'room' | 'to', max: number): { target: string; from: string; text: string; data?: unknown } | Refusal {
  const target = name(b[field], field, max);
  const c = content(b);
  const from = sender(b);
  for (const v of [target, c, from]) if (isError(v)) return v as Refusal;
  return { target: target as string, from: from as string, ...(c as { text: string; data?: unknown }) };
}

const ROUTES: Record<string, { method: 'GET' | 'POST'; parse: (b: Body) => Parsed }> = {
  '/api/publish': {
    method: 'POST',
    parse(b) {
      const m = messageParts(b, 'room', MAX_ROOM_LENGTH);
      if (isError(m)) return m;
      if (b.id !== undefined && (typeof b.id !== 'string' || b.id.length === 0 || b.id.length > MAX_ID_LENGTH)) {
        return bad(`"id" must be a string of 1-${MAX_ID_LENGTH} characters`);
      }
      const { target, ...rest } = m;
      return { call: 'publish', room: target, ...rest, ...(b.id === undefined ? {} : { id: b.id as string }) };
    },
  },
  '/api/send': {
    method: 'POST',
    parse(b) {
      const m = messageParts(b, 'to', MAX_USER_ID_LENGTH);
      if (isError(m)) return m;
      const { target, ...rest } = m;
      return { call: 'send', to: target, ...rest };
    },
  },
  '/api/disconnect': {
    method: 'POST',
    parse(b) {
      const user = name(b.user, 'user', MAX_USER_ID_LENGTH);
      if (isError(user)) return user;
      if (b.reason !== undefined && typeof b.reason !== 'string') return bad('"reason" must be a string');
      // A close reason must fit a control frame's 123 bytes.
      const reason = Buffer.from((b.reason as string | undefined) ?? 'disconnected by the server').subarray(0, 120).toString().replace(/\uFFFD$/, '');
      return { call: 'disconnect', user: user as string, reason };
    },
  },
  '/api/presence': {
    method: 'GET',
    parse(q) {
      const room = name(q.room, 'room', MAX_ROOM_LENGTH);
      return isError(room) ? room : { call: 'presence', room: room as string };
    },
  },
  '/api/history': {
    method: 'GET',
    parse(q) {
      const room = name(q.room, 'room', MAX_ROOM_LENGTH);
      if (isError(room)) return room;
      const limit = q.limit === undefined ? 50 : Number(q.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) return bad(`"limit" must be an integer 1-${MAX_HISTORY_LIMIT}`);
      return { call: 'history', room: room as string, limit };
    },
  },
  '/api/rooms': {
    method: 'GET',
    parse: () => ({ call: 'rooms' }),
  },
};
