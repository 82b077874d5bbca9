// Graceful shutdown, the parts that take a loaded broker to see: on SIGTERM
// the broker stops accepting, lets what it already took in run to the end,
// flushes every client's output and only then closes it with 1001; a client
// that does not read cannot hold the process past the shutdown timeout; the
// process exits 0 in time. (test/shutdown.test.ts covers the idle cases.)
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { spawnBroker, type BrokerProcess } from './helpers/broker.js';
import { connectAll } from './helpers/client.js';
import { rawSocketOf } from './helpers/many-clients.js';
import { withTimeout } from './helpers/wait.js';

const Shutdown = suite<{ proc: BrokerProcess | null }>('shutdown under load', { proc: null });

Shutdown.after.each((ctx) => {
  if (ctx.proc !== null && ctx.proc.child.exitCode === null && ctx.proc.child.signalCode === null) ctx.proc.child.kill('SIGKILL');
  ctx.proc = null;
});

const ROOM = 'closing-time';
const BURST = 3000;
/** Guards a hang only: a loaded machine may stretch a shutdown's wall time several-fold. */
const HANG_MS = 30_000;

Shutdown('SIGTERM mid-stream: every message the broker acked reaches every member before its 1001', async (ctx) => {
  // A shutdown timeout below ws's close timeout (5 s): a close handshake left to wait for that
  // timer would still be open at the deadline, and the broker says how many it cut.
  const proc = (ctx.proc = await spawnBroker(['--rate', '0', '--shutdown-ms', '4000']));
  const clients = await connectAll(proc.wsUrl, ['sender', 'r1', 'r2', 'r3']);
  const [sender, ...receivers] = clients;
  for (const c of clients) {
    c.send({ op: 'join', room: ROOM });
    await c.nextOf('joined', { room: ROOM });
  }
  for (let i = 0; i < BURST; i++) sender.send({ op: 'send', room: ROOM, text: `m${i}`, id: i });
  // Signal while the stream is flowing: the broker holds queued ops and unflushed output now.
  await receivers[0].nextOf('message', { room: ROOM }, 5000);
  const signalled = Date.now();
  proc.child.kill('SIGTERM');
  const closes = await Promise.all(clients.map((c) => c.closed(HANG_MS)));
  for (const [i, closed] of closes.entries()) {
    assert.is(closed.code, 1001, `${clients[i].user} closed 1001`);
    assert.ok(closed.reason.length > 0, 'with a reason');
  }
  assert.is(await withTimeout(proc.exited, HANG_MS, 'the broker to exit'), 0, 'exit code 0');
  const tookMs = Date.now() - signalled;

  const acked = sender.received.filter((f) => f.type === 'ack').map((f) => f.seq as number);
  const last = acked.length === 0 ? 0 : Math.max(...acked);
  assert.equal(acked, Array.from({ length: last }, (_, k) => k + 1), 'acks in order, none skipped');
  for (const c of clients) {
    const seqs = c.received.filter((f) => f.type === 'message').map((f) => f.seq as number);
    assert.equal(seqs, Array.from({ length: last }, (_, k) => k + 1), `${c.user} got every acked message (1..${last}) before 1001, and nothing unacked`);
  }
  console.log(`  shutdown: ${last} of ${BURST} messages acked and delivered to all 4 members; exited 0 ${tookMs} ms after SIGTERM`);
  assert.ok(last > 0, 'the stream had started');
  // Every close handshake completed: none was left to wait out ws's close timeout (5 s) and cut.
  assert.ok(proc.lines.some((l) => l.includes('"cut":0')), `every client closed before the deadline, none cut (exit ${tookMs} ms after SIGTERM)`);
});

Shutdown('a client that reads nothing is cut at the shutdown timeout; the others get 1001; exit 0 in time; no new clients meanwhile', async (ctx) => {
  const TIMEOUT = 2000;
  const proc = (ctx.proc = await spawnBroker(['--rate', '0', '--shutdown-ms', String(TIMEOUT)]));
  const [talker, reader, stuck] = await connectAll(proc.wsUrl, ['talker', 'reader', 'stuck']);
  for (const c of [talker, reader, stuck]) {
    c.send({ op: 'join', room: ROOM });
    await c.nextOf('joined', { room: ROOM });
  }
  // 'stuck' stops reading; 256 KB of chat then waits for it in the kernel and in the broker.
  rawSocketOf(stuck.ws).pause();
  const text = 'y'.repeat(8 * 1024);
  for (let i = 0; i < 32; i++) talker.send({ op: 'send', room: ROOM, text, id: i });
  await talker.nextOf('ack', { id: 31 }, 5000);
  proc.child.kill('SIGTERM');
  // The time-outs here only guard a hang: that the stuck one held the process no longer than the
  // shutdown timeout is the broker's own account below (cut at its deadline), not this test's clock.
  for (const c of [talker, reader]) assert.is((await c.closed(HANG_MS)).code, 1001);
  // While the stuck client holds the shutdown open, nobody new gets in.
  const late = new WebSocket(`${proc.wsUrl}?name=late`);
  const lateOutcome = await withTimeout(new Promise<string>((resolve) => {
    late.on('open', () => resolve('open'));
    late.on('error', (err) => resolve(`refused: ${err.message}`));
  }), 5000, 'the late client to be refused');
  assert.match(lateOutcome, /^refused/);
  const code = await withTimeout(proc.exited, HANG_MS, 'the broker to exit after its shutdown timeout');
  assert.is(code, 0);
  // It waited for the stuck client until the deadline, then cut it (and only it).
  assert.ok(proc.lines.some((l) => l.includes('"cut":1')), 'the stuck client was cut at the deadline');
  rawSocketOf(stuck.ws).destroy();
});

Shutdown.run();

