// Waiting helpers for client tests: every wait is for an event or a condition,
// each bounded by a timeout that fails with what was awaited.
import type { ClientEvents, HubbubClient } from '../../src/client/index.js';

/** The next `type` event of `client` that passes `match`, or a rejection after `timeoutMs`. */
export function nextEvent<K extends keyof ClientEvents>(
  client: HubbubClient,
  type: K,
  match: (ev: ClientEvents[K]) => boolean = () => true,
  timeoutMs = 5000,
): Promise<ClientEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for a "${String(type)}" event`));
    }, timeoutMs);
    const off = client.on(type, (ev) => {
      if (!match(ev)) return;
      clearTimeout(timer);
      off();
      resolve(ev);
    });
  });
}

/** Rejects after `ms` with `what` unless `promise` settles first. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `check` (for things with no event, like a terminal screen) until true or `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, 40)); // poll interval, not a settle delay
  }
}
