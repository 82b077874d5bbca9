// OriginPolicy: which browser pages may open a WebSocket here (/ws, /ws/text
// and /debug alike), against cross-site WebSocket hijacking and DNS rebinding.
//
// A browser always sends Origin; clients without one are not browsers and
// cannot carry a victim's ambient credentials, so they are let through. The
// allowed origins are, together:
//   - the broker's own address: the scheme (http), host and port it was
//     started on. Bound to a wildcard (0.0.0.0, ::) that is localhost, the
//     loopback addresses, this machine's host name and every interface
//     address; bound to a loopback address, that address and localhost.
//   - `--public-url` (the address browsers use through a proxy or TLS
//     terminator), scheme, host and port as given.
//   - every `--allowed-origins` entry ("*": any origin).
// The request's own Host header is never consulted: a page on
// http://evil.example:8080 whose name the attacker re-points at the broker
// (DNS rebinding) sends Host and Origin both `evil.example:8080`.
//
// Every refusal is logged as a warning, once per origin per minute, so an
// operator can see why a page cannot connect; at most ORIGIN_LOG_MAX distinct
// origins a minute are logged one by one, the rest are counted in one line.
import type { IncomingMessage } from 'node:http';
import { hostname, networkInterfaces } from 'node:os';
import type { Logger } from 'pino';

/** Distinct refused origins logged one by one per minute; past it, one line says how many were not. */
const ORIGIN_LOG_MAX = 64;
const ORIGIN_LOG_WINDOW_MS = 60_000;

export interface OriginPolicyOptions {
  /** Origins allowed besides the broker's own ("https://chat.example.com", or "*" for any). */
  allowedOrigins: readonly string[] | null;
  /** The URL browsers reach the broker at, when it is not the bound address (a proxy, TLS). */
  publicUrl: string | null;
}

export class OriginPolicy {
  readonly #log: Logger;
  readonly #anyOrigin: boolean;
  readonly #extra: readonly string[];
  #allowed: ReadonlySet<string>;
  #windowStart = 0;
  readonly #logged = new Set<string>();
  #unlogged = 0;

  constructor(options: OriginPolicyOptions, log: Logger) {
    this.#log = log;
    const listed = options.allowedOrigins ?? [];
    this.#anyOrigin = listed.includes('*');
    const extra = listed.filter((o) => o !== '*').map(normalizeOrigin);
    if (options.publicUrl !== null) extra.push(normalizeOrigin(options.publicUrl));
    this.#extra = extra;
    this.#allowed = new Set(extra);
  }

  /** Adds the broker's own origins, once its port is known (after listen). */
  bind(host: string, port: number): void {
    this.#allowed = new Set([...ownOrigins(host, port), ...this.#extra]);
  }

  /** Every allowed origin (for the startup log); ["*"] when any is. */
  get origins(): string[] {
    return this.#anyOrigin ? ['*'] : [...this.#allowed];
  }

  /** Whether a request's Origin may open a WebSocket here (see the file header); refusals are logged. */
  allows(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined || this.#anyOrigin) return true;
    if (this.#allowed.has(normalizeOrigin(origin))) return true;
    this.#noteRefused(origin, req.url ?? '');
    return false;
  }

  #noteRefused(origin: string, path: string): void {
    const now = Date.now();
    if (now - this.#windowStart >= ORIGIN_LOG_WINDOW_MS) {
      if (this.#unlogged > 0) this.#log.warn({ refused: this.#unlogged }, 'origin refused: more origins than were logged one by one last minute');
      this.#windowStart = now;
      this.#logged.clear();
      this.#unlogged = 0;
    }
    const shown = origin.slice(0, 200);
    if (this.#logged.has(shown)) return;
    if (this.#logged.size >= ORIGIN_LOG_MAX) {
      this.#unlogged++;
      return;
    }
    this.#logged.add(shown);
    this.#log.warn(
      { origin: shown, path: path.split('?')[0].slice(0, 100), allowed: this.origins },
      'origin refused: a browser page of this origin may not connect (add it with --allowed-origins or set --public-url; logged once a minute per origin)',
    );
  }
}

/** "HTTPS://Chat.Example.com:443/" -> "https://chat.example.com"; unparsable entries stay as given, lower-cased. */
export function normalizeOrigin(origin: string): string {
  try {
    const url = new URL(origin);
    // Opaque origins ("null", data:, file:) serialise as "null": never equal to an allowed one.
    return url.origin === 'null' ? `opaque:${origin}` : url.origin.toLowerCase();
  } catch {
    return origin.toLowerCase();
  }
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i;

/** The http origins of a bound address (see the file header). */
export function ownOrigins(host: string, port: number): string[] {
  let hosts: string[];
  if (host === '0.0.0.0' || host === '::' || host === '') {
    hosts = ['localhost', '127.0.0.1', '::1', hostname()];
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) hosts.push(a.address.split('%')[0]); // fe80::1%eth0: the zone is not in an Origin
    }
  } else if (LOOPBACK.test(host)) {
    hosts = [host, 'localhost'];
  } else {
    hosts = [host];
  }
  const origins = new Set<string>();
  for (const h of hosts) origins.add(normalizeOrigin(`http://${h.includes(':') ? `[${h}]` : h}:${port}`));
  return [...origins];
}
