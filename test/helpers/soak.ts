// Soak sizes: `npm test` runs the soak tests at a size that keeps the whole
// run within a newcomer's patience; `npm run test:soak` (HUBBUB_SOAK=1, and
// CI) runs them at full size. Each test's own variable still wins over both.
export const SOAK = process.env.HUBBUB_SOAK === '1';

/** `full` under `npm run test:soak`, else `light`; a set `envVar` overrides both. */
export function soakSize(envVar: string, full: number, light: number): number {
  const set = process.env[envVar];
  return set !== undefined && set !== '' ? Number(set) : SOAK ? full : light;
}
