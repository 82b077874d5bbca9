// Failures with real processes and a real redis-server started here: a node
// killed with SIGKILL (its users leave the other node's rooms within the
// presence expiry), a broker killed mid-chat (every acknowledged message
// reaches every client exactly once after reconnect and `join since`), and
// Redis stopped and started again under running brokers.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnBroker, type BrokerProcess } from './helpers/broker.js';
import { TestClient, type Frame } from './helpers/client.js';
import { httpRequest } from './helpers/http.js';
import { RedisServer } from './helpers/redis.js';
import { waitFor, withTimeout } from './helpers/wait.js';

interface Ctx {
  redis: RedisServer | null;
  procs: BrokerProcess[];
  clients: TestClient[];
}

const Failures = suite<Ctx>('redis failures', { redis: null, procs: [], clients: [] });

Failures.after.each(async (ctx) => {
  for (const c of ctx.clients) c.ws.terminate();
  ctx.clients = [];
  for (const p of ctx.procs) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await withTimeout(p.exited, 5000, 'a broker to die').catch(() => {});
  }
  ctx.procs = [];
  await ctx.redis?.dispose();
  ctx.redis = null;
});

const TTL_MS = 1500;

async function broker(ctx: Ctx): Promise<BrokerProcess> {
  const proc = await spawnBroker(['--redis', ctx.redis!.url, '--presence-ttl-ms', String(TTL_MS)]);
  ctx.procs.push(proc);
  return proc;
}

async function client(ctx: Ctx, proc: BrokerProcess, name: string): Promise<TestClient> {
  const c = await TestClient.connect(proc.wsUrl, name);
  ctx.clients.push(c);
  return c;
}

async function join(c: TestClient, room: string, extra: object = {}): Promise<Frame> {
  c.send({ op: 'join', room, ...extra });
  return c.nextOf('joined', { room });
}

interface Health {
  backplane: { kind: string; up: boolean };
}

async function health(proc: BrokerProcess): Promise<Health> {
  return JSON.parse((await httpRequest(`${proc.url}healthz`)).body) as Health;
}

/** Polls GET /healthz (bounded) until the backplane is reported `up`; then /metrics must say the same. */
async function healthSays(proc: BrokerProcess, up: boolean, timeoutMs: number): Promise<void> {
  await waitFor(async () => (await health(proc)).backplane.up === up, timeoutMs, `GET /healthz to say backplane.up=${up}`, 50);
  const metrics = (await httpRequest(`${proc.url}metrics`)).body;
  assert.match(metrics, new RegExp(`^hubbub_backplane_up ${up ? 1 : 0}$`, 'm'), `/metrics says hubbub_backplane_up ${up ? 1 : 0}`);
}

Failures('a node killed with SIGKILL: its users leave the other node\'s rooms within the presence expiry', async (ctx) => {
  ctx.redis = await RedisServer.start();
  const a = await broker(ctx);
  const b = await broker(ctx);
  const zed = await client(ctx, a, 'zed');
  await join(zed, 'porch');
  const yan = await client(ctx, b, 'yan');
  const joined = await join(yan, 'porch');
  assert.equal([...(joined.users as string[])].sort(), ['yan', 'zed']);
  a.child.kill('SIGKILL');
  // Dead at TTL after its last heartbeat (at most TTL/3 before the kill); seen at B's next heartbeat (every TTL/3).
  // The leave must come within that bound (the wait fails otherwise; no clock is read).
  const bound = TTL_MS + TTL_MS / 3 + 1500;
  await yan.nextOf('presence', { room: 'porch', user: 'zed', event: 'leave' }, bound);
  yan.send({ op: 'who', room: 'porch' });
  assert.equal((await yan.nextOf('who', { room: 'porch' })).users, ['yan']);
  // The dead node's name is free.
  const zed2 = await client(ctx, b, 'zed');
  assert.is(zed2.user, 'zed');
});

