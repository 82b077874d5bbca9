// Room access: which rooms a connection may read (join, history, who) and
// write (send), decided by rules of room-name patterns.
//
// One shape serves both sources of rules. A JWT's `rooms` claim is the rules
// for that token's user; a `--room-policy` file is the rules for every
// connection whose token has no such claim (or that has no token at all).
// A rule's key is a room name, or a prefix ending in `*` (`team:42:*`; a lone
// `*` is every room); its value is `rw`, `r` or `none`. An exact name beats
// any pattern, a longer prefix beats a shorter one, and a room no rule
// matches is `none`: rules list what is allowed. With neither a claim nor a
// policy every room is `rw`, and the check is skipped on the hot path.
//
// The server's own API is never limited by these rules: they are a
// connection's, applied where the supervisor handles that connection's op.

export type Access = 'none' | 'r' | 'rw';

export interface RoomRules {
  /** Exact room names. */
  readonly exact: ReadonlyMap<string, Access>;
  /** Prefix rules, longest prefix first. */
  readonly prefixes: readonly { readonly prefix: string; readonly access: Access }[];
}

/** The rules of a broker with no policy: every room readable and writable. */
export const OPEN_RULES: RoomRules = { exact: new Map(), prefixes: [{ prefix: '', access: 'rw' }] };

export function accessTo(rules: RoomRules, room: string): Access {
  const exact = rules.exact.get(room);
  if (exact !== undefined) return exact;
  for (const p of rules.prefixes) if (room.startsWith(p.prefix)) return p.access;
  return 'none';
}

/** Limits on a rules object, so a token or file cannot make every check slow. */
export const MAX_ROOM_RULES = 256;
const MAX_PATTERN_LENGTH = 256;

/**
 * Rules from their JSON form, `{ "<room or prefix*>": "rw" | "r" | "none" }`.
 * `where` names the source in the error ("the rooms claim", "--room-policy").
 * Returns the rules or a sentence saying what is wrong.
 */
export function parseRoomRules(json: unknown, where: string): RoomRules | string {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return `${where} must be an object of room patterns to "rw", "r" or "none"`;
  }
  const entries = Object.entries(json);
  if (entries.length > MAX_ROOM_RULES) return `${where} has ${entries.length} rules; at most ${MAX_ROOM_RULES}`;
  const exact = new Map<string, Access>();
  const prefixes: { prefix: string; access: Access }[] = [];
  for (const [pattern, access] of entries) {
    if (access !== 'rw' && access !== 'r' && access !== 'none') {
      return `${where}: "${pattern.slice(0, 64)}" must be "rw", "r" or "none", not ${JSON.stringify(access)?.slice(0, 32)}`;
    }
    if (pattern.length === 0 || pattern.length > MAX_PATTERN_LENGTH) {
      return `${where}: a pattern must have 1 to ${MAX_PATTERN_LENGTH} characters`;
    }
    const star = pattern.indexOf('*');
    if (star === -1) exact.set(pattern, access);
    else if (star === pattern.length - 1) prefixes.push({ prefix: pattern.slice(0, -1), access });
    else return `${where}: "${pattern.slice(0, 64)}": "*" may only end a pattern`;
  }
  prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
  return { exact, prefixes };
}

export function isOpen(rules: RoomRules): boolean {
  return rules === OPEN_RULES;
}
