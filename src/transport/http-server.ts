// The HTTP edge: one node:http server for pages, health and WebSocket upgrades.
//
// Upgrades are routed by path to whoever registered it (`/ws` the chat
// gateway, `/debug` the debug channel); an unknown path is answered 404 before
// any WebSocket handshake. Pages are files from public/, read once at start.
//
// No socket holds a descriptor for free here: one that has not sent a whole
// request head (an upgrade's too) within headersTimeoutMs is answered 408 and
// closed, whether it sent nothing or a head that never ends.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { HEADERS_TIMEOUT_MS } from '../constants.js';
import type { EdgeGate } from './edge-gate.js';
import { PAGE_HEADERS, StaticPages } from './static-pages.js';

/** Pending connections the kernel may queue (capped by net.core.somaxconn). */
const LISTEN_BACKLOG = 4096;

export interface HttpServerOptions {
  /** A request head must be complete this long after the socket's accept (kept alive: the next request's first byte); ms. */
  headersTimeoutMs?: number;
  /** Checks each socket at accept (caps); its refused sockets are never served. */
  gate?: EdgeGate;
}

/** A whole request, body included, gets this many times the head's time (the API's bodies). */
const REQUEST_TIMEOUT_FACTOR = 3;

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL) => void;
export type RequestHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

export class HttpServer {
  readonly server: Server;
  readonly #upgrades = new Map<string, UpgradeHandler>();
  readonly #routes = new Map<string, RequestHandler>();
  /** Paths under a prefix, any method (the server API): checked before the GET-only routes. */
  readonly #prefixes: { prefix: string; handler: RequestHandler }[] = [];
  readonly #pages: StaticPages;
  readonly #log: Logger;
  readonly #gate: EdgeGate | null;
  #port = 0;
  /** Sockets closed for not sending a whole request head in time. */
  headersTimedOut = 0;

  constructor(log: Logger, pages: StaticPages = new StaticPages(), options: HttpServerOptions = {}) {
    this.#log = log;
    this.#pages = pages;
    this.#gate = options.gate ?? null;
    const headersTimeout = options.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
    // Node checks these deadlines on a sweep of the sockets still in HTTP (an
    // upgraded socket has left that list): every connectionsCheckingInterval,
    // 30 s by default, which would let a socket outlive a 10 s deadline by 30 s.
    // A sweep a quarter of the deadline apart keeps the overshoot to 25%.
    this.server = createServer({
      headersTimeout,
      requestTimeout: headersTimeout * REQUEST_TIMEOUT_FACTOR,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))),
    }, (req, res) => this.#whenAdmitted(req, () => this.#request(req, res)));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#whenAdmitted(req, () => this.#upgrade(req, socket, head)));
    const gate = this.#gate;
    if (gate !== null) this.server.on('connection', (socket: Socket) => gate.admit(socket, this.openConnections));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      this.#log.debug({ err: err.code ?? err.message }, 'http: a client sent what is not HTTP, or went away mid-request');
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
        this.headersTimedOut++;
        if (socket.writable) socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        // end() waits for the peer's FIN, which a slowloris never sends.
        (socket as Socket).destroySoon();
        return;
      }
      if (err.code === 'ECONNRESET' || !socket.writable) socket.destroy();
      else socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });
  }

  /** Routes WebSocket upgrades on `path` to `handler`. */
  onUpgrade(path: string, handler: UpgradeHandler): void {
    this.#upgrades.set(path, handler);
  }

  /** Serves GET/HEAD on `path` with `handler` (before static pages). */
  onGet(path: string, handler: RequestHandler): void {
    this.#routes.set(path, handler);
  }

  /** Serves every method on paths that start with `prefix` with `handler`. */
  onPrefix(prefix: string, handler: RequestHandler): void {
    this.#prefixes.push({ prefix, handler });
  }

  listen(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      // A storm of thousands of handshakes overflows Node's default backlog (511):
      // dropped SYNs are retried after growing delays, up to tens of seconds.
      this.server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
        this.server.off('error', reject);
        const addr = this.server.address();
        this.#port = addr !== null && typeof addr === 'object' ? addr.port : port;
        resolve();
      });
    });
  }

  /**
   * Open TCP connections, refused ones still closing included: Node's own
   * count (net.Server's, what its maxConnections reads; raised before
   * 'connection', lowered on destroy). Counting ourselves would take a close
   * listener per socket: 60 to 100 B of heap each, measured at 4,000 connections.
   */
  get openConnections(): number {
    // Not in @types/node; a number in every Node since 0.x, workers' servers too.
    return (this.server as unknown as { _connections: number })._connections;
  }

  /** The port actually bound (useful with port 0); still known after close. */
  get port(): number {
    return this.#port;
  }

  /** Runs `serve` once the gate has let the request's socket in; never for a refused one (the gate answered it). */
  #whenAdmitted(req: IncomingMessage, serve: () => void): void {
    const verdict = this.#gate === null ? true : this.#gate.verdict(req.socket);
    if (verdict === true) serve();
    else if (verdict !== false) {
      verdict.then((ok) => {
        if (ok && !req.socket.destroyed) serve();
      }, () => req.socket.destroy());
    }
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    const url = parseUrl(req);
    if (url === null) return reply(res, 400, 'bad request\n');
    for (const p of this.#prefixes) if (url.pathname.startsWith(p.prefix)) return p.handler(req, res, url);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return reply(res, 405, 'method not allowed\n');
    }
    const route = this.#routes.get(url.pathname);
    if (route !== undefined) return route(req, res, url);
    const page = this.#pages.get(url.pathname);
    if (page === undefined) return reply(res, 404, 'not found\n');
    res.writeHead(200, { ...PAGE_HEADERS, 'Content-Type': page.type, 'Content-Length': page.body.length, 'Cache-Control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : page.body);
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Until a handler owns the socket, a reset must not become an uncaught 'error'.
    socket.on('error', ignoreUpgradeError);
    const url = parseUrl(req);
    const handler = url === null ? undefined : this.#upgrades.get(url.pathname);
    if (handler === undefined) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    handler(req, socket, head, url!);
    // Upgraded: ws listens for errors itself now; ours would cost a listener array per connection.
    if (socket.listenerCount('error') > 1) socket.off('error', ignoreUpgradeError);
  }
}

/** Shared by every upgrading socket: errors before a handler takes over end the socket anyway. */
function ignoreUpgradeError(): void {}

function parseUrl(req: IncomingMessage): URL | null {
  try {
    return new URL(req.url ?? '/', 'http://hubbub.invalid');
  } catch {
    return null;
  }
}

export function reply(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'X-Content-Type-Options': 'nosniff' });
  res.end(body);
}

/** Refuses an upgrade with an HTTP status before the handshake (401, 403, 404...). */
export function refuseUpgrade(socket: Duplex, status: number, text: string, headers: Record<string, string> = {}): void {
  let extra = '';
  for (const [name, value] of Object.entries(headers)) extra += `${name}: ${value.replace(/[\r\n]/g, ' ')}\r\n`;
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\n${extra}Content-Length: 0\r\n\r\n`);
}
