// PresenceGrace: the names and presence of users whose connection dropped,
// held for a grace before the others are told they left; and the resume
// secrets that give a name back to the one who had it.
//
// A phone that changes networks, a laptop lid, a page reload: the connection
// drops and comes back seconds later. Without a grace everyone in the user's
// rooms saw a leave and then a join, and a generated name (guest-1a2b) went
// to the pool and came back different. With it, the supervisor takes the
// session out of the registry as usual (no socket, no delivery) but tells no
// one: the name stays taken, the user stays listed in `joined` and `who`, and
// the other nodes' rosters keep it. When the user comes back within the grace
// its name is granted again and its rejoins are silent; when the grace ends
// first, the leaves are told then, as they would have been at the drop.
//
// Who may come back as whom: a JWT user is its token's sub, so any new tab of
// that sub ends the hold. A user without a token gets a secret in its
// `welcome` (`resume`), one per session, and must present it (`?resume=`)
// with the name; only its SHA-256 is kept here, compared in constant time.
//
// Held names are bounded (the supervisor's `maxHeld`): past the bound the
// oldest hold ends at once, its leaves told, so a client that connects and
// drops in a loop cannot grow the process. Each hold ends on one timer for
// all of them (every grace is equally long, so the holds are in due order).
// Shutdown drops every hold without a word: no one is left to tell.
import * as crypto from 'node:crypto';

/** A user held in grace: what to tell and release when it ends. */
export interface Hold {
  readonly name: string;
  /** The actor id the backplane's name claim belongs to: released with it. */
  readonly owner: string;
  /** True while no new session has the name: the claim is released when the hold ends. */
  named: boolean;
  /** Rooms the user was in and has not rejoined: their leaves are not told yet. */
  readonly rooms: Set<string>;
  /** Date.now() when the grace ends. */
  due: number;
}

export interface GraceHost {
  /** Asks for expire() to be called from the supervisor's mailbox. */
  requestExpiry(): void;
  /** A hold is over unresumed (the grace passed, or the bound pushed it out): tell its leaves, release its name. */
  ended(key: string, hold: Hold): void;
}

export class PresenceGrace {
  readonly graceMs: number;
  readonly #maxHeld: number;
  readonly #host: GraceHost;
  /** User key -> SHA-256 of the resume secret of the session that has (or had) the name. */
  readonly #secrets = new Map<string, Buffer>();
  /** User key -> its hold, oldest first. */
  readonly #holds = new Map<string, Hold>();
  /** Room -> names held in it, for the room's users list. */
  readonly #byRoom = new Map<string, Set<string>>();
  #timer: NodeJS.Timeout | null = null;

  constructor(host: GraceHost, graceMs: number, maxHeld: number) {
    this.#host = host;
    this.graceMs = graceMs;
    this.#maxHeld = Math.max(1, maxHeld);
  }

  /** Held names (for tests and metrics). */
  get size(): number {
    return this.#holds.size;
  }

  /** A new secret for the session now holding `key`; the previous one no longer works. */
  mint(key: string): string {
    const secret = freshSecret();
    this.#secrets.set(key, digest(secret));
    return secret;
  }

  /** Whether `secret` is the one last minted for `key`. */
  matches(key: string, secret: string): boolean {
    const known = this.#secrets.get(key);
    return known !== undefined && crypto.timingSafeEqual(known, digest(secret));
  }

  /** The session under `key` ended for good: its secret no longer gives anything back. */
  forget(key: string): void {
    this.#secrets.delete(key);
  }

  /** The hold of the name under `key` while no session has it (the name is taken), or undefined. */
  held(key: string): Hold | undefined {
    const hold = this.#holds.get(key);
    return hold?.named === true ? hold : undefined;
  }

  /** Names held in `room` (listed with its members). */
  heldIn(room: string): ReadonlySet<string> | undefined {
    return this.#byRoom.get(room);
  }

