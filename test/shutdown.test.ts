// Graceful shutdown of the real CLI process: on SIGTERM or SIGINT every client
// is closed with 1001 and a reason, and the process exits 0 within the
// shutdown timeout.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SHUTDOWN_TIMEOUT_MS } from '../src/constants.js';
import { spawnBroker, type BrokerProcess } from './helpers/broker.js';
import { connectAll } from './helpers/client.js';
import { withTimeout } from './helpers/wait.js';

const Shutdown = suite<{ proc: BrokerProcess | null }>('shutdown', { proc: null });
/** Past the default shutdown timeout, with room for a loaded machine. */
const HANG_MS = SHUTDOWN_TIMEOUT_MS + 20_000;

Shutdown.after.each((ctx) => {
  // A failed case must not leave its broker behind.
  if (ctx.proc !== null && ctx.proc.child.exitCode === null && ctx.proc.child.signalCode === null) ctx.proc.child.kill('SIGKILL');
  ctx.proc = null;
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  Shutdown(`${signal}: clients are closed with 1001 and a reason; the process exits 0 in time`, async (ctx) => {
    const proc = await spawnBroker();
    ctx.proc = proc;
    const clients = await connectAll(proc.wsUrl, ['ann', 'ben']);
    for (const c of clients) {
      c.send({ op: 'join', room: 'last-call' });
      await c.nextOf('joined', { room: 'last-call' });
    }
    proc.child.kill(signal);
    // The waits guard a hang only: that everyone closed in time is the broker's own account (cut:0) below.
    const closes = await Promise.all(clients.map((c) => c.closed(HANG_MS)));
    for (const closed of closes) {
      assert.is(closed.code, 1001);
      assert.ok(closed.reason.length > 0, 'the close says why');
    }
    const code = await withTimeout(proc.exited, HANG_MS, `the broker to exit after ${signal}`);
    assert.is(code, 0);
    // The broker's own account: nobody was still connected at the deadline to be cut.
    assert.ok(proc.lines.some((l) => l.includes('"cut":0')), 'every client closed before the shutdown deadline (none cut)');
    assert.ok(proc.lines.some((l) => l.includes(signal)), `the shutdown is logged with the signal (${signal})`);
  });
}

Shutdown('with no clients the process exits 0 at once on SIGTERM', async (ctx) => {
  // A timeout far beyond any exit's cost: an idle broker that waited it out would fail the bounded wait.
  const TIMEOUT = 60_000;
  const proc = await spawnBroker(['--shutdown-ms', String(TIMEOUT)]);
  ctx.proc = proc;
  proc.child.kill('SIGTERM');
  assert.is(await withTimeout(proc.exited, TIMEOUT / 3, 'the idle broker to exit without waiting out its shutdown timeout'), 0);
});

Shutdown.run();
