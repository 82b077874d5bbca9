// `hubbub serve --workers 2` without Redis: the real CLI as a child process;
// clients spread over both workers (the primary hands connections out
// round-robin) chat in one room through the primary's hub.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SHUTDOWN_TIMEOUT_MS } from '../src/constants.js';
import { spawnBroker, type BrokerProcess } from './helpers/broker.js';
import { closeAll, connectAll, type Frame, type TestClient } from './helpers/client.js';
import { httpRequest } from './helpers/http.js';
import { RedisServer } from './helpers/redis.js';
import { waitFor, withTimeout } from './helpers/wait.js';

const Workers = suite<{ proc: BrokerProcess | null; clients: TestClient[] }>('workers', { proc: null, clients: [] });

Workers.after.each(async (ctx) => {
  await closeAll(ctx.clients).catch(() => {});
  ctx.clients = [];
  const proc = ctx.proc;
  if (proc !== null && proc.child.exitCode === null && proc.child.signalCode === null) {
    proc.child.kill('SIGTERM');
    await withTimeout(proc.exited, SHUTDOWN_TIMEOUT_MS + 3000, 'the primary to exit').catch(() => proc.child.kill('SIGKILL'));
  }
  ctx.proc = null;
});

/** The pids of the workers that logged `worker listening` (JSON log lines of the primary's stdout). */
function workerPids(proc: BrokerProcess): number[] {
  return proc.lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => r.msg === 'worker listening').map((r) => r.pid as number);
}

Workers('clients on two workers chat in one room: one seq order, no gap, presence and DMs across workers', async (ctx) => {
  const proc = await spawnBroker(['--workers', '2']);
  ctx.proc = proc;
  // Each process writes its own log lines to the shared stdout (pino writes asynchronously), so a
  // worker's 'worker listening' may land after the primary's url line: wait for it.
  await waitFor(() => workerPids(proc).length === 2, 5000, 'two workers listening');
  const names = ['w-ann', 'w-bob', 'w-cy', 'w-di'];
  const clients = await connectAll(proc.wsUrl, names);
  ctx.clients = clients;
  // Round-robin: consecutive connections alternate between the workers. Whether
  // that holds or not, what follows only passes if both workers share one room.
  for (const c of clients) {
    c.send({ op: 'join', room: 'hall' });
    await c.nextOf('joined', { room: 'hall' });
  }
  // Presence crosses workers: every member hears each later joiner (the
  // rosters of other workers follow asynchronously, so no joined list is
  // asserted to be complete).
  for (const [i, c] of clients.entries()) {
    for (const later of clients.slice(i + 1)) await c.presenceOf('hall', later.user, 'join');
  }
  for (const c of clients) {
    c.send({ op: 'who', room: 'hall' });
    const who = await c.nextOf('who', { room: 'hall' });
    assert.equal([...(who.users as string[])].sort(), [...names].sort(), `${c.user} lists all four`);
    assert.is(who.count, 4);
  }
  const perClient = 25;
  for (let i = 0; i < perClient; i++) for (const c of clients) c.send({ op: 'send', room: 'hall', text: `${c.user}/${i}`, id: i });
  for (const c of clients) for (let i = 0; i < perClient; i++) await c.nextOf('ack', { id: i }, 5000);
  const total = perClient * clients.length;
  const streams: Frame[][] = [];
  for (const c of clients) {
    while (c.received.filter((f) => f.type === 'message').length < total) await c.nextOf('message', {}, 5000);
    streams.push(c.received.filter((f) => f.type === 'message'));
  }
  const reference = streams[0].map((m) => `${m.seq}|${m.text}`);
  for (const [i, s] of streams.entries()) {
    assert.is(s.length, total, `${names[i]} got every message once`);
    s.forEach((m, k) => assert.is(m.seq, (streams[0][0].seq as number) + k, 'seq without gap'));
    assert.equal(s.map((m) => `${m.seq}|${m.text}`), reference, `${names[i]} sees one order`);
  }
  // DMs between every pair: both workers' users are reachable from both.
  for (const from of clients) {
    for (const to of clients) {
      if (from === to) continue;
      from.send({ op: 'dm', to: to.user, text: `hi ${to.user}`, id: `dm-${to.user}` });
      await from.nextOf('ack', { id: `dm-${to.user}` });
      await to.nextOf('dm', { from: from.user, text: `hi ${to.user}` });
    }
  }
  // A plain join says the room's seq (a client that drops before any message resumes from it):
  // clients[0] fills `attic`, then each of the others joins it, on either worker; a worker new to
  // the room learns the seq from the primary.
  clients[0].send({ op: 'join', room: 'attic' });
  assert.is((await clients[0].nextOf('joined', { room: 'attic' })).seq, 0);
  for (let i = 0; i < 3; i++) clients[0].send({ op: 'send', room: 'attic', text: `a${i}`, id: `a${i}` });
  for (let i = 0; i < 3; i++) await clients[0].nextOf('ack', { id: `a${i}` });
  for (const c of clients.slice(1)) {
    c.send({ op: 'join', room: 'attic' });
    assert.is((await c.nextOf('joined', { room: 'attic' })).seq, 3, `${c.user}'s joined carries the room's seq`);
  }
  // Presence: one leaves, the three others hear it.
  clients[1].send({ op: 'leave', room: 'hall' });
  for (const c of [clients[0], clients[2], clients[3]]) await c.presenceOf('hall', clients[1].user, 'leave');
  const health = JSON.parse((await httpRequest(`${proc.url}healthz`)).body) as { backplane: { kind: string; up: boolean } };
  assert.equal(health.backplane, { kind: 'cluster', up: true });
});

