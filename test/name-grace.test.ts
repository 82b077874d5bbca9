// A user keeps its name across reconnects, and a drop within the presence
// grace is not seen by anyone (issue 19, item 3; src/actors/presence-grace.ts).
// Over real sockets: the client library's connection is cut by a TCP proxy
// (as a network would), a raw client stands by in the room and records every
// frame, and a stranger tries the held name with a wrong secret.
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import WebSocket from 'ws';
import * as assert from 'uvu/assert';
import { connect, type HubbubClient } from '../src/client/index.js';
import { startBroker, type TestBroker } from './helpers/broker.js';
import { TestClient, isPresence, type Frame } from './helpers/client.js';
import { nextEvent, within } from './helpers/client-waits.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { redisBackplane, RedisServer } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';
import { TerminalSession } from './helpers/terminal.js';
import { launchChromium } from './helpers/chromium.js';

const PAGE_WAIT = { timeout: 10_000 };
const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

const FAST = { backoff: { initialMs: 20, maxMs: 200 } };
/** Long enough that a reconnect on loopback is always within it, even on a loaded machine; never waited out. */
const LONG_GRACE_MS = 20_000;

const test = suite('name grace');

/** The presence frames about `user` that `client` received. */
function presenceAbout(client: TestClient, user: string): Frame[] {
  return client.received.filter((f) => isPresence(f, null, user, 'join') || isPresence(f, null, user, 'leave'));
}

/** A broker behind a proxy, a bystander in lobby, and `alice` (asked as `asked`) in lobby through the proxy. */
async function scene(graceMs: number, asked = 'alice'): Promise<{ b: TestBroker; proxy: TcpProxy; bob: TestClient; alice: HubbubClient; done: () => Promise<void> }> {
  const b = await startBroker({ presenceGraceMs: graceMs, shutdownTimeoutMs: 2000 });
  const proxy = await TcpProxy.start([b.broker.port]);
  const bob = await TestClient.connect(b.wsUrl, 'bob');
  bob.send({ op: 'join', room: 'lobby' });
  await bob.nextOf('joined', { room: 'lobby' });
  const alice = await connect(proxy.url, { name: asked, ...FAST });
  await alice.join('lobby');
  await bob.presenceOf('lobby', alice.user, 'join');
  const done = async (): Promise<void> => {
    alice.close();
    await bob.close();
    await proxy.close();
    await b.broker.close();
  };
  return { b, proxy, bob, alice, done };
}

test('a dropped client comes back within the grace under the same (generated) name; the room sees neither a leave nor a join', async () => {
  // alice is taken, so the client is given a generated name: the case that was re-rolled on every reconnect.
  const { b, proxy, bob, alice, done } = await scene(LONG_GRACE_MS, 'bob');
  try {
    const name = alice.user;
    assert.match(name, /^bob-[0-9a-f]{4}$/, 'bob was taken: a generated name');
    const back = nextEvent(alice, 'welcome', () => true, 10_000);
    proxy.partition('bob', 0); // the network drops it (the proxy knows it by the name it asked); it reconnects at once
    const welcome = await back;
    assert.is(welcome.user, name, 'the same name after the reconnect');
    assert.is(welcome.asked, undefined, 'and no rename to tell');
    assert.type(welcome.resume, 'string');
    await nextEvent(alice, 'joined', (j) => j.room === 'lobby', 10_000); // the rejoin is answered after the welcome
    // A message after the rejoin: presence due in a room is sent before its next message, so any leave or join would come first.
    const heard = bob.nextOf('message', { room: 'lobby', text: 'still here' });
    await alice.send('lobby', 'still here');
    await heard;
    assert.is(presenceAbout(bob, name).length, 1, 'only the first join was ever told');
    const who = await alice.who('lobby');
    assert.equal([...who.users].sort(), ['bob', name].sort());
    assert.is(b.broker.supervisor.heldNames, 0, 'the hold ended with the rejoin of its only room');
  } finally {
    await done();
  }
});

test('after the grace the room is told the leave, not before; meanwhile the user is still listed', async () => {
  const graceMs = 800;
  const { b, proxy, bob, alice, done } = await scene(graceMs);
  try {
    const dropped = nextEvent(alice, 'disconnect');
    const start = Date.now();
    proxy.partition('alice', 60_000); // and it cannot come back
    await dropped;
    // The broker saw the drop (its session is gone) and holds the name.
    await waitHeld(b);
    assert.match(await metricsOf(b), /^hubbub_presence_held 1$/m, '/metrics counts the hold');
    bob.send({ op: 'who', room: 'lobby', id: 'w1' });
    const who = await bob.nextOf('who', { id: 'w1' });
    assert.ok((who.users as string[]).includes('alice'), 'alice is still listed during the grace');
    await bob.presenceOf('lobby', 'alice', 'leave', graceMs + 10_000);
    // Timers never fire early: the leave cannot come before the grace (the drop was seen after `start`).
    assert.ok(Date.now() - start >= graceMs, `the leave came ${Date.now() - start} ms after the drop, before the grace of ${graceMs} ms`);
    assert.is(b.broker.supervisor.heldNames, 0);
    // The name is free again after the grace.
    const again = await TestClient.connect(b.wsUrl, 'alice');
    assert.is(again.user, 'alice');
    await again.close();
  } finally {
    await done();
  }
});

