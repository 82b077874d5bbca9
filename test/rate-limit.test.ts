// Rate limits: a token bucket per connection (frames per second and burst)
// that shapes: a frame that finds no token waits, with everything behind it,
// and the broker stops reading that socket until tokens are back. Nothing is
// dropped and no error is sent. A cap on open connections per IP refuses the
// next upgrade with 429. The bucket runs on an injected clock, so time moves
// when the test says and nothing sleeps.
import { SignJWT } from 'jose';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RateLimit, type Metered } from '../src/actors/rate-limit.js';
import type { IpCount } from '../src/transport/ip-limit.js';
import { startBroker, waitForNoSessions, type TestBroker } from './helpers/broker.js';
import { TestClient, closeAll } from './helpers/client.js';
import { debugSocket } from './helpers/debug-helpers.js';
import { upgradeStatus } from './helpers/upgrade.js';
import { waitFor } from './helpers/wait.js';

function bucket(): Metered {
  return { rlTokens: 0, rlAt: 0 };
}

const Unit = suite('RateLimit');

Unit('takes a burst, then one token per 1/rate; a frame with no token takes nothing', () => {
  const clock = { t: 1000 };
  const rl = new RateLimit(10, 5, () => clock.t);
  const m = bucket();
  rl.fill(m);
  const taken: boolean[] = [];
  for (let i = 0; i < 7; i++) taken.push(rl.take(m));
  assert.equal(taken, [true, true, true, true, true, false, false]);
  clock.t += 100; // one token: the two refusals above cost none
  assert.is(rl.take(m), true);
  assert.is(rl.take(m), false);
  clock.t += 60_000; // refill stops at the burst
  for (let i = 0; i < 5; i++) assert.is(rl.take(m), true);
  assert.is(rl.take(m), false);
});

Unit('msUntil: when n tokens will be there, never past the burst, at least 1 ms', () => {
  const clock = { t: 0 };
  const rl = new RateLimit(10, 5, () => clock.t);
  const m = bucket();
  rl.fill(m);
  assert.is(rl.msUntil(m, 3), 1, 'already there');
  for (let i = 0; i < 5; i++) rl.take(m);
  assert.is(rl.msUntil(m, 1), 100);
  assert.is(rl.msUntil(m, 3), 300);
  assert.is(rl.msUntil(m, 64), 500, 'a bucket holds no more than the burst');
  clock.t += 50;
  assert.is(rl.msUntil(m, 1), 50);
});

Unit('charge: work beyond the frame puts the bucket in debt, at most one burst deep, paid back at the rate', () => {
  const clock = { t: 0 };
  const rl = new RateLimit(10, 5, () => clock.t);
  const m = bucket();
  rl.fill(m);
  rl.charge(m, 3, 'presence');
  assert.is(rl.take(m), true);
  assert.is(rl.take(m), true);
  assert.is(rl.take(m), false, '5 tokens less 3 charged: two frames');
  rl.charge(m, 100, 'reply');
  assert.is(m.rlTokens, -5000, 'a debt of at most one burst');
  assert.is(rl.msUntil(m, 1), 600, 'the debt and one token, at 10 a second');
  clock.t += 599;
  assert.is(rl.take(m), false);
  clock.t += 1;
  assert.is(rl.take(m), true);
  assert.equal(rl.charged, { presence: 3, reply: 100, frame: 0 });
});

Unit('takeFrame: a frame takes its token and charges one more per frameChargeBytes bytes', () => {
  const clock = { t: 0 };
  const rl = new RateLimit(10, 40, () => clock.t, 1024);
  const m = bucket();
  rl.fill(m);
  assert.ok(rl.takeFrame(m, 1023), 'a short frame: one token');
  assert.is(m.rlTokens, 39_000);
  assert.ok(rl.takeFrame(m, 16_000), 'a long frame goes at once');
  assert.is(m.rlTokens, 39_000 - 1000 - 15_000, 'and pays 15 more');
  assert.ok(rl.takeFrame(m, 30_000));
  assert.is(m.rlTokens, 23_000 - 1000 - 29_000, 'into debt (at most one burst deep)');
  assert.not.ok(rl.takeFrame(m, 10), 'in debt: the next frame waits');
  assert.equal(rl.charged.frame, 15 + 29);
  const free = new RateLimit(10, 40, () => clock.t);
  const n = bucket();
  free.fill(n);
  assert.ok(free.takeFrame(n, 60_000));
  assert.is(n.rlTokens, 39_000, 'frameChargeBytes 0: one token whatever the size');
});