Failures('durability: a broker killed mid-chat; after reconnect and join since, every acked message is there exactly once', async (ctx) => {
  ctx.redis = await RedisServer.start({ aof: true });
  const a = await broker(ctx);
  const b = await broker(ctx);
  const writer = await client(ctx, a, 'writer');
  const peer = await client(ctx, a, 'peer');
  const reader = await client(ctx, b, 'reader');
  for (const c of [writer, peer, reader]) await join(c, 'vault');
  // Each client keeps a window of sends in flight and sends the next on each
  // ack, so the kill lands while messages are on their way.
  const total = 5000;
  for (const [c, tag] of [[writer, 'w'], [peer, 'p']] as const) {
    let next = 0;
    const sendNext = (): void => {
      if (next < total && c.ws.readyState === c.ws.OPEN) {
        c.send({ op: 'send', room: 'vault', text: `${tag}${next}`, id: `${tag}${next}` });
        next++;
      }
    };
    c.ws.on('message', (data) => {
      if (String(data).startsWith('{"type":"ack"')) sendNext();
    });
    for (let i = 0; i < 8; i++) sendNext();
  }
  const ackCount = (c: TestClient): number => c.received.filter((f) => f.type === 'ack').length;
  await waitFor(() => ackCount(writer) >= 50, 10_000, 'the first acks');
  a.child.kill('SIGKILL');
  await Promise.all([writer.closed(5000), peer.closed(5000)]);
  const acked = new Map<string, number>(); // text -> seq
  for (const c of [writer, peer]) {
    for (const f of c.received) if (f.type === 'ack') acked.set(f.id as string, f.seq as number);
  }
  assert.ok(acked.size >= 50, `acks before the kill: ${acked.size}`);
  assert.ok(acked.size < total * 2, 'killed mid-chat (not everything was acked)');
  // A replacement node; the two clients come back and ask for what they missed.
  const c = await broker(ctx);
  const lastSeen = (x: TestClient): number =>
    Math.max(0, ...x.received.filter((f) => f.type === 'message').map((f) => f.seq as number));
  const writer2 = await client(ctx, c, 'writer');
  const peer2 = await client(ctx, c, 'peer');
  const w = await join(writer2, 'vault', { since: lastSeen(writer) });
  const p = await join(peer2, 'vault', { since: lastSeen(peer) });
  assert.is(w.recovered, true);
  assert.is(p.recovered, true);
  writer2.send({ op: 'send', room: 'vault', text: 'end', id: 'end' });
  const end = await writer2.nextOf('ack', { id: 'end' });
  const runs: [string, TestClient, TestClient][] = [['writer', writer, writer2], ['peer', peer, peer2], ['reader', reader, reader]];
  for (const [name, before, after] of runs) {
    await after.nextOf('message', { seq: end.seq }, 5000);
    const all = [...before.received, ...(after === before ? [] : after.received)].filter((f) => f.type === 'message');
    const seqs = all.map((m) => m.seq as number);
    assert.is(new Set(seqs).size, seqs.length, `${name}: no seq twice`);
    seqs.forEach((s, i) => assert.is(s, seqs[0] + i, `${name}: no gap`));
    const bySeq = new Map(all.map((m) => [m.seq as number, m.text as string]));
    for (const [text, seq] of acked) assert.is(bySeq.get(seq), text, `${name}: acked ${text} (seq ${seq}) once`);
  }
});

Failures('Redis stopped and started again: local rooms go on unsequenced, health says so, then seqs continue and presence returns', async (ctx) => {
  ctx.redis = await RedisServer.start(); // no persistence: Redis comes back empty
  const a = await broker(ctx);
  const b = await broker(ctx);
  const ann = await client(ctx, a, 'ann');
  const ava = await client(ctx, a, 'ava');
  const bob = await client(ctx, b, 'bob');
  for (const c of [ann, ava, bob]) await join(c, 'lobby');
  ann.send({ op: 'send', room: 'lobby', text: 'before', id: 'b' });
  const before = (await ann.nextOf('ack', { id: 'b' })).seq as number;
  await bob.nextOf('message', { text: 'before' });

  await ctx.redis.stop();
  await waitFor(() => a.lines.some((l) => l.includes('redis connection lost')), 5000, 'node A to log the lost link');
  for (const p of [a, b]) await healthSays(p, false, 5000);
  ann.send({ op: 'send', room: 'lobby', text: 'during', id: 'd' });
  const ack = await ann.nextOf('ack', { id: 'd' });
  assert.is(ack.stored, false);
  assert.is(ack.seq, undefined);
  const local = await ava.nextOf('message', { text: 'during' });
  assert.is(local.local, true, 'marked local');
  assert.is(local.seq, undefined, 'no seq: it has no place in the room\'s sequence');
  ann.send({ op: 'dm', to: 'ava', text: 'same node', id: 'dm1' });
  await ava.nextOf('dm', { text: 'same node' });
  ann.send({ op: 'dm', to: 'bob', text: 'other node', id: 'dm2' });
  assert.is((await ann.nextOf('error', { ref: 'dm2' })).code, 'unavailable');
  ann.send({ op: 'history', room: 'lobby', limit: 5, id: 'h' });
  assert.is((await ann.nextOf('error', { ref: 'h' })).code, 'unavailable');

  await ctx.redis.resume();
  for (const p of [a, b]) await healthSays(p, true, 10_000);
  await waitFor(() => a.lines.some((l) => l.includes('redis is back')), 5000, 'the return to be logged');
  // Redis came back empty; the nodes remembered the room's seq and wrote their members back.
  ann.send({ op: 'send', room: 'lobby', text: 'after', id: 'a' });
  const after = (await ann.nextOf('ack', { id: 'a' })).seq as number;
  assert.is(after, before + 1, 'the sequence goes on where it was');
  assert.is((await bob.nextOf('message', { text: 'after' })).seq, after);
  assert.is((await ava.nextOf('message', { text: 'after' })).seq, after);
  assert.not.ok(bob.received.some((f) => f.text === 'during'), 'the local message stayed local');
  bob.send({ op: 'who', room: 'lobby' });
  assert.equal([...((await bob.nextOf('who', { room: 'lobby' })).users as string[])].sort(), ['ann', 'ava', 'bob']);
  bob.send({ op: 'dm', to: 'ann', text: 'back', id: 'dm3' });
  await bob.nextOf('ack', { id: 'dm3' });
  await ann.nextOf('dm', { text: 'back' });
});

Failures.run();
