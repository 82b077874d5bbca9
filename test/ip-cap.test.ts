// The per-IP cap against one host that opens many sockets and sends nothing:
// it is counted at accept (not at a finished upgrade, which such sockets never
// reach), so the host holds `--max-conns-per-ip` descriptors and every other
// socket is answered 429 with a reason and closed; under --workers the
// primary counts for every worker, so `--max-conns-per-ip 3 --workers 2`
// admits 3, not 3 per worker. A bystander from another address keeps its
// quiet latency throughout. Over real sockets and real processes.
import type { Socket } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SHUTDOWN_TIMEOUT_MS } from '../src/constants.js';
import { IpCountHost, PrimaryIpCount } from '../src/transport/ip-limit.js';
import { spawnBroker, type BrokerProcess } from './helpers/broker.js';
import { spawnBrokerChild } from './helpers/broker-child.js';
import { attackBound, Bystander } from './helpers/bystander.js';
import { closeAll, TestClient } from './helpers/client.js';
import { silentSockets, type SilentSocket } from './helpers/silent-sockets.js';
import { admittedAgain, upgradeStatus } from './helpers/upgrade.js';
import { waitFor, withTimeout } from './helpers/wait.js';

const CAP = 3;
const ATTACK_SOCKETS = 100;

interface Ctx { stops: (() => Promise<unknown>)[]; sockets: Socket[] }
const IpCap = suite<Ctx>('per-IP cap at accept', { stops: [], sockets: [] });

IpCap.after.each(async (ctx) => {
  for (const s of ctx.sockets) s.destroy();
  ctx.sockets = [];
  for (const stop of ctx.stops.reverse()) await stop().catch(() => {});
  ctx.stops = [];
});

/**
 * Opens ATTACK_SOCKETS silent sockets from `from` while `bystander`
 * measures; checks CAP are held and the rest answered 429 with the reason, and
 * that the bystander's p99 stayed within its bound. Returns the held ones.
 */
async function attack(ctx: Ctx, port: number, from: string, bystander: Bystander, quiet: number): Promise<SilentSocket[]> {
  bystander.start();
  const all: SilentSocket[] = [];
  try {
    all.push(...silentSockets(ATTACK_SOCKETS, port, { from }));
    ctx.sockets.push(...all.map((h) => h.socket));
    await waitFor(() => all.filter((h) => h.isClosed()).length >= ATTACK_SOCKETS - CAP, 10_000,
      `${ATTACK_SOCKETS - CAP} of ${ATTACK_SOCKETS} silent sockets refused and closed`);
  } catch (err) {
    await bystander.stop(); // its loop must not outlive the test
    throw err;
  }
  const attacked = await bystander.stop();
  const refused = all.filter((h) => h.isClosed());
  const held = all.filter((h) => !h.isClosed());
  assert.is(held.length, CAP, `one address holds ${CAP} sockets`);
  for (const r of refused) {
    assert.match(r.got(), /^HTTP\/1\.1 429 Too Many Requests\r\n/, 'a refused socket is told 429');
    assert.match(r.got(), /too many connections from your address \(at most 3\)/, 'with the reason');
  }
  for (const h of held) assert.is(h.got(), '', 'a held socket was told nothing yet');
  assert.ok(attacked.p99 <= attackBound(quiet), `bystander's p99 under attack ${attacked.p99.toFixed(2)} ms vs quiet ${quiet.toFixed(2)} ms`);
  return held;
}

IpCap('one process: silent sockets count from the accept; the rest get 429 and close; a freed slot is reusable', async (ctx) => {
  const broker = await spawnBrokerChild({ maxConnsPerIp: CAP }, []);
  ctx.stops.push(() => broker.stop());
  const port = Number(new URL(broker.url).port);
  const bystander = await Bystander.connect(broker.wsUrl, 'bystander', { localAddress: '127.0.0.2' });
  ctx.stops.push(() => bystander.close());
  const held = await attack(ctx, port, '127.0.0.1', bystander, await bystander.quiet());
  assert.is((await upgradeStatus(broker.wsUrl, { localAddress: '127.0.0.1' })).status, 429, 'a WebSocket client is refused 429 too');
  held[0].socket.destroy();
  await admittedAgain(broker.wsUrl, 429, { localAddress: '127.0.0.1' });
});

