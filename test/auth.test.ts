// Authentication: with a JWT secret, a client needs an HS256 token (?token= or
// Authorization: Bearer); its name comes from the token, never from ?name=;
// a bad token is refused 401 before the upgrade and costs no actor. Without a
// secret, names are anonymous and the startup log says so.
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { SignJWT, UnsecuredJWT } from 'jose';
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { Broker } from '../src/broker.js';
import { startBroker, waitForNoSessions, type TestBroker } from './helpers/broker.js';
import { TestClient } from './helpers/client.js';
import { upgradeStatus } from './helpers/upgrade.js';
import { once } from './helpers/wait.js';

const SECRET = 'correct horse battery staple, 32+ bytes';
const KEY = new TextEncoder().encode(SECRET);

interface Claims {
  sub?: string;
  name?: string;
  exp?: number | string;
  nbf?: number;
}

/** A token signed with `key` (the broker's by default) and `alg`. */
function token(claims: Claims, key: Uint8Array = KEY, alg = 'HS256'): Promise<string> {
  const { exp = '10m', ...rest } = claims;
  const jwt = new SignJWT({ ...rest }).setProtectedHeader({ alg }).setIssuedAt();
  if (exp !== undefined) jwt.setExpirationTime(exp);
  return jwt.sign(key);
}

const Auth = suite<{ tb: TestBroker }>('authentication (JWT)', { tb: null as unknown as TestBroker });

Auth.before(async (ctx) => {
  ctx.tb = await startBroker({ jwtSecret: SECRET });
});
// A closed client's actor goes after its close handshake: start each case from an empty broker.
Auth.after.each(async (ctx) => {
  await waitForNoSessions(ctx.tb.broker);
});
Auth.after(async (ctx) => {
  await ctx.tb.broker.close();
});

Auth('a token in ?token= names the user from its claims; ?name= is ignored', async ({ tb }) => {
  const t = await token({ sub: 'u-1001', name: 'Alice' });
  const alice = await TestClient.connect(`${tb.wsUrl}?name=mallory&token=${t}`, null);
  assert.is(alice.user, 'Alice');
  const bare = await TestClient.connect(`${tb.wsUrl}?name=mallory&token=${await token({ sub: 'u-1002' })}`, null);
  assert.is(bare.user, 'u-1002', 'without a name claim the sub is the name');
  await Promise.all([alice.close(), bare.close()]);
});

Auth('a token in the Authorization header works as well', async ({ tb }) => {
  const t = await token({ sub: 'u-7', name: 'Bob' });
  const bob = await TestClient.connect(tb.wsUrl, 'mallory', { headers: { Authorization: `Bearer ${t}` } });
  assert.is(bob.user, 'Bob');
  bob.send({ op: 'join', room: 'auth' });
  await bob.nextOf('joined', { room: 'auth' });
  await bob.close();
});

Auth('a name claim that is not a usable name falls back to sub', async ({ tb }) => {
  const c = await TestClient.connect(`${tb.wsUrl}?token=${await token({ sub: 'u-9', name: 'bad\u0007name' })}`, null);
  assert.is(c.user, 'u-9');
  await c.close();
});

const refusals: [string, () => Promise<string | null>][] = [
  ['no token at all', async () => null],
  ['garbage', async () => 'not.a.jwt'],
  ['an expired token', () => token({ sub: 'u', exp: Math.floor(Date.now() / 1000) - 60 })],
  ['a token not valid yet (nbf)', () => token({ sub: 'u', nbf: Math.floor(Date.now() / 1000) + 3600 })],
  ['a token signed with another secret', () => token({ sub: 'u' }, new TextEncoder().encode('x'.repeat(40)))],
  ['a token signed with HS512 (only HS256 is accepted)', () => token({ sub: 'u' }, KEY, 'HS512')],
  ['an unsigned token (alg none)', async () => new UnsecuredJWT({ sub: 'u' }).setExpirationTime('10m').encode()],
  ['a token without sub', () => token({ name: 'Nobody' })],
  ['a token without exp (a credential that never expires)', async () => new SignJWT({ sub: 'u' }).setProtectedHeader({ alg: 'HS256' }).sign(KEY)],
  ['a token whose sub and name are both unusable', () => token({ sub: ' '.repeat(3) })],
];