Workers('a worker killed: its users leave the others\' rooms at once, and the primary starts a new one', async (ctx) => {
  const proc = await spawnBroker(['--workers', '2']);
  ctx.proc = proc;
  const clients = await connectAll(proc.wsUrl, ['k-1', 'k-2', 'k-3', 'k-4']);
  ctx.clients = clients;
  for (const c of clients) {
    c.send({ op: 'join', room: 'deck' });
    await c.nextOf('joined', { room: 'deck' });
  }
  // Everyone has seen everyone join: a join still on its way through the dead
  // worker's IPC would otherwise never have been seen, and so never left.
  for (const [i, c] of clients.entries()) {
    for (const later of clients.slice(i + 1)) await c.presenceOf('deck', later.user, 'join');
  }
  await waitFor(() => workerPids(proc).length === 2, 5000, 'two workers listening');
  const [victim] = workerPids(proc);
  process.kill(victim, 'SIGKILL');
  const dropped: TestClient[] = [];
  const alive: TestClient[] = [];
  await Promise.all(clients.map(async (c) => {
    const outcome = await Promise.race([c.closed(5000).then(() => 'closed'), c.presenceOf('deck', null, 'leave', 5000).then(() => 'heard')]);
    (outcome === 'closed' ? dropped : alive).push(c);
  }));
  assert.ok(dropped.length > 0 && alive.length > 0, `clients on both workers (dropped ${dropped.length}, alive ${alive.length})`);
  for (const c of alive) {
    for (const d of dropped) {
      await c.presenceOf('deck', d.user, 'leave');
    }
    c.send({ op: 'who', room: 'deck' });
    const who = await c.nextOf('who', { room: 'deck' });
    assert.is(who.count, alive.length, 'only the living are listed');
  }
  await waitFor(() => workerPids(proc).length === 3, 10_000, 'a replacement worker to listen');
  // The dead worker's names are free again.
  const again = await connectAll(proc.wsUrl, [dropped[0].user]);
  ctx.clients.push(...again);
  assert.is(again[0].user, dropped[0].user);
});

Workers('SIGTERM to the primary closes every client with 1001 and exits 0', async (ctx) => {
  const proc = await spawnBroker(['--workers', '2']);
  ctx.proc = proc;
  const clients = await connectAll(proc.wsUrl, ['t-1', 't-2', 't-3']);
  ctx.clients = clients;
  proc.child.kill('SIGTERM');
  for (const c of clients) assert.is((await c.closed(SHUTDOWN_TIMEOUT_MS + 2000)).code, 1001);
  assert.is(await withTimeout(proc.exited, SHUTDOWN_TIMEOUT_MS + 3000, 'the primary to exit'), 0);
});

Workers('--workers 2 with --redis: each worker is a node of its own; they share rooms, names and DMs through Redis', async (ctx) => {
  const redis = await RedisServer.start();
  try {
    const proc = await spawnBroker(['--workers', '2', '--redis', redis.url]);
    ctx.proc = proc;
    const clients = await connectAll(proc.wsUrl, ['r-1', 'r-2', 'r-3']);
    ctx.clients = clients;
    for (const c of clients) {
      c.send({ op: 'join', room: 'roof' });
      await c.nextOf('joined', { room: 'roof' });
    }
    for (const [i, c] of clients.entries()) {
      for (const later of clients.slice(i + 1)) await c.presenceOf('roof', later.user, 'join');
    }
    for (const c of clients) c.send({ op: 'send', room: 'roof', text: `from ${c.user}`, id: 's' });
    for (const c of clients) await c.nextOf('ack', { id: 's' });
    const orders: string[] = [];
    for (const c of clients) {
      for (const from of clients) await c.nextOf('message', { text: `from ${from.user}` });
      orders.push(c.received.filter((f) => f.type === 'message').map((f) => `${f.seq}|${f.text}`).join(' '));
    }
    assert.ok(orders.every((o) => o === orders[0]), `one order: ${orders.join(' / ')}`);
    clients[0].send({ op: 'dm', to: clients[1].user, text: 'via redis', id: 'd' });
    await clients[0].nextOf('ack', { id: 'd' });
    await clients[1].nextOf('dm', { text: 'via redis' });
    const health = JSON.parse((await httpRequest(`${proc.url}healthz`)).body) as { backplane: { kind: string; up: boolean } };
    assert.equal(health.backplane, { kind: 'redis', up: true });
  } finally {
    await closeAll(ctx.clients).catch(() => {});
    ctx.clients = [];
    ctx.proc?.child.kill('SIGTERM');
    if (ctx.proc !== null) await withTimeout(ctx.proc.exited, SHUTDOWN_TIMEOUT_MS + 3000, 'the primary to exit').catch(() => {});
    ctx.proc = null;
    await redis.dispose();
  }
});

Workers.run();
