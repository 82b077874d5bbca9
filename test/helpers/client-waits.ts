// Waiting helpers for client tests: every wait is for an event or a condition,
// each bounded by a timeout that fails with what was awaited.
import * as assert from 'uvu/assert';
import { HubbubClientError, type ClientEvents, type HubbubClient } from '../../src/client/index.js';
import { waitFor, withTimeout } from './wait.js';

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

/** Rejects after `ms` with `what` unless `promise` settles first (wait.ts's, under the name client tests use). */
export const within = withTimeout;

/** Polls `check` (for things with no event, like a terminal screen) until true or `timeoutMs`. */
export function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string): Promise<void> {
  return waitFor(check, timeoutMs, what, 40);
}

/** The HubbubClientError an op rejected with; fails if it resolved instead. */
export async function refusal(p: Promise<unknown>): Promise<HubbubClientError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, HubbubClientError);
    return err as HubbubClientError;
  }
  throw new Error('expected the op to be refused');
}