Unit('rejects a policy it cannot store as int32 thousandths', () => {
  assert.throws(() => new RateLimit(0, 5), /rate and burst/);
  assert.throws(() => new RateLimit(10, 2_000_000), /rate and burst/);
  assert.throws(() => new RateLimit(1.5, 5), /rate and burst/);
});

Unit.run();

// --- over sockets ---

interface Ctx {
  tb: TestBroker;
  clock: { t: number };
  rl: RateLimit;
}

const Sockets = suite<Ctx>('rate limit over sockets', {} as Ctx);

Sockets.before(async (ctx) => {
  ctx.tb = await startBroker();
  ctx.clock = { t: 0 };
  // rate 1000/s (a token per ms, so the throttle timers are short), burst 5, on the test's clock.
  ctx.rl = new RateLimit(1000, 5, () => ctx.clock.t);
  ctx.tb.broker.env.rateLimit = ctx.rl;
});
Sockets.after.each(async (ctx) => {
  await waitForNoSessions(ctx.tb.broker);
});
Sockets.after(async (ctx) => {
  await ctx.tb.broker.close();
});

/** Sends n pings with ids `${tag}0..` in one go. */
function pings(c: TestClient, tag: string, n: number): void {
  for (let i = 0; i < n; i++) c.send({ op: 'ping', id: `${tag}${i}` });
}

/** Every pong received so far (read or not) whose id starts with tag. */
function pongIds(c: TestClient, tag: string): string[] {
  return c.received.filter((f) => f.type === 'pong' && String(f.id).startsWith(tag)).map((f) => String(f.id));
}

Sockets('over the limit: frames wait for tokens, then are all served in order, with no error', async ({ tb, clock, rl }) => {
  const alice = await TestClient.connect(tb.wsUrl, 'alice');
  const { held, pauses } = rl;
  pings(alice, 'a', 8);
  for (let i = 0; i < 5; i++) await alice.nextOf('pong', { id: `a${i}` });
  await waitFor(() => rl.held === held + 3, 3000, 'the three frames over the burst to be held');
  assert.is(rl.pauses, pauses + 1, 'one pause for the three');
  assert.is(pongIds(alice, 'a').length, 5, 'none served without a token');
  clock.t += 3; // three tokens
  for (let i = 5; i < 8; i++) await alice.nextOf('pong', { id: `a${i}` });
  assert.is(alice.received.filter((f) => f.type === 'error').length, 0, 'shaping sends no error');
  assert.ok(alice.ws.readyState === alice.ws.OPEN, 'still open');
  await alice.close();
});

Sockets('a flooder is served at the rate, in order, and never closed; its neighbour chats on meanwhile', async ({ tb, clock, rl }) => {
  clock.t += 60_000; // full buckets
  const bob = await TestClient.connect(tb.wsUrl, 'bob');
  const flood = await TestClient.connect(tb.wsUrl, 'flood');
  bob.send({ op: 'join', room: 'calm' });
  await bob.nextOf('joined', { room: 'calm' });
  const pauses = rl.pauses;
  pings(flood, 'f', 200);
  await waitFor(() => rl.pauses > pauses, 3000, 'the flooder to be paused');
  // Bob's bucket is his own: with the flooder held, his messages go through at once.
  for (let i = 0; i < 4; i++) bob.send({ op: 'send', room: 'calm', text: `m${i}`, id: `s${i}` });
  for (let i = 0; i < 4; i++) await bob.nextOf('ack', { id: `s${i}` });
  // Five ms are five tokens: the flooder gets exactly that much more each time.
  let served = pongIds(flood, 'f').length;
  assert.is(served, 5, 'the burst, and nothing more while the clock stands still');
  // An operator sees why: the debug channel's view of each connection's input.
  const dbg = await debugSocket(tb.broker);
  const view = async (c: TestClient) => (await dbg.request({ op: 'actor', id: c.session })).input;
  const flooder = await view(flood);
  assert.equal({ reading: flooder.reading, heldBy: flooder.heldBy }, { reading: false, heldBy: 'rate-limit' });
  assert.ok(flooder.held > 0, 'its frames wait in the actor');
  assert.equal(await view(bob), { reading: true, held: 0, heldBy: null });
  dbg.close();
  while (served < 200) {
    clock.t += 5;
    await flood.nextOf('pong', { id: `f${served + 4}` });
    served += 5;
    assert.is(pongIds(flood, 'f').length, served, 'five frames per five tokens');
  }
  assert.equal(pongIds(flood, 'f'), Array.from({ length: 200 }, (_, i) => `f${i}`), 'every frame, in order');
  assert.is([...flood.received, ...bob.received].filter((f) => f.type === 'error').length, 0);
  assert.ok(flood.ws.readyState === flood.ws.OPEN, 'the flooder is still connected');
  await closeAll([bob, flood]);
});