  /**
   * Holds the user under `key` for the grace (false when the grace is off,
   * unless `always`: a session replaced by its resume is held for the new
   * one whatever the grace). A user held already (dropped again before the
   * last grace ended) keeps the rooms not rejoined yet and gets a new grace.
   */
  hold(key: string, name: string, owner: string, rooms: Iterable<string>, always = false): boolean {
    if (this.graceMs <= 0 && !always) return false;
    let hold = this.#holds.get(key);
    if (hold === undefined) {
      if (this.#holds.size >= this.#maxHeld) this.#end(this.#holds.keys().next().value as string);
      hold = { name, owner, named: true, rooms: new Set(), due: 0 };
    } else {
      this.#holds.delete(key); // re-inserted below: the newest grace goes last
      hold.named = true;
    }
    hold.due = Date.now() + this.graceMs;
    this.#holds.set(key, hold);
    for (const room of rooms) this.#addRoom(hold, room);
    this.#arm();
    return true;
  }

  /** A new session has the held name: the name is its now; the rooms wait for its rejoins. */
  resume(key: string): void {
    const hold = this.#holds.get(key);
    if (hold === undefined) return;
    hold.named = false;
    if (hold.rooms.size === 0) this.#holds.delete(key);
  }

  /** The user under `key` joins `room`: true when it was held there (the join is not news to anyone). */
  rejoin(key: string, room: string): boolean {
    const hold = this.#holds.get(key);
    if (hold === undefined || !hold.rooms.delete(room)) return false;
    this.#dropRoom(hold.name, room);
    if (hold.rooms.size === 0 && !hold.named) this.#holds.delete(key);
    return true;
  }

  /** The timer fired: every hold whose grace is over ends. */
  expire(): void {
    const now = Date.now();
    for (const [key, hold] of this.#holds) {
      if (hold.due > now) break; // due order: the rest are later
      this.#end(key);
    }
    this.#arm();
  }

  /** Shutdown: every hold is dropped untold, and the timer stopped. */
  dispose(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#holds.clear();
    this.#byRoom.clear();
  }

  #end(key: string): void {
    const hold = this.#holds.get(key);
    if (hold === undefined) return;
    this.#holds.delete(key);
    for (const room of hold.rooms) this.#dropRoom(hold.name, room);
    if (hold.named) this.forget(key);
    this.#host.ended(key, hold);
  }

  #addRoom(hold: Hold, room: string): void {
    hold.rooms.add(room);
    let names = this.#byRoom.get(room);
    if (names === undefined) this.#byRoom.set(room, (names = new Set()));
    names.add(hold.name);
  }

  #dropRoom(name: string, room: string): void {
    const names = this.#byRoom.get(room);
    if (names === undefined) return;
    names.delete(name);
    if (names.size === 0) this.#byRoom.delete(room);
  }

  /** One timer, for the oldest hold. */
  #arm(): void {
    if (this.#timer !== null) return; // armed for an earlier due; it re-arms for the rest
    const first = this.#holds.values().next();
    if (first.done === true) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#host.requestExpiry();
    }, Math.max(0, first.value.due - Date.now()));
    this.#timer.unref();
  }
}

/** Bytes of randomness in a secret (24 characters of base64url). */
const SECRET_BYTES = 18;
/**
 * Secrets are cut from a pool filled by the CSPRNG 256 at a time: randomBytes()
 * per secret cost ~5 µs (a job object and a call into OpenSSL each), the pool
 * ~0.3 µs; every connection's welcome mints one, so in a connection storm it
 * showed (with the digest, 6.7% of the broker's CPU).
 */
const pool = Buffer.alloc(SECRET_BYTES * 256);
let poolAt = pool.length;

function freshSecret(): string {
  if (poolAt === pool.length) {
    crypto.randomFillSync(pool);
    poolAt = 0;
  }
  const secret = pool.toString('base64url', poolAt, poolAt + SECRET_BYTES);
  // Spent bytes are overwritten so that the pool never holds a secret that was handed out.
  pool.fill(0, poolAt, poolAt + SECRET_BYTES);
  poolAt += SECRET_BYTES;
  return secret;
}

/**
 * SHA-256 in one call where Node has it (20.12 and later): createHash() makes
 * a Hash object and fetches the algorithm from OpenSSL every time, about
 * twice the CPU for a 24-character secret, and every welcome digests one.
 */
const oneShot = typeof crypto.hash === 'function';

function digest(secret: string): Buffer {
  return oneShot ? crypto.hash('sha256', secret, 'buffer') : crypto.createHash('sha256').update(secret).digest();
}
