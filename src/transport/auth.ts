// UpgradeGuard: who may open a WebSocket, decided before the handshake.
//
// Two checks, both on the HTTP upgrade request, so a refused client costs no
// WebSocket, no actor and no registry entry:
//   - Origin (cross-site WebSocket hijacking): a browser always sends Origin;
//     one from a page not in the allowed list is refused 403. By default the
//     allowed origin is the broker's own host (the Origin's host:port equals
//     the request's Host). Clients without an Origin header are not browsers
//     and are let through: they cannot carry a victim's ambient credentials.
//   - JWT (when a secret is configured): an HS256 token in the Authorization
//     header ("Bearer ...") or, for browsers, which cannot set headers on a
//     WebSocket, in `?token=`. The user name comes from the token (its `name`
//     claim, else `sub`), never from `?name=`. A missing, malformed, expired or
//     badly signed token is refused 401. Verification is jose's, not ours.
import type { IncomingMessage } from 'node:http';
import { errors as joseErrors, jwtVerify } from 'jose';
import { JWT_CLOCK_TOLERANCE_S, MIN_JWT_SECRET_BYTES } from '../constants.js';
import { cleanUserName } from '../protocol/protocol.js';

export interface UpgradeGuardOptions {
  /** HS256 secret; null: no authentication, names are whatever clients ask for. */
  jwtSecret: string | null;
  /** Origins allowed for browsers ("https://chat.example.com", or "*" for any); null: the broker's own host. */
  allowedOrigins: readonly string[] | null;
}

/** The outcome of authentication: the user name to register, or why not. */
export type Identity = { user: string } | { refused: string };

export class UpgradeGuard {
  readonly #key: Uint8Array | null;
  readonly #origins: ReadonlySet<string> | null;
  readonly #anyOrigin: boolean;

  constructor(options: UpgradeGuardOptions) {
    if (options.jwtSecret !== null) {
      const key = new TextEncoder().encode(options.jwtSecret);
      if (key.length < MIN_JWT_SECRET_BYTES) {
        throw new RangeError(`the JWT secret must be at least ${MIN_JWT_SECRET_BYTES} bytes (HS256, RFC 7518 §3.2); got ${key.length}`);
      }
      this.#key = key;
    } else {
      this.#key = null;
    }
    const origins = options.allowedOrigins;
    this.#anyOrigin = origins?.includes('*') === true;
    this.#origins = origins === null ? null : new Set(origins.filter((o) => o !== '*').map(normalizeOrigin));
  }

  /** True when clients must present a token. */
  get authenticates(): boolean {
    return this.#key !== null;
  }

  /** Whether a request's Origin may open a WebSocket here (see the file header). */
  originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true; // not a browser
    if (this.#anyOrigin) return true;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false; // "null" (sandboxed frames, file://) and garbage
    }
    if (this.#origins !== null) return this.#origins.has(url.origin.toLowerCase());
    return sameHost(url, req.headers.host);
  }

  /** The user a request's token names, or why it is refused. Only when `authenticates`. */
  async identify(req: IncomingMessage, url: URL): Promise<Identity> {
    const token = bearerToken(req) ?? url.searchParams.get('token');
    if (token === null || token === '') return { refused: 'missing token' };
    try {
      const { payload } = await jwtVerify(token, this.#key!, {
        algorithms: ['HS256'],
        requiredClaims: ['sub', 'exp'],
        clockTolerance: JWT_CLOCK_TOLERANCE_S,
      });
      const user = cleanUserName(typeof payload.name === 'string' ? payload.name : null) ?? cleanUserName(payload.sub);
      return user === null ? { refused: 'token has no usable sub or name' } : { user };
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) return { refused: 'token expired' };
      if (err instanceof joseErrors.JOSEError) return { refused: `invalid token (${err.code})` };
      throw err;
    }
  }
}

function bearerToken(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (h === undefined) return null;
  const m = /^Bearer[ \t]+(\S+)\s*$/i.exec(h);
  return m === null ? null : m[1];
}

/** "HTTPS://Chat.Example.com:443/" -> "https://chat.example.com"; unparsable entries stay as given. */
export function normalizeOrigin(origin: string): string {
  try {
    return new URL(origin).origin.toLowerCase();
  } catch {
    return origin.toLowerCase();
  }
}

/**
 * The Origin names the host the request was sent to. The Host header carries no
 * scheme, so a Host without a port matches the Origin scheme's default port.
 */
function sameHost(origin: URL, host: string | undefined): boolean {
  if (host === undefined) return false;
  let h: URL;
  try {
    h = new URL(`${origin.protocol}//${host}`);
  } catch {
    return false;
  }
  return h.hostname.toLowerCase() === origin.hostname.toLowerCase() && h.port === origin.port;
}