Sockets('a client that closes while frames are held: they are served as tokens come, then its close; nothing is left behind', async ({ tb, rl, clock }) => {
  clock.t += 60_000;
  const c = await TestClient.connect(tb.wsUrl, 'leaver');
  const pauses = rl.pauses;
  pings(c, 'l', 50);
  await waitFor(() => rl.pauses > pauses, 3000, 'the client to be paused');
  const closed = c.close(); // its close frame waits in TCP behind the frames not yet read
  await waitFor(() => {
    clock.t += 1; // a token per poll: the backlog drains at the rate
    return tb.broker.supervisor.state.sessions.size === 0;
  }, 10_000, 'the backlog and then the close to be read');
  await closed;
  assert.is(tb.broker.scheduler.liveActors, 1, 'only the supervisor: no actor, and no timer holding one');
});

Sockets('with the limit off (rate 0) 3,000 frames (over the default burst) are served whole', async () => {
  const tb = await startBroker({ rateLimit: 0 });
  try {
    assert.is(tb.broker.env.rateLimit, null);
    const c = await TestClient.connect(tb.wsUrl, 'fast');
    // In batches the mailbox (1,024) can hold: this is about the rate limit, not overload.
    for (let b = 0; b < 6; b++) {
      pings(c, `p${b}-`, 500);
      await c.nextOf('pong', { id: `p${b}-499` }, 10_000);
    }
    assert.is(c.received.filter((f) => f.type === 'pong').length, 3000);
    await c.close();
  } finally {
    await tb.broker.close();
  }
});

Sockets.run();

// --- connections per IP ---

const PerIp = suite('connections per IP');

function ipCount(tb: TestBroker): IpCount {
  return tb.broker.gate.ipSlots as IpCount;
}

PerIp('the cap refuses the next upgrade 429; other addresses and freed slots are fine', async () => {
  const tb = await startBroker({ maxConnsPerIp: 3 });
  const clients: TestClient[] = [];
  try {
    for (const name of ['a', 'b', 'c']) clients.push(await TestClient.connect(tb.wsUrl, name));
    assert.is((await upgradeStatus(tb.wsUrl)).status, 429);
    assert.is(tb.broker.gate.refused.ipCap, 1);
    assert.is((await upgradeStatus(tb.wsUrl, { localAddress: '127.0.0.2' })).status, 101, 'another address has its own cap');
    await clients.shift()!.close();
    await waitFor(() => ipCount(tb).count('127.0.0.1') === 2, 3000, 'the closed connection to give its slot back');
    clients.push(await TestClient.connect(tb.wsUrl, 'd'));
    await waitFor(() => ipCount(tb).count('127.0.0.2') === 0, 3000, '127.0.0.2 to give its slot back');
  } finally {
    await closeAll(clients);
    await tb.broker.close();
  }
});

PerIp('refused and failed upgrades give their slot back', async () => {
  const secret = 'a secret of at least thirty-two bytes!';
  const tb = await startBroker({ maxConnsPerIp: 2, jwtSecret: secret });
  try {
    for (let i = 0; i < 10; i++) {
      assert.is((await upgradeStatus(`${tb.wsUrl}?token=bad${i}`)).status, 401);
      await waitFor(() => ipCount(tb).addresses === 0, 3000, 'the refused socket to give its slot back');
    }
    const t = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('u1').setExpirationTime('5m')
      .sign(new TextEncoder().encode(secret));
    const ok = [await TestClient.connect(`${tb.wsUrl}?token=${t}`, null), await TestClient.connect(`${tb.wsUrl}?token=${t}`, null)];
    assert.is((await upgradeStatus(`${tb.wsUrl}?token=${t}`)).status, 429, 'the cap is counted before the token is checked');
    await closeAll(ok);
  } finally {
    await tb.broker.close();
  }
});

PerIp.run();
