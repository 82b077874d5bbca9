// RateLimit: the per-connection token bucket on the frame path.
//
// One RateLimit object holds the policy and is shared by every connection; the
// bucket itself is three numbers on each connection actor (`Metered`), so the
// check is O(1), allocates nothing and needs no timer: tokens are refilled
// lazily from the time elapsed since the previous frame.
//
//   tokens   refill at `rate` per second up to `burst`; a frame takes one.
//   strikes  a frame that finds no token is dropped and adds a strike; strikes
//            are forgiven at a tenth of the rate per second. Past `maxStrikes`
//            the connection is closed (1008): a client a little over the limit
//            gets `rate_limited` errors, one that keeps on flooding is gone.
//
// The three numbers are kept as integers (thousandths of a token, ms of an
// int32 clock) so that V8 stores them as small integers in the actor itself:
// fractional numbers would each need a heap box per connection.
import type { OutFrame } from '../transport/out-frame.js';
import { encodeError } from '../transport/protocol.js';

/** The bucket's state, kept on the connection actor as plain integer fields. */
export interface Metered {
  /** Thousandths of a token. */
  rlTokens: number;
  /** Clock (int32 ms) of the last refill. */
  rlAt: number;
  /** Thousandths of a strike. */
  rlStrikes: number;
}

export const ADMIT = 0;
export const DROP = 1;
export const CLOSE = 2;
export type Verdict = typeof ADMIT | typeof DROP | typeof CLOSE;

const MILLI = 1000;
/** Strikes are forgiven at this fraction of the rate (as a divisor), per second. */
const FORGIVE_DIVISOR = 10;

export class RateLimit {
  /** Frames dropped, and connections closed, over the policy's life (read by /metrics). */
  dropped = 0;
  closed = 0;
  /** The error every dropped frame is answered with: encoded once, shared. */
  readonly errorFrame: OutFrame;
  readonly #cap: number;
  readonly #strikeCap: number;

  constructor(
    /** Frames per second, sustained (an integer). */
    readonly rate: number,
    /** Frames at once. */
    readonly burst: number,
    /** Dropped frames (less those forgiven) before the connection is closed. */
    readonly maxStrikes: number,
    /** Monotonic clock, ms; injected so tests need no sleeping. */
    readonly now: () => number = () => performance.now(),
  ) {
    // The bounds keep every stored value (thousandths) within int32.
    const ok = (n: number, min: number): boolean => Number.isInteger(n) && n >= min && n <= 1_000_000;
    if (!ok(rate, 1) || !ok(burst, 1) || !ok(maxStrikes, 0)) {
      throw new RangeError(`RateLimit: rate, burst and maxStrikes are integers up to 1e6 (rate, burst >= 1); got ${rate}, ${burst}, ${maxStrikes}`);
    }
    this.#cap = burst * MILLI;
    this.#strikeCap = maxStrikes * MILLI;
    this.errorFrame = encodeError('rate_limited', `over ${rate} messages/s (burst ${burst}); this frame was dropped`);
  }

  /** A full bucket, as a new connection starts with. */
  fill(m: Metered): void {
    m.rlTokens = this.#cap;
    m.rlAt = this.now() | 0;
    m.rlStrikes = 0;
  }

  /** Takes a token for one frame, now. */
  admit(m: Metered): Verdict {
    // int32 ms: wraps after 24.8 days, when one refill is lost (a negative elapsed counts as 0).
    const now = this.now() | 0;
    const elapsed = now > m.rlAt ? now - m.rlAt : 0;
    m.rlAt = now;
    // `rate` tokens per second is `rate` thousandths per ms.
    let tokens = m.rlTokens + elapsed * this.rate;
    if (tokens > this.#cap) tokens = this.#cap;
    let strikes = m.rlStrikes;
    if (strikes > 0) {
      strikes -= Math.floor((elapsed * this.rate) / FORGIVE_DIVISOR);
      if (strikes < 0) strikes = 0;
    }
    if (tokens >= MILLI) {
      m.rlTokens = tokens - MILLI;
      m.rlStrikes = strikes;
      return ADMIT;
    }
    m.rlTokens = tokens;
    this.dropped++;
    if (strikes + MILLI <= this.#strikeCap) {
      m.rlStrikes = strikes + MILLI;
      return DROP;
    }
    m.rlStrikes = this.#strikeCap + MILLI; // no higher: the connection is closing, and the field stays small
    this.closed++;
    return CLOSE;
  }
}
