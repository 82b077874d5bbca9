// Bounded waiting for tests: every wait either resolves or fails with a message
// that says what was awaited. Prefer awaiting an event; `waitFor` polls, and is
// only for server-side state that announces itself with no event.

/** Rejects with `what` if `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Polls `cond` (each answer awaited when it is a promise) every `everyMs`
 * until it is true; fails after `timeoutMs` naming `what`. The one poll of the
 * tests: for state that announces itself with no event (registry contents,
 * counters, a terminal's screen, a remote broker's stats).
 */
export async function waitFor(
  cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string | (() => string), everyMs = 5,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) {
      throw new Error(`waitFor: ${typeof what === 'string' ? what : what()} did not happen within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs)); // the poll interval, not a settle delay
  }
}

/** Resolves with the first emission of `event` on `emitter`, bounded. */
export function once<T extends unknown[]>(
  emitter: { once(event: string, listener: (...args: T) => void): unknown },
  event: string,
  timeoutMs: number,
  what = `'${event}'`,
): Promise<T> {
  return withTimeout(new Promise<T>((resolve) => emitter.once(event, (...args: T) => resolve(args))), timeoutMs, what);
}
