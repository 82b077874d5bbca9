// UpgradeGuard: who a WebSocket client is, decided before the handshake
// (Origin is origin-policy.ts's business).
//
// With a secret, a client presents an HS256 JWT in the Authorization header
// ("Bearer ...") or, for browsers, which cannot set headers on a WebSocket, in
// `?token=`. The user is the token's `sub` (a string, or an integer as many
// identity providers issue, normalised to its decimal string): DMs, presence
// and uniqueness use it, and two connections with one sub are one user in
// two tabs. The `name` claim, when present, is only a display name carried
// beside it. `?name=` is never consulted. A missing, malformed, expired or
// badly signed token, or a claim of the wrong type, is refused 401 with the
// reason in WWW-Authenticate. Verification is jose's, not ours.
import type { IncomingMessage } from 'node:http';
import { errors as joseErrors, jwtVerify } from 'jose';
import { JWT_CLOCK_TOLERANCE_S, MIN_JWT_SECRET_BYTES } from '../constants.js';
import { MAX_NAME_LENGTH, MAX_USER_ID_LENGTH } from '../protocol/limits.js';
import { cleanName, nameProblem } from '../protocol/names.js';
import { parseRoomRules, type RoomRules } from '../actors/room-access.js';

export interface UpgradeGuardOptions {
  /** HS256 secret; null: no authentication, names are whatever clients ask for. */
  jwtSecret: string | null;
}

/** The outcome of authentication: the user (the token's sub) and its display name, or why not. */
export type Identity = { user: string; name: string | null; rooms: RoomRules | null } | { refused: string };

export class UpgradeGuard {
  readonly #key: Uint8Array | null;

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
  }

  /** True when clients must present a token. */
  get authenticates(): boolean {
    return this.#key !== null;
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
      return identityOf(payload);
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

/**
 * The user and display name of a verified token's claims (see the file header).
 * Claims are whatever the token's issuer put there: any JSON type may come.
 */
export function identityOf(claims: { sub?: unknown; name?: unknown; rooms?: unknown }): Identity {
  const { sub, name } = claims;
  let user: string;
  if (typeof sub === 'string') user = sub;
  else if (typeof sub === 'number' && Number.isSafeInteger(sub)) user = String(sub);
  else if (typeof sub === 'number' && Number.isInteger(sub)) return { refused: 'the sub claim is an integer too large to be exact in JSON; issue it as a string' };
  else return { refused: `the sub claim must be a string or an integer, not ${jsonType(sub)}` };
  const problem = nameProblem(user, 'the sub claim', MAX_USER_ID_LENGTH);
  if (problem !== null) return { refused: problem };
  if (user !== user.trim()) return { refused: 'the sub claim must not begin or end with whitespace' };
  // The rooms claim: what this user may read and write (room-access.ts); absent, the broker's room policy decides.
  let rooms: RoomRules | null = null;
  if (claims.rooms !== undefined && claims.rooms !== null) {
    const parsed = parseRoomRules(claims.rooms, 'the rooms claim');
    if (typeof parsed === 'string') return { refused: parsed };
    rooms = parsed;
  }
  if (name === undefined || name === null) return { user, name: null, rooms };
  if (typeof name !== 'string') return { refused: `the name claim must be a string, not ${jsonType(name)}` };
  // A display name that is not acceptable (controls, invisible characters) is left out, not refused: the sub still names the user.
  return { user, name: cleanName(name, MAX_NAME_LENGTH), rooms };
}

function jsonType(v: unknown): string {
  if (v === undefined) return 'missing';
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isInteger(v) ? 'a number' : 'a non-integer number';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}
