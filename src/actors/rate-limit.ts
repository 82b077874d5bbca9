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
import type { OutFrame } from '../transport/out-frame.js';
import { encodeError } from '../transport/protocol.js';

/** The bucket's state, kept on the connection actor as plain number fields. */
export interface Metered {
  rlTokens: number;
  /** Clock (ms) of the last refill. */
  rlAt: number;
  rlStrikes: number;
}

export const ADMIT = 0;
export const DROP = 1;
export const CLOSE = 2;
export type Verdict = typeof ADMIT | typeof DROP | typeof CLOSE;

/** Strikes are forgiven at this fraction of the rate, per second. */
const FORGIVE_FRACTION = 0.1;

export class RateLimit {
  /** Frames dropped, and connections closed, over the policy's life (read by /metrics). */
  dropped = 0;
  closed = 0;
  /** The error every dropped frame is answered with: encoded once, shared. */
  readonly errorFrame: OutFrame;
  /** Tokens per ms. */
  readonly #perMs: number;
  readonly #forgivePerMs: number;

  constructor(
    /** Frames per second, sustained. */
    readonly rate: number,
    /** Frames at once. */
    readonly burst: number,
    /** Dropped frames (less those forgiven) before the connection is closed. */
    readonly maxStrikes: number,
    /** Monotonic clock, ms; injected so tests need no sleeping. */
    readonly now: () => number = () => performance.now(),
  ) {
    if (!(rate > 0) || !(burst >= 1) || !(maxStrikes >= 0)) {
      throw new RangeError(`RateLimit: need rate > 0, burst >= 1, maxStrikes >= 0; got ${rate}, ${burst}, ${maxStrikes}`);
    }
    this.#perMs = rate / 1000;
    this.#forgivePerMs = (rate * FORGIVE_FRACTION) / 1000;
    this.errorFrame = encodeError('rate_limited', `over ${rate} messages/s (burst ${burst}); this frame was dropped`);
  }

  /** A full bucket, as a new connection starts with. */
  fill(m: Metered): void {
    m.rlTokens = this.burst;
    m.rlAt = this.now();
    m.rlStrikes = 0;
  }

  /** Takes a token for one frame, now. */
  admit(m: Metered): Verdict {
    const now = this.now();
    const elapsed = now > m.rlAt ? now - m.rlAt : 0;
    m.rlAt = now;
    let tokens = m.rlTokens + elapsed * this.#perMs;
    if (tokens > this.burst) tokens = this.burst;
    let strikes = m.rlStrikes;
    if (strikes > 0) {
      strikes -= elapsed * this.#forgivePerMs;
      if (strikes < 0) strikes = 0;
    }
    if (tokens >= 1) {
      m.rlTokens = tokens - 1;
      m.rlStrikes = strikes;
      return ADMIT;
    }
    m.rlTokens = tokens;
    m.rlStrikes = strikes + 1;
    this.dropped++;
    if (m.rlStrikes <= this.maxStrikes) return DROP;
    this.closed++;
    return CLOSE;
  }
}
