// Identity over real sockets (issue 14): a name is taken in canonical form
// (case, width, look-alike letters and composed or decomposed accents aside),
// for users and for rooms, on one node and across --workers; with a JWT the
// user is the token's sub: several connections of one sub are one user (tabs),
// and a display name rides beside the id as `fromName`, never as the id.
import { SignJWT, type JWTPayload } from 'jose';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SHUTDOWN_TIMEOUT_MS } from '../src/constants.js';
import { spawnBroker, startBroker, waitForNoSessions, type BrokerProcess, type TestBroker } from './helpers/broker.js';
import { closeAll, TestClient, type Frame } from './helpers/client.js';
import { httpRequest } from './helpers/http.js';
import { waitFor, withTimeout } from './helpers/wait.js';

/** Each of these is alice to a reader; the broker must see that too. */
const ALICE_LOOKALIKES: [string, string][] = [
  ['Alice', 'capital'],
  ['ALICE', 'all capitals'],
  ['\u0430lice', 'Cyrillic а'],
  ['\uff41\uff4c\uff49\uff43\uff45', 'fullwidth'],
  ['aIice', 'capital I for l'],
];

const Names = suite<{ tb: TestBroker; clients: TestClient[] }>('identity: names', { tb: null as unknown as TestBroker, clients: [] });

Names.before(async (ctx) => {
  ctx.tb = await startBroker();
});
Names.after.each(async (ctx) => {
  await closeAll(ctx.clients);
  ctx.clients = [];
  await waitForNoSessions(ctx.tb.broker);
});
Names.after(async (ctx) => {
  await ctx.tb.broker.close();
});

Names('while alice is online, every look-alike of her name gets a generated alternative; a DM to ALICE reaches alice', async (ctx) => {
  const alice = await TestClient.connect(ctx.tb.wsUrl, 'alice');
  ctx.clients.push(alice);
  assert.is(alice.user, 'alice');
  for (const [name, what] of ALICE_LOOKALIKES) {
    const other = await TestClient.connect(ctx.tb.wsUrl, name);
    ctx.clients.push(other);
    assert.is.not(other.user, name, `${what} (${name}) is not let in as a second alice`);
    assert.match(other.user, /-[0-9a-f]{4}$/, `${what}: a generated alternative`);
  }
  const accented = await TestClient.connect(ctx.tb.wsUrl, 'alic\u00e9');
  const decomposed = await TestClient.connect(ctx.tb.wsUrl, 'alice\u0301');
  ctx.clients.push(accented, decomposed);
  assert.is(accented.user, 'alic\u00e9', 'alicé is another name than alice');
  assert.is.not(decomposed.user, 'alice\u0301', 'decomposed alicé is the precomposed one');
  assert.match(decomposed.user, /-[0-9a-f]{4}$/);

  const carol = await TestClient.connect(ctx.tb.wsUrl, 'carol');
  ctx.clients.push(carol);
  carol.send({ op: 'dm', to: 'ALICE', text: 'hi', id: 1 });
  await carol.nextOf('ack', { id: 1 });
  const dm = await alice.nextOf('dm', { from: 'carol', text: 'hi' });
  assert.is(dm.to, 'alice', 'the DM names the user as registered');
});

Names('a room is one room in canonical form: joining Lobby while lobby is live is refused name_taken, naming lobby', async (ctx) => {
  const [a, b] = [await TestClient.connect(ctx.tb.wsUrl, 'ra'), await TestClient.connect(ctx.tb.wsUrl, 'rb')];
  ctx.clients.push(a, b);
  a.send({ op: 'join', room: 'lobby', id: 1 });
  await a.nextOf('joined', { room: 'lobby' });
  for (const room of ['Lobby', 'LOBBY', 'l\u043ebby', '\uff4c\uff4f\uff42\uff42\uff59', 'I0bby']) {
    b.send({ op: 'join', room, id: room });
    const err = await b.nextOf('error', { ref: room });
    assert.is(err.code, 'name_taken', room);
    assert.match(String(err.message), /join "lobby"/);
  }
  b.send({ op: 'join', room: 'lobby', id: 2 });
  await b.nextOf('joined', { room: 'lobby', id: 2 });
  assert.ok(a.peek((f: Frame) => f.type === 'presence' && f.room !== 'lobby').length === 0);
  // The refusal lasts as long as the room is live here: once empty, the other spelling is free.
  for (const c of [a, b]) {
    c.send({ op: 'leave', room: 'lobby', id: 3 });
    await c.nextOf('left', { room: 'lobby' });
  }
  b.send({ op: 'join', room: 'Lobby', id: 4 });
  await b.nextOf('joined', { room: 'Lobby', id: 4 });
  // __proto__ is a room like any other.
  a.send({ op: 'join', room: '__proto__', id: 5 });
  await a.nextOf('joined', { room: '__proto__', id: 5 });
  a.send({ op: 'send', room: '__proto__', text: 'x', id: 6 });
  await a.nextOf('message', { room: '__proto__', text: 'x' });
});