for (const [what, make] of refusals) {
  Auth(`${what} is refused 401 before the upgrade and costs no actor`, async ({ tb }) => {
    const t = await make();
    const actorsBefore = tb.broker.scheduler.liveActors;
    const refusedBefore = tb.broker.chat.counters.authRefused;
    const viaQuery = await upgradeStatus(t === null ? tb.wsUrl : `${tb.wsUrl}?token=${encodeURIComponent(t)}`);
    assert.is(viaQuery.status, 401);
    assert.match(String(viaQuery.headers['www-authenticate']), /^Bearer/);
    if (t !== null) {
      const viaHeader = await upgradeStatus(tb.wsUrl, { headers: { Authorization: `Bearer ${t}` } });
      assert.is(viaHeader.status, 401);
    }
    assert.is(actorsBefore, 1, 'only the supervisor before');
    assert.is(tb.broker.scheduler.liveActors, actorsBefore, 'no actor was spawned');
    assert.is(tb.broker.chat.heartbeat.size, 0, 'no socket was accepted');
    assert.is(tb.broker.chat.counters.authRefused, refusedBefore + (t === null ? 1 : 2));
  });
}

Auth('the plain-text endpoint (/ws/text) is held to the same token', async ({ tb }) => {
  const textUrl = `${tb.wsUrl}/text`;
  assert.is((await upgradeStatus(`${textUrl}?name=mallory`)).status, 401, 'no token');
  assert.is((await upgradeStatus(`${textUrl}?token=not.a.jwt`)).status, 401, 'a bad token');
  const watcher = await TestClient.connect(`${tb.wsUrl}?token=${await token({ sub: 'w' })}`, null);
  watcher.send({ op: 'join', room: 'lobby' });
  await watcher.nextOf('joined', { room: 'lobby' });
  const text = new WebSocket(`${textUrl}?name=mallory&token=${await token({ sub: 'u-3', name: 'Carol' })}`);
  await once(text, 'open', 3000, 'the text client to connect');
  await watcher.nextOf('presence', { room: 'lobby', user: 'Carol', event: 'join' });
  text.close();
  await watcher.close();
});

Auth('fuzzed tokens (random strings, valid ones with a character changed) are all refused 401, never a 500', async ({ tb }) => {
  const good = await token({ sub: 'u-fuzz', name: 'Fuzz' });
  const [head, body, sig] = good.split('.');
  // A changed character, never a segment's last (its unused low bits may decode to the same bytes).
  const mutated = fc.tuple(fc.constantFrom(0, 1, 2), fc.nat(), fc.constantFrom(...'ABCabc019-_.~%'.split(''))).map(([part, at, ch]) => {
    const parts = [head, body, sig];
    const p = parts[part];
    const i = at % (p.length - 1);
    parts[part] = p.slice(0, i) + (p[i] === ch ? (ch === 'A' ? 'B' : 'A') : ch) + p.slice(i + 1);
    return parts.join('.');
  });
  await fc.assert(fc.asyncProperty(fc.oneof(fc.string({ maxLength: 300 }), mutated), async (t) => {
    const reply = await upgradeStatus(`${tb.wsUrl}?token=${encodeURIComponent(t)}`);
    assert.is(reply.status, 401, `token ${JSON.stringify(t)}`);
  }), { numRuns: 200, includeErrorInReport: true });
  assert.is(tb.broker.scheduler.liveActors, 1, 'no actor was spawned');
});

Auth('a secret shorter than 32 bytes is refused at start', async () => {
  let error: unknown = null;
  try {
    const b = await Broker.start({ port: 0, host: '127.0.0.1', jwtSecret: 'short', logger: pino({ level: 'silent' }) });
    await b.close();
  } catch (err) {
    error = err;
  }
  assert.instance(error, RangeError);
});

Auth.run();

const Anonymous = suite('authentication off (no secret)');

Anonymous('names are anonymous: ?name= is taken as asked, and the startup log says so', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
      done();
    },
  });
  const tb = await startBroker({ logger: pino({ level: 'info' }, sink) });
  try {
    const warning = lines.map((l) => JSON.parse(l) as { msg: string; level: number }).find((r) => /anonymous/.test(r.msg));
    assert.ok(warning, `a startup line says names are anonymous; got: ${lines.join(' / ')}`);
    assert.is(warning.level, 40, 'as a warning');
    const c = await TestClient.connect(tb.wsUrl, 'anyone-at-all');
    assert.is(c.user, 'anyone-at-all');
    await c.close();
  } finally {
    await tb.broker.close();
  }
});

Anonymous.run();
