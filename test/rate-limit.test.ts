// Rate limits: a token bucket per connection (frames per second and burst);
// frames over it are dropped with an `error` rate_limited, and a client that
// keeps on is closed with 1008. A cap on open connections per IP refuses the
// next upgrade with 429. The bucket runs on an injected clock, so time moves
// when the test says and nothing sleeps.
import { SignJWT } from 'jose';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ADMIT, CLOSE, DROP, RateLimit, type Metered, type Verdict } from '../src/actors/rate-limit.js';
import { startBroker, waitForNoSessions, type TestBroker } from './helpers/broker.js';
import { TestClient, closeAll } from './helpers/client.js';
import { upgradeStatus } from './helpers/upgrade.js';
import { waitFor } from './helpers/wait.js';

function bucket(): Metered {
  return { rlTokens: 0, rlAt: 0, rlStrikes: 0 };
}

const Unit = suite('RateLimit');

Unit('admits a burst, then one frame per 1/rate; drops what finds no token', () => {
  const clock = { t: 1000 };
  const rl = new RateLimit(10, 5, 100, () => clock.t);
  const m = bucket();
  rl.fill(m);
  const verdicts: Verdict[] = [];
  for (let i = 0; i < 7; i++) verdicts.push(rl.admit(m));
  assert.equal(verdicts, [ADMIT, ADMIT, ADMIT, ADMIT, ADMIT, DROP, DROP]);
  clock.t += 100; // one token
  assert.is(rl.admit(m), ADMIT);
  assert.is(rl.admit(m), DROP);
  clock.t += 60_000; // refill stops at the burst
  for (let i = 0; i < 5; i++) assert.is(rl.admit(m), ADMIT);
  assert.is(rl.admit(m), DROP);
  assert.is(rl.dropped, 4);
  assert.is(rl.closed, 0);
});

Unit('a flood is closed after maxStrikes drops', () => {
  const clock = { t: 0 };
  const rl = new RateLimit(10, 5, 3, () => clock.t);
  const m = bucket();
  rl.fill(m);
  const verdicts: Verdict[] = [];
  for (let i = 0; i < 9; i++) verdicts.push(rl.admit(m));
  assert.equal(verdicts, [ADMIT, ADMIT, ADMIT, ADMIT, ADMIT, DROP, DROP, DROP, CLOSE]);
  assert.is(rl.closed, 1);
});

Unit('strikes are forgiven at a tenth of the rate: a little over the limit is never closed, twice the rate is', () => {
  const run = (sendRate: number, seconds: number): { closedAt: number | null; dropped: number } => {
    const clock = { t: 0 };
    const rl = new RateLimit(100, 200, 100, () => clock.t);
    const m = bucket();
    rl.fill(m);
    for (let i = 0; i < sendRate * seconds; i++) {
      clock.t = (i * 1000) / sendRate;
      if (rl.admit(m) === CLOSE) return { closedAt: clock.t, dropped: rl.dropped };
    }
    return { closedAt: null, dropped: rl.dropped };
  };
  const nearly = run(105, 120); // 5% over for two minutes
  assert.is(nearly.closedAt, null, 'a client 5% over is not closed');
  assert.ok(nearly.dropped > 0, 'but its excess frames are dropped');
  const flood = run(200, 120);
  assert.ok(flood.closedAt !== null && flood.closedAt < 5000, `twice the rate is closed within 5 s (at ${flood.closedAt} ms)`);
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
  // rate 10/s, burst 5, closed after 5 strikes, on the test's clock.
  ctx.rl = new RateLimit(10, 5, 5, () => ctx.clock.t);
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

Sockets('over the limit: each dropped frame gets rate_limited, the connection stays, tokens come back', async ({ tb, clock, rl }) => {
  const alice = await TestClient.connect(tb.wsUrl, 'alice');
  pings(alice, 'a', 8);
  for (let i = 0; i < 5; i++) await alice.nextOf('pong', { id: `a${i}` });
  for (let i = 0; i < 3; i++) {
    const e = await alice.nextOf('error', { code: 'rate_limited' });
    assert.ok(String(e.message).length > 0);
  }
  const before = rl.dropped;
  clock.t += 300; // three tokens
  pings(alice, 'b', 3);
  for (let i = 0; i < 3; i++) await alice.nextOf('pong', { id: `b${i}` });
  await alice.barrier().catch(() => {}); // the barrier's own frame may be dropped; what matters is below
  assert.ok(alice.ws.readyState === alice.ws.OPEN, 'still open');
  assert.is(alice.peek((f) => f.type === 'pong').length, 0, 'no more pongs than tokens');
  assert.ok(rl.dropped >= before, 'counted');
  await alice.close();
});

Sockets('a client that keeps on flooding is closed 1008 with a reason, after burst + strikes frames', async ({ tb, clock, rl }) => {
  clock.t += 60_000; // fresh buckets, forgiven strikes
  const closedBefore = rl.closed;
  const bob = await TestClient.connect(tb.wsUrl, 'bob');
  const flood = await TestClient.connect(tb.wsUrl, 'flood');
  bob.send({ op: 'join', room: 'calm' });
  await bob.nextOf('joined', { room: 'calm' });
  pings(flood, 'f', 50);
  const closed = await flood.closed();
  assert.is(closed.code, 1008);
  assert.is(closed.reason, 'rate limit exceeded');
  assert.is(flood.received.filter((f) => f.type === 'pong').length, 5, 'the burst was served');
  assert.is(flood.received.filter((f) => f.type === 'error' && f.code === 'rate_limited').length, 5, 'one error per dropped frame before the close');
  assert.is(rl.closed, closedBefore + 1);
  // Another connection's bucket is its own: bob (who spent one token on his join) chats on.
  for (let i = 0; i < 4; i++) bob.send({ op: 'send', room: 'calm', text: `m${i}`, id: `s${i}` });
  for (let i = 0; i < 4; i++) await bob.nextOf('ack', { id: `s${i}` });
  assert.is(bob.received.filter((f) => f.type === 'error').length, 0);
  await bob.close();
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

PerIp('the cap refuses the next upgrade 429; other addresses and freed slots are fine', async () => {
  const tb = await startBroker({ maxConnsPerIp: 3 });
  const clients: TestClient[] = [];
  try {
    for (const name of ['a', 'b', 'c']) clients.push(await TestClient.connect(tb.wsUrl, name));
    assert.is((await upgradeStatus(tb.wsUrl)).status, 429);
    assert.is(tb.broker.chat.ipLimit.refused, 1);
    assert.is((await upgradeStatus(tb.wsUrl, { localAddress: '127.0.0.2' })).status, 101, 'another address has its own cap');
    await clients.shift()!.close();
    await waitFor(() => tb.broker.chat.ipLimit.count('127.0.0.1') === 2, 3000, 'the closed connection to give its slot back');
    clients.push(await TestClient.connect(tb.wsUrl, 'd'));
    await waitFor(() => tb.broker.chat.ipLimit.count('127.0.0.2') === 0, 3000, '127.0.0.2 to give its slot back');
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
      await waitFor(() => tb.broker.chat.ipLimit.addresses === 0, 3000, 'the refused socket to give its slot back');
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