IpCap('--workers 2 --max-conns-per-ip 3 admits 3 from one address across both workers, not 3 each', async (ctx) => {
  const proc: BrokerProcess = await spawnBroker(['--workers', '2', '--max-conns-per-ip', String(CAP)]);
  ctx.stops.push(async () => {
    proc.child.kill('SIGTERM');
    await withTimeout(proc.exited, SHUTDOWN_TIMEOUT_MS + 3000, 'the primary to exit').catch(() => proc.child.kill('SIGKILL'));
  });
  await waitFor(() => proc.lines.filter((l) => l.includes('"worker listening"')).length === 2, 5000, 'two workers listening');
  const port = Number(new URL(proc.url).port);
  // Chat clients first: round-robin puts them on both workers.
  const clients: TestClient[] = [];
  ctx.stops.push(() => closeAll(clients));
  for (let i = 0; i < CAP; i++) clients.push(await TestClient.connect(proc.wsUrl, `c${i}`, { localAddress: '127.0.0.1' }));
  for (let i = 0; i < CAP; i++) {
    assert.is((await upgradeStatus(proc.wsUrl, { localAddress: '127.0.0.1' })).status, 429, `connection ${CAP + i + 1} is refused whichever worker takes it`);
  }
  await clients.pop()!.close();
  await admittedAgain(proc.wsUrl, 429, { localAddress: '127.0.0.1' });
  await closeAll(clients);
  clients.length = 0;
  // The attack: silent sockets spread over both workers, counted by the primary.
  const bystander = await Bystander.connect(proc.wsUrl, 'bystander', { localAddress: '127.0.0.2' });
  ctx.stops.push(() => bystander.close());
  // From a fresh address: the slots of the clients just closed may still be on their way back.
  await attack(ctx, port, '127.0.0.3', bystander, await bystander.quiet());
});

IpCap('the count in the primary: slots shared by workers, given back on close and when a worker exits; an unanswered take is refused', async () => {
  const host = new IpCountHost(2);
  // Two workers' channels to one host; `hold` keeps the host's answers back to simulate a stalled primary.
  let hold = false;
  const held: (() => void)[] = [];
  const worker = (id: number): PrimaryIpCount => {
    let deliver: (msg: unknown) => void = () => {};
    return new PrimaryIpCount(2, {
      send: (ask) => {
        const answer = host.handle(id, ask);
        if (answer !== null) {
          if (hold) held.push(() => deliver(answer));
          else queueMicrotask(() => deliver(answer));
        }
        return true;
      },
      onMessage: (h) => { deliver = h; },
    }, 50);
  };
  const w1 = worker(1);
  const w2 = worker(2);
  const a = await w1.take('10.0.0.1');
  const b = await w2.take('10.0.0.1');
  assert.type(a, 'function');
  assert.type(b, 'function');
  assert.is(await w1.take('10.0.0.1'), null, 'the third from one address is refused, on either worker');
  assert.is(await w2.take('10.0.0.1'), null);
  assert.type(await w2.take('10.0.0.2'), 'function', 'another address has its own slots');
  (a as () => void)();
  (a as () => void)(); // twice: still one slot back
  assert.is(host.count('10.0.0.1'), 1);
  host.dropWorker(2);
  assert.is(host.count('10.0.0.1'), 0, "a worker's exit gives its slots back");
  assert.is(host.count('10.0.0.2'), 0);
  hold = true;
  assert.is(await w1.take('10.0.0.3'), undefined, 'no answer within the timeout: refused as unanswered');
  assert.is(host.count('10.0.0.3'), 1, 'the primary did count it');
  for (const answer of held) answer(); // the late yes arrives...
  assert.is(host.count('10.0.0.3'), 0, '...and is given straight back');
});

IpCap.run();
