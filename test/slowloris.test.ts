// Slowloris over raw TCP sockets: sockets that connect and send nothing, and
// upgrade requests whose head never ends (the last blank line withheld), must
// be answered 408 and closed after --headers-timeout-ms, while a bystander
// already connected keeps chatting at its quiet latency and a newcomer still
// gets in. Before the timeout existed Node's own defaults held such sockets for
// 60 to 90 s, so one host could keep every descriptor.
import type { Socket } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnBrokerChild, type BrokerChild } from './helpers/broker-child.js';
import { attackBound, Bystander } from './helpers/bystander.js';
import { closeAll, TestClient } from './helpers/client.js';
import { silentSockets } from './helpers/silent-sockets.js';
import { withTimeout } from './helpers/wait.js';

const HEADERS_TIMEOUT_MS = 500;
const SILENT = 50;
const UNFINISHED = 50;
/** The attack runs this many waves, each opened once the previous one was closed. */
const WAVES = 3;

interface Ctx { broker: BrokerChild | null; clients: TestClient[]; attackers: Socket[]; closers: (() => Promise<unknown>)[] }
const Slowloris = suite<Ctx>('slowloris', { broker: null, clients: [], attackers: [], closers: [] });

Slowloris.after.each(async (ctx) => {
  for (const s of ctx.attackers) s.destroy();
  ctx.attackers = [];
  await closeAll(ctx.clients).catch(() => {});
  ctx.clients = [];
  await Promise.all(ctx.closers.map((c) => c().catch(() => {})));
  ctx.closers = [];
  await ctx.broker?.stop();
  ctx.broker = null;
});

Slowloris('silent sockets and endless upgrade heads are answered 408 and closed; a bystander is not slowed', async (ctx) => {
  const broker = await spawnBrokerChild({ headersTimeoutMs: HEADERS_TIMEOUT_MS }, []);
  ctx.broker = broker;
  const port = Number(new URL(broker.url).port);
  const bystander = await Bystander.connect(broker.wsUrl);
  ctx.closers.push(() => bystander.close());
  const quiet = await bystander.quiet();

  const unfinished = `GET /ws?name=loris HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'; // no final blank line
  bystander.start();
  for (let wave = 0; wave < WAVES; wave++) {
    const wave_ = [...silentSockets(SILENT, port), ...silentSockets(UNFINISHED, port, { head: unfinished })];
    ctx.attackers.push(...wave_.map((a) => a.socket));
    // While the wave holds its sockets a newcomer still gets in.
    const newcomer = await TestClient.connect(broker.wsUrl, `newcomer${wave}`);
    ctx.clients.push(newcomer);
    // 20 deadlines of room for a loaded machine; Node's defaults took 60 s and more.
    await withTimeout(Promise.all(wave_.map((a) => a.closed)), HEADERS_TIMEOUT_MS * 20, `the broker to close wave ${wave}'s ${wave_.length} sockets`);
    const timedOut = wave_.filter((a) => a.got().startsWith('HTTP/1.1 408 ')).length;
    assert.is(timedOut, SILENT + UNFINISHED, `every socket of wave ${wave} was told 408 before the close`);
    ctx.attackers = [];
  }
  // The bystander's pings went on through every wave (stop() awaits the last one).
  const attacked = await bystander.stop();
  assert.ok(attacked.count > 0, 'the bystander measured during the attack');
  assert.ok(attacked.p99 <= attackBound(quiet), `bystander's p99 under attack ${attacked.p99.toFixed(2)} ms vs quiet ${quiet.toFixed(2)} ms`);
  // Upgraded sockets are not the timeout's: the newcomers stay open.
  for (const c of ctx.clients) assert.is(c.ws.readyState, c.ws.OPEN, `${c.user} is still connected`);
});

Slowloris.run();
