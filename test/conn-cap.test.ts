// The process-wide connection cap against a flood of silent sockets: the
// broker holds `--max-conns` connections and tells the rest 503 with a reason,
// before its open-file limit is reached, so it keeps descriptors to serve a
// bystander and to let a newcomer in once the flood is gone. Its default comes
// from the open-file limit (checked under `ulimit -n 256`). Before the cap,
// such a flood ran the process into EMFILE, where libuv drops newcomers
// without a word.
import type { Socket } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { maxConnsFor, openFileLimit } from '../src/transport/fd-limit.js';
import { spawnBroker } from './helpers/broker.js';
import { spawnBrokerChild } from './helpers/broker-child.js';
import { attackBound, Bystander } from './helpers/bystander.js';
import { silentSockets, type SilentSocket } from './helpers/silent-sockets.js';
import { admittedAgain, upgradeStatus } from './helpers/upgrade.js';
import { waitFor, withTimeout } from './helpers/wait.js';

interface Ctx { stops: (() => Promise<unknown>)[]; sockets: Socket[] }
const ConnCap = suite<Ctx>('process connection cap', { stops: [], sockets: [] });

ConnCap.after.each(async (ctx) => {
  for (const s of ctx.sockets) s.destroy();
  ctx.sockets = [];
  for (const stop of ctx.stops.reverse()) await stop().catch(() => {});
  ctx.stops = [];
});

const IS_503 = /^HTTP\/1\.1 503 Service Unavailable\r\n[\s\S]*the server is at its connection cap \(\d+\); try again later/;

/**
 * `n` silent sockets while `bystander` measures; resolves once all but
 * `expectHeld` are closed, with the held and the refused.
 */
async function flood(ctx: Ctx, port: number, n: number, expectHeld: number, bystander: Bystander, quiet: number): Promise<{ held: SilentSocket[]; refused: SilentSocket[] }> {
  bystander.start();
  const all = silentSockets(n, port, { closeOnAnswer: true });
  ctx.sockets.push(...all.map((s) => s.socket));
  try {
    await waitFor(() => all.filter((s) => s.isClosed()).length >= n - expectHeld, 15_000, `${n - expectHeld} of ${n} sockets refused`);
  } catch (err) {
    await bystander.stop(); // its loop must not outlive the test
    throw err;
  }
  const attacked = await bystander.stop();
  assert.ok(attacked.p99 <= attackBound(quiet), `bystander's p99 under attack ${attacked.p99.toFixed(2)} ms vs quiet ${quiet.toFixed(2)} ms`);
  return { held: all.filter((s) => !s.isClosed()), refused: all.filter((s) => s.isClosed()) };
}

/**
 * Refused sockets are told 503 with the reason; while a headroom of answered
 * refusals (at least 8) is still open, the excess is dropped unanswered: the
 * descriptors are kept, never spent.
 */
function assertRefusals(refused: SilentSocket[]): void {
  const told = refused.filter((r) => IS_503.test(r.got())).length;
  assert.ok(told >= 8, `refused sockets were told 503 with the reason (${told} of ${refused.length})`);
  for (const r of refused) assert.ok(r.got() === '' || IS_503.test(r.got()), `a refusal is 503 or nothing, not ${JSON.stringify(r.got().slice(0, 60))}`);
}

ConnCap('--max-conns 20: the 21st connection on is told 503 with the reason; the bystander is served; the cap frees as sockets go', async (ctx) => {
  const broker = await spawnBrokerChild({ maxConns: 20 }, []);
  ctx.stops.push(() => broker.stop());
  const port = Number(new URL(broker.url).port);
  const bystander = await Bystander.connect(broker.wsUrl);
  ctx.stops.push(() => bystander.close());
  const { held, refused } = await flood(ctx, port, 60, 19, bystander, await bystander.quiet());
  assert.is(held.length, 19, 'the bystander and 19 sockets fill the cap');
  for (const h of held) assert.is(h.got(), '');
  assertRefusals(refused);
  assert.is((await upgradeStatus(broker.wsUrl)).status, 503, 'a WebSocket client is told 503 too');
  for (const h of held) h.socket.destroy();
  await admittedAgain(broker.wsUrl, 503);
});

ConnCap('default: under ulimit -n 256 the cap is 192, and a flood of 300 sockets never takes the last descriptors', async (ctx) => {
  const proc = await spawnBroker([], 10_000, [], ['sh', '-c', 'ulimit -n 256 && exec "$@"', 'sh']);
  ctx.stops.push(async () => {
    proc.child.kill('SIGTERM');
    await withTimeout(proc.exited, 8000, 'the broker to exit').catch(() => proc.child.kill('SIGKILL'));
  });
  const policies = proc.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => 'maxConns' in r);
  assert.is(policies?.maxConns, 192, 'the policies line states the cap: 256 less its reserve of 64');
  const port = Number(new URL(proc.url).port);
  const bystander = await Bystander.connect(proc.wsUrl);
  ctx.stops.push(() => bystander.close());
  const { held, refused } = await flood(ctx, port, 300, 191, bystander, await bystander.quiet());
  assert.is(held.length, 191, 'the bystander and 191 sockets fill the cap');
  assertRefusals(refused);
  for (const h of held) h.socket.destroy();
  await admittedAgain(proc.wsUrl, 503);
});

ConnCap('the default cap: the soft open-file limit less a fortieth, kept between 64 and 1000', () => {
  const limits = 'Limit                     Soft Limit           Hard Limit           Units     \n' +
    'Max open files            20000                20000                files     \n';
  assert.is(openFileLimit(limits), 20000);
  assert.is(maxConnsFor(20000), 19500);
  assert.is(maxConnsFor(1024), 960);
  assert.is(maxConnsFor(1_048_576), 1_047_576);
  assert.is(openFileLimit(limits.replace('20000                20000', 'unlimited            unlimited')), null);
  assert.is(maxConnsFor(null), 0, 'unknown: no cap');
  assert.is(openFileLimit(null), null);
});

ConnCap.run();
