// Seeded randomness for tests that inject faults or jitter: a failing run
// prints its seed, and the same seed replays the same choices.

/** mulberry32: a small seeded generator of numbers in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of this run: `HUBBUB_FAULT_SEED` when set (to replay one), else a fresh one. */
export function faultSeed(): number {
  const given = process.env.HUBBUB_FAULT_SEED;
  return given !== undefined ? Number(given) : Math.floor(Math.random() * 2 ** 31);
}

/** Runs `body`; when it fails, says which seed to set to replay it. */
export async function withSeed<T>(what: string, seed: number, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    console.error(`  ${what} failed with seed ${seed}: HUBBUB_FAULT_SEED=${seed} replays its choices`);
    throw err;
  }
}