test('a stranger asking for a held name without its secret, or with a wrong one, gets another name; the owner still gets it back', async () => {
  const { b, proxy, bob, alice, done } = await scene(LONG_GRACE_MS);
  try {
    const dropped = nextEvent(alice, 'disconnect');
    proxy.partition('alice', 60_000);
    await dropped;
    await waitHeld(b);
    const plain = await TestClient.connect(b.wsUrl, 'alice');
    assert.is.not(plain.user, 'alice');
    assert.is(welcomeOf(plain).asked, 'alice', 'the welcome says which name was asked and not given');
    const forger = await TestClient.connect(`${b.wsUrl}?name=alice&resume=${'A'.repeat(24)}`, null);
    assert.is.not(forger.user, 'alice');
    assert.match(forger.user, /^alice-[0-9a-f]{4}$/);
    await plain.close();
    await forger.close();
    // alice's own client, let through again, gets its name back; no one saw a leave.
    const back = nextEvent(alice, 'welcome', () => true, 10_000);
    proxy.partition('alice', 0);
    assert.is((await back).user, 'alice');
    await bob.barrier();
    assert.is(presenceAbout(bob, 'alice').length, 1, 'only the first join was told');
  } finally {
    await done();
  }
});

test('a resume while the old connection is still registered (half-open) replaces it: closed 4001, the name and rooms carried over silently', async () => {
  const b = await startBroker({ presenceGraceMs: LONG_GRACE_MS });
  const bob = await TestClient.connect(b.wsUrl, 'bob');
  bob.send({ op: 'join', room: 'lobby' });
  await bob.nextOf('joined', { room: 'lobby' });
  const old = await TestClient.connect(b.wsUrl, 'carol');
  old.send({ op: 'join', room: 'lobby' });
  await old.nextOf('joined', { room: 'lobby' });
  await bob.presenceOf('lobby', 'carol', 'join');
  const secret = welcomeOf(old).resume as string;
  assert.type(secret, 'string');
  const fresh = await TestClient.connect(`${b.wsUrl}?name=carol&resume=${encodeURIComponent(secret)}`, null);
  try {
    assert.is(fresh.user, 'carol');
    assert.equal(await old.closed(), { code: 4001, reason: 'this name was resumed by a newer connection' });
    assert.is.not(welcomeOf(fresh).resume, secret, 'a new secret per session');
    fresh.send({ op: 'join', room: 'lobby' });
    const joined = await fresh.nextOf('joined', { room: 'lobby' });
    assert.equal([...(joined.users as string[])].sort(), ['bob', 'carol']);
    fresh.send({ op: 'send', room: 'lobby', text: 'same carol' });
    await bob.nextOf('message', { text: 'same carol' });
    assert.is(presenceAbout(bob, 'carol').length, 1, 'only the first join was told');
    // The old secret is spent: it gives nothing now.
    const late = await TestClient.connect(`${b.wsUrl}?name=carol&resume=${encodeURIComponent(secret)}`, null);
    assert.is.not(late.user, 'carol');
    assert.equal(fresh.received.filter((f) => f.type === 'error'), []);
    await late.close();
  } finally {
    await fresh.close();
    await bob.close();
    await b.broker.close();
  }
});

test('a client that closes on purpose leaves at once; with the grace off, a drop does too', async () => {
  for (const graceMs of [LONG_GRACE_MS, 0]) {
    const { bob, alice, proxy, done } = await scene(graceMs);
    try {
      if (graceMs === 0) proxy.partition('alice', 60_000);
      else alice.close();
      await bob.presenceOf('lobby', 'alice', 'leave', 5000);
    } finally {
      await done();
    }
  }
});

test('a plain-text (/ws/text) client cannot resume, so its drop is a leave at once', async () => {
  const { b, bob, done } = await scene(LONG_GRACE_MS);
  const text = new WebSocket(`${b.wsUrl}/text?room=lobby&name=tex`);
  try {
    await bob.presenceOf('lobby', 'tex', 'join');
    text.terminate();
    await bob.presenceOf('lobby', 'tex', 'leave', 5000);
    assert.is(b.broker.supervisor.heldNames, 0);
  } finally {
    await done();
  }
});