const SECRET = 'identity test secret, more than 32 bytes long';
const API_KEY = 'identity-test-api-key-0123456789';

async function api(tb: TestBroker, path: string, body: object): Promise<Record<string, unknown>> {
  const r = await httpRequest(`${tb.url}${path}`, 'POST', 3000, {
    headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  return { status: r.status, ...(JSON.parse(r.body) as Record<string, unknown>) };
}
function token(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims as JWTPayload).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('10m')
    .sign(new TextEncoder().encode(SECRET));
}

const Jwt = suite<{ tb: TestBroker; clients: TestClient[] }>('identity: JWT sub', { tb: null as unknown as TestBroker, clients: [] });

Jwt.before(async (ctx) => {
  ctx.tb = await startBroker({ jwtSecret: SECRET, apiKey: API_KEY });
});
Jwt.after.each(async (ctx) => {
  await closeAll(ctx.clients);
  ctx.clients = [];
  await waitForNoSessions(ctx.tb.broker);
});
Jwt.after(async (ctx) => {
  await ctx.tb.broker.close();
});

async function as(ctx: { tb: TestBroker; clients: TestClient[] }, claims: Record<string, unknown>): Promise<TestClient> {
  const c = await TestClient.connect(`${ctx.tb.wsUrl}?token=${await token(claims)}`, null);
  ctx.clients.push(c);
  return c;
}

Jwt('mallory with name "alice" first, then the real alice: each is their sub; a DM to alice reaches alice only; fromName rides beside', async (ctx) => {
  const mallory = await as(ctx, { sub: 'mallory', name: 'alice' });
  const alice = await as(ctx, { sub: 'alice' });
  const carol = await as(ctx, { sub: 'carol', name: 'Carol' });
  assert.is(mallory.user, 'mallory');
  assert.is(mallory.displayName, 'alice');
  assert.is(alice.user, 'alice', 'the real alice is alice, not a generated alternative');
  carol.send({ op: 'dm', to: 'alice', text: 'my password is hunter2', id: 1 });
  await carol.nextOf('ack', { id: 1 });
  const dm = await alice.nextOf('dm', { text: 'my password is hunter2' });
  assert.is(dm.from, 'carol');
  assert.is(dm.fromName, 'Carol', 'the display name beside the id');
  await mallory.barrier();
  assert.is(mallory.received.filter((f) => f.type === 'dm').length, 0, 'mallory got nothing');

  for (const c of [mallory, alice]) {
    c.send({ op: 'join', room: 'jwt-room', id: 'j' });
    await c.nextOf('joined', { room: 'jwt-room' });
  }
  mallory.send({ op: 'send', room: 'jwt-room', text: 'from m', id: 2 });
  const m = await alice.nextOf('message', { text: 'from m' });
  assert.is(m.from, 'mallory', 'from stays the unique id');
  assert.is(m.fromName, 'alice');
  alice.send({ op: 'send', room: 'jwt-room', text: 'from a', id: 3 });
  const own = await mallory.nextOf('message', { text: 'from a' });
  assert.is(own.fromName, undefined, 'no fromName when there is no display name');
});

Jwt('two connections of one sub are one user: same id, DMs reach every tab, presence join on the first tab and leave on the last', async (ctx) => {
  const bob = await as(ctx, { sub: 'bob' });
  bob.send({ op: 'join', room: 'tabs', id: 1 });
  await bob.nextOf('joined', { room: 'tabs' });
  const tab1 = await as(ctx, { sub: 'dana', name: 'Dana' });
  const tab2 = await as(ctx, { sub: 'dana', name: 'Dana' });
  assert.is(tab1.user, 'dana');
  assert.is(tab2.user, 'dana', 'the second tab is dana, not a rename');
  assert.is.not(tab1.session, tab2.session);

  tab1.send({ op: 'join', room: 'tabs', id: 2 });
  await tab1.nextOf('joined', { room: 'tabs' });
  await bob.nextOf('presence', { room: 'tabs', user: 'dana', event: 'join' });
  tab2.send({ op: 'join', room: 'tabs', id: 3 });
  const joined = await tab2.nextOf('joined', { room: 'tabs' });
  assert.equal([...(joined.users as string[])].sort(), ['bob', 'dana'], 'dana listed once');

  bob.send({ op: 'dm', to: 'dana', text: 'both tabs?', id: 4 });
  await bob.nextOf('ack', { id: 4 });
  await tab1.nextOf('dm', { text: 'both tabs?' });
  await tab2.nextOf('dm', { text: 'both tabs?' });

  tab1.send({ op: 'leave', room: 'tabs', id: 5 });
  await tab1.nextOf('left', { room: 'tabs' });
  await tab1.close();
  const presence = (f: Frame): boolean => f.type === 'presence' && f.user === 'dana';
  assert.is((await bob.barrier()).filter(presence).length, 0, 'no leave while a tab is still in the room');
  // The user is still online through its other tab: DMs still reach it.
  bob.send({ op: 'dm', to: 'dana', text: 'still there', id: 6 });
  await bob.nextOf('ack', { id: 6 });
  await tab2.nextOf('dm', { text: 'still there' });
  await tab2.close();
  await bob.nextOf('presence', { room: 'tabs', user: 'dana', event: 'leave' });
  bob.send({ op: 'dm', to: 'dana', text: 'gone', id: 7 });
  assert.is((await bob.nextOf('error', { ref: 7 })).code, 'unknown_user');
});

Jwt('the server API reaches every tab: /api/send to each, /api/disconnect closes each and counts them', async (ctx) => {
  const tabs = [await as(ctx, { sub: 'erin' }), await as(ctx, { sub: 'erin' }), await as(ctx, { sub: 'erin' })];
  assert.equal(await api(ctx.tb, 'api/send', { to: 'erin', text: 'to every tab' }), { status: 200, delivered: true });
  for (const t of tabs) await t.nextOf('dm', { text: 'to every tab', server: true });
  assert.equal(await api(ctx.tb, 'api/disconnect', { user: 'erin', reason: 'suspended' }), { status: 200, disconnected: 3 });
  for (const t of tabs) assert.equal(await t.closed(), { code: 4000, reason: 'suspended' });
});

const Cluster = suite<{ proc: BrokerProcess | null; clients: TestClient[] }>('identity: across workers', { proc: null, clients: [] });

Cluster.after.each(async (ctx) => {
  await closeAll(ctx.clients).catch(() => {});
  const proc = ctx.proc;
  if (proc !== null && proc.child.exitCode === null && proc.child.signalCode === null) {
    proc.child.kill('SIGTERM');
    await withTimeout(proc.exited, SHUTDOWN_TIMEOUT_MS + 3000, 'the primary to exit').catch(() => proc.child.kill('SIGKILL'));
  }
});

Cluster('under --workers 2 the name claim is the canonical form: look-alikes on the other worker are refused too, DMs by any spelling arrive', async (ctx) => {
  const proc = await spawnBroker(['--workers', '2']);
  ctx.proc = proc;
  await waitFor(() => proc.lines.filter((l) => l.includes('worker listening')).length === 2, 5000, 'two workers listening');
  const alice = await TestClient.connect(proc.wsUrl, 'alice');
  ctx.clients.push(alice);
  // Round-robin puts consecutive connections on alternate workers: at least two of these land on the other one.
  for (const [name, what] of ALICE_LOOKALIKES.slice(0, 4)) {
    const other = await TestClient.connect(proc.wsUrl, name);
    ctx.clients.push(other);
    assert.match(other.user, /-[0-9a-f]{4}$/, `${what}: a generated alternative on either worker`);
  }
  const carol = await TestClient.connect(proc.wsUrl, 'carol');
  ctx.clients.push(carol);
  carol.send({ op: 'dm', to: '\uff21\uff2c\uff29\uff23\uff25', text: 'via the hub', id: 1 });
  await carol.nextOf('ack', { id: 1 });
  await alice.nextOf('dm', { from: 'carol', text: 'via the hub' });
});

Names.run();
Jwt.run();
Cluster.run();
