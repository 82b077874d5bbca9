// Histogram: latencies in microseconds, log-linear buckets (HdrHistogram's
// shape, small): exact below 64 µs, then 64 sub-buckets per power of two, so
// every recorded value is within ~1.6% of its bucket. Fixed size, cheap to
// record (one clz32), mergeable across load-generator processes, and sent over
// IPC as sparse [index, count] pairs.

const SUB_BITS = 6;
const SUB = 1 << SUB_BITS; // 64
const MAX_EXP = 31; // values are clamped below 2^31 µs (~36 min)
const SIZE = SUB + (MAX_EXP - SUB_BITS) * SUB;

export type SparseHistogram = { counts: [number, number][]; max: number; total: number };

function indexOf(us: number): number {
  if (us < SUB) return us < 0 ? 0 : us | 0;
  const v = us >= 0x7fffffff ? 0x7fffffff : us | 0;
  const exp = 31 - Math.clz32(v); // >= SUB_BITS
  const sub = (v >>> (exp - SUB_BITS)) - SUB; // 0..63
  return SUB + (exp - SUB_BITS) * SUB + sub;
}

/** The midpoint of a bucket, µs. */
function valueAt(index: number): number {
  if (index < SUB) return index;
  const exp = Math.floor((index - SUB) / SUB) + SUB_BITS;
  const sub = (index - SUB) % SUB;
  const width = 2 ** (exp - SUB_BITS);
  return (SUB + sub) * width + width / 2;
}

export class Histogram {
  readonly counts = new Float64Array(SIZE);
  total = 0;
  max = 0;

  record(us: number): void {
    this.counts[indexOf(us)]++;
    this.total++;
    if (us > this.max) this.max = us;
  }

  merge(other: SparseHistogram): void {
    for (const [i, n] of other.counts) this.counts[i] += n;
    this.total += other.total;
    if (other.max > this.max) this.max = other.max;
  }

  /** The value at quantile q (0..1), µs; NaN when empty. */
  quantile(q: number): number {
    if (this.total === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < SIZE; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(valueAt(i), this.max);
    }
    return this.max;
  }

  toSparse(): SparseHistogram {
    const counts: [number, number][] = [];
    for (let i = 0; i < SIZE; i++) if (this.counts[i] > 0) counts.push([i, this.counts[i]]);
    return { counts, max: this.max, total: this.total };
  }
}

/** Latency summary in milliseconds, as the reports print it. */
export interface LatencySummary {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

export function summarize(h: Histogram): LatencySummary {
  const ms = (us: number): number => Math.round(us / 10) / 100;
  return { samples: h.total, p50: ms(h.quantile(0.5)), p99: ms(h.quantile(0.99)), max: ms(h.max) };
}