test('with Redis the grace is per node: a resume landing on another node is a new connection there; the first node tells the leave after its grace', async () => {
  const graceMs = 1000;
  const redis = await RedisServer.start();
  const a = await startBroker({ backplane: redisBackplane(redis.url), presenceGraceMs: graceMs });
  const b = await startBroker({ backplane: redisBackplane(redis.url), presenceGraceMs: graceMs });
  try {
    const bob = await TestClient.connect(b.wsUrl, 'bob');
    bob.send({ op: 'join', room: 'lobby' });
    await bob.nextOf('joined', { room: 'lobby' });
    const alice = await TestClient.connect(a.wsUrl, 'alice');
    alice.send({ op: 'join', room: 'lobby' });
    await alice.nextOf('joined', { room: 'lobby' });
    await bob.presenceOf('lobby', 'alice', 'join');
    const secret = welcomeOf(alice).resume as string;
    const start = Date.now();
    alice.ws.terminate();
    await waitHeld(a);
    const elsewhere = await TestClient.connect(`${b.wsUrl}?name=alice&resume=${encodeURIComponent(secret)}`, null);
    assert.match(elsewhere.user, /^alice-[0-9a-f]{4}$/, 'node B does not know the secret, and node A holds the name');
    assert.is(welcomeOf(elsewhere).asked, 'alice');
    await bob.presenceOf('lobby', 'alice', 'leave', graceMs + 10_000);
    assert.ok(Date.now() - start >= graceMs, 'the leave came after node A\'s grace');
    await elsewhere.close();
    await bob.close();
  } finally {
    await a.broker.close();
    await b.broker.close();
    await redis.dispose();
  }
});

test('shutdown does not wait for the grace', async () => {
  const { b, proxy, bob, alice } = await scene(60_000);
  const dropped = nextEvent(alice, 'disconnect');
  proxy.partition('alice', 60_000);
  await dropped;
  await waitHeld(b);
  alice.close();
  // The grace is a minute; the shutdown is given 2 s for its clients and needs none of the grace.
  await within(b.broker.close(), 15_000, 'the shutdown');
  assert.is(b.broker.shutdownCut, 0);
  assert.is(b.broker.supervisor.heldNames, 0, 'the holds were dropped');
  await bob.closed();
  await proxy.close();
});

test('the terminal client says so in words when the name asked for was taken', async () => {
  const b = await startBroker();
  const holder = await TestClient.connect(b.wsUrl, 'dave');
  const term = TerminalSession.start([process.execPath, CLI, 'chat', b.url, '--room', 'lobby', '--name', 'dave'], { columns: 100, rows: 20 });
  try {
    const rows = await term.waitForText('you are now');
    const line = rows.find((r) => r.includes('you are now'))!;
    assert.match(line, /you are now dave-[0-9a-f]{4} \(dave was taken\)/);
  } finally {
    await term.kill();
    await holder.close();
    await b.broker.close();
  }
});

test('the chat page says the name was taken, and a reload keeps the name unseen by the room', async () => {
  const b = await startBroker({ presenceGraceMs: LONG_GRACE_MS });
  const holder = await TestClient.connect(b.wsUrl, 'erin');
  const bob = await TestClient.connect(b.wsUrl, 'bob');
  bob.send({ op: 'join', room: 'lobby' });
  await bob.nextOf('joined', { room: 'lobby' });
  const browser = await launchChromium();
  try {
    const page = await (await browser.newContext()).newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(b.url);
    await page.fill('#name', 'erin');
    await page.fill('#login-room', 'lobby');
    await page.click('#login button');
    await page.waitForSelector('#state[data-state="open"]', PAGE_WAIT);
    const notice = await page.waitForSelector('#notice:has-text("you are now")', PAGE_WAIT);
    const words = (await notice.textContent()) ?? '';
    assert.match(words, /^you are now erin-[0-9a-f]{4} \(erin was taken\)$/);
    const name = /erin-[0-9a-f]{4}/.exec(words)![0];
    await bob.presenceOf('lobby', name, 'join');
    await page.reload();
    await page.waitForSelector('#state[data-state="open"]', PAGE_WAIT);
    await page.waitForSelector(`#me:has-text("${name}")`, PAGE_WAIT);
    await page.fill('#text', 'back after a reload');
    await page.press('#text', 'Enter');
    const heard = await bob.nextOf('message', { room: 'lobby', text: 'back after a reload' }, 10_000);
    assert.is(heard.from, name, 'the same name after the reload');
    assert.is(presenceAbout(bob, name).length, 1, 'the room saw the first join only: no leave, no second join');
    assert.equal(errors, []);
  } finally {
    await browser.close();
    await holder.close();
    await bob.close();
    await b.broker.close();
  }
});

async function metricsOf(b: TestBroker): Promise<string> {
  return (await fetch(`${b.url}metrics`)).text();
}

function welcomeOf(c: TestClient): Frame {
  const w = c.received.find((f) => f.type === 'welcome');
  if (w === undefined) throw new Error('no welcome');
  return w;
}

/** The broker has seen the drop (nothing tells a client that), and holds the name. */
function waitHeld(b: TestBroker): Promise<void> {
  return waitFor(() => b.broker.supervisor.heldNames > 0, 5000, 'the broker to hold the dropped user');
}

test.run();
