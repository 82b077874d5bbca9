// OnceKeys: the idempotency keys of recent publishes and the seq each got, so
// a retried publish with the same key is answered, not stored again. Kept by
// whoever assigns seqs (the memory backplane, the cluster's primary; Redis
// keeps its own in the PUBLISH script), so a retry is caught on any node.
// Bounded in time (ONCE_TTL_MS) and count (ONCE_MAX, oldest dropped first).

export const ONCE_TTL_MS = 10 * 60_000;
export const ONCE_MAX = 100_000;

export class OnceKeys {
  /** key -> [seq, stored at], oldest first (a Map keeps insertion order). */
  readonly #seen = new Map<string, [number, number]>();

  /** The seq a publish with this key got, if one did within the TTL. */
  seen(room: string, key: string, now: number): number | undefined {
    for (const [k, [, at]] of this.#seen) {
      if (now - at < ONCE_TTL_MS) break;
      this.#seen.delete(k);
    }
    return this.#seen.get(`${room}\u0000${key}`)?.[0];
  }

  remember(room: string, key: string, seq: number, now: number): void {
    if (this.#seen.size >= ONCE_MAX) this.#seen.delete(this.#seen.keys().next().value!);
    this.#seen.set(`${room}\u0000${key}`, [seq, now]);
  }
}
