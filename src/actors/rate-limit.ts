// RateLimit: the per-connection token bucket on the frame path. It shapes,
// it does not police: a frame that finds no token is held, not dropped.
//
// One RateLimit object holds the policy and is shared by every connection; the
// bucket itself is two numbers on each connection actor (`Metered`), so the
// check is O(1), allocates nothing and needs no timer while tokens last:
// tokens are refilled lazily from the time elapsed since the previous frame.
//
//   tokens   refill at `rate` per second up to `burst`; a frame takes one.
//   no token the connection actor holds the frame (and those behind it), stops
//            reading its socket and sets one timer for when tokens are back
//            (connection-actor.ts). The client's excess waits in TCP, so a
//            flooder slows to the rate and loses nothing, and the event loop
//            never carries more of its traffic than `rate` allows: that is
//            what keeps the other rooms' latency where it was (bench: noisy
//            neighbour). EMQX shapes its per-connection message rate the
//            same way, by pausing the socket.
//
// Rejected: dropping the excess with an error and closing a client that kept
// on (what this file did first). A chat client a little over the limit lost
// messages, and a flooder was gone in a second only to reconnect; shaping
// keeps the one and tames the other with no error to handle.
//
// The numbers are kept as integers (thousandths of a token, ms of an int32
// clock) so that V8 stores them as small integers in the actor itself:
// fractional numbers would each need a heap box per connection.

/** The bucket's state, kept on the connection actor as plain integer fields. */
export interface Metered {
  /** Thousandths of a token. */
  rlTokens: number;
  /** Clock (int32 ms) of the last refill. */
  rlAt: number;
}

const MILLI = 1000;

/** What a charge pays for (metrics count them apart). */
export type ChargeFor = 'presence' | 'reply' | 'frame';

export class RateLimit {
  /** Frames that found no token and waited, and times a connection's reading was paused for it (read by /metrics). */
  held = 0;
  pauses = 0;
  /** Tokens charged for work beyond the frame itself (charge()), by what the work was: presence fan-out, reply bytes. */
  readonly charged: Record<ChargeFor, number> = { presence: 0, reply: 0, frame: 0 };
  readonly #cap: number;

  constructor(
    /** Frames per second, sustained (an integer). */
    readonly rate: number,
    /** Frames at once. */
    readonly burst: number,
    /** Monotonic clock, ms; injected so tests need no sleeping. */
    readonly now: () => number = () => performance.now(),
    /**
     * A frame costs one token more per this many characters (0: every frame
     * one token): a 48 KB message is parsed, stored and fanned out at 48 times
     * the cost of a line of chat, so it pays that much.
     */
    readonly frameChargeBytes = 0,
  ) {
    // The bounds keep every stored value (thousandths) within int32.
    const ok = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 1_000_000;
    if (!ok(rate) || !ok(burst)) {
      throw new RangeError(`RateLimit: rate and burst are integers from 1 to 1e6; got ${rate}, ${burst}`);
    }
    this.#cap = burst * MILLI;
  }

  /** A full bucket, as a new connection starts with. */
  fill(m: Metered): void {
    m.rlTokens = this.#cap;
    m.rlAt = this.now() | 0;
  }

  /** Takes a token for one frame now: true, or false when there is none (nothing is taken). */
  take(m: Metered): boolean {
    const tokens = this.#refill(m);
    if (tokens >= MILLI) {
      m.rlTokens = tokens - MILLI;
      return true;
    }
    return false;
  }

  /**
   * Takes a frame's token now, and its size's share as a charge (the bucket
   * may go into debt: the frame goes on, the next ones wait). False when there
   * is no token for the frame; nothing is taken then.
   */
  takeFrame(m: Metered, bytes: number): boolean {
    if (!this.take(m)) return false;
    const extra = this.frameChargeBytes > 0 ? Math.floor(bytes / this.frameChargeBytes) : 0;
    if (extra > 0) this.charge(m, extra, 'frame');
    return true;
  }

  /**
   * Takes `n` more tokens for work a frame made beyond itself (a join's
   * presence fan-out): the bucket may go into debt, by at most one burst, and
   * the connection's next frames wait until it is paid back.
   */
  charge(m: Metered, n: number, paysFor: ChargeFor): void {
    const tokens = this.#refill(m) - Math.min(n, this.burst) * MILLI;
    m.rlTokens = Math.max(tokens, -this.#cap);
    this.charged[paysFor] += n;
  }

  /** ms until `n` tokens (at most the burst) are in the bucket; at least 1. */
  msUntil(m: Metered, n: number): number {
    const want = Math.min(n * MILLI, this.#cap);
    const tokens = this.#refill(m);
    // `rate` tokens per second is `rate` thousandths per ms.
    return tokens >= want ? 1 : Math.max(1, Math.ceil((want - tokens) / this.rate));
  }

  #refill(m: Metered): number {
    // int32 ms: wraps after 24.8 days, when one refill is lost (a negative elapsed counts as 0).
    const now = this.now() | 0;
    const elapsed = now > m.rlAt ? now - m.rlAt : 0;
    m.rlAt = now;
    let tokens = m.rlTokens + elapsed * this.rate;
    if (tokens > this.#cap) tokens = this.#cap;
    m.rlTokens = tokens;
    return tokens;
  }
}
