// The default process-wide connection cap, from the open-file limit.
//
// Every TCP connection is a file descriptor; at the soft RLIMIT_NOFILE accept()
// fails (EMFILE) and libuv drops the newcomer without a word, and so would a
// Redis redial or a file the process opens. The cap stops short of it, so the
// excess is told 503 with a reason and the process keeps descriptors for the rest.
import { readFileSync } from 'node:fs';

/** Descriptors kept back from the cap: a fortieth of the limit, within these bounds. */
const RESERVE_MIN = 64;
const RESERVE_MAX = 1000;

/** The soft open-file limit (what `ulimit -n` says) from /proc/self/limits; null where there is none or it is unlimited. */
export function openFileLimit(limitsText: string | null): number | null {
  if (limitsText === null) return null;
  const line = limitsText.split('\n').find((l) => l.startsWith('Max open files'));
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
  if (soft === undefined || !/^\d+$/.test(soft)) return null;
  return Number(soft);
}

/** The cap for a soft limit: the limit less its reserve; 0 (no cap) when the limit is unknown. */
export function maxConnsFor(softLimit: number | null): number {
  if (softLimit === null) return 0;
  const reserve = Math.min(RESERVE_MAX, Math.max(RESERVE_MIN, Math.floor(softLimit / 40)));
  return Math.max(1, softLimit - reserve);
}

/** The default cap of this process (0 where the limit cannot be read: not Linux, or unlimited). */
export function defaultMaxConns(): number {
  let text: string | null = null;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    // no /proc: no default cap
  }
  return maxConnsFor(openFileLimit(text));
}
