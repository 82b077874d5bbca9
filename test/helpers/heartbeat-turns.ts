// How long silent peers lasted, in turns of the broker's heartbeat wheel
// rather than in ms: the wheel's visit count is its own clock, which a loaded
// machine makes run late but never adds visits to. Read the count when the
// peers go silent, then poll with `visitsUntil` until they are dropped.
import { waitFor } from './wait.js';

export interface WheelReading {
  /** Buckets visited over the wheel's life. */
  visits: number;
  /** Buckets in the wheel: one turn, one interval. */
  buckets: number;
  terminated: number;
}

/**
 * Polls `read` until `dropped` holds; returns the reading that saw it and the
 * visit count of the last one that did not. The drop came after that visit,
 * so `lastBefore` two turns or more past the silence proves a peer outlived
 * the heartbeat timeout (two intervals). A late poll can only hide a slow
 * drop, never invent one. `hangMs` guards a hang only.
 */
export async function visitsUntil(
  read: () => WheelReading | Promise<WheelReading>, dropped: (r: WheelReading) => boolean, hangMs: number, what: string, everyMs = 5,
): Promise<{ lastBefore: number; after: WheelReading }> {
  let lastBefore = -1;
  let after: WheelReading | null = null;
  await waitFor(async () => {
    const r = await read();
    if (dropped(r)) after = r;
    else lastBefore = r.visits;
    return after !== null;
  }, hangMs, what, everyMs);
  return { lastBefore, after: after! };
}

/**
 * Whole turns of the wheel from `silentAt` (the visit count read when the
 * peer's last message was in) to the last reading before the drop. The peer's
 * bucket is visited within one turn (a ping) and again within the next (the
 * drop): a peer dropped in time always gives less than 2.
 */
export function turnsBeforeDrop(silentAt: number, lastBefore: number, buckets: number): number {
  return Math.max(0, lastBefore - silentAt) / buckets;
}
