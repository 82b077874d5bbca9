// Authentication: with a JWT secret, a client needs an HS256 token (?token= or
// Authorization: Bearer); the user is the token's sub (a string or an
// integer), its name claim only a display name beside it, never ?name=; a bad
// token or a claim of the wrong type is refused 401 with the reason, before
// the upgrade, and costs no actor. Without a secret, names are anonymous and
// the startup log says so.
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { type JWTPayload, SignJWT, UnsecuredJWT } from 'jose';
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
  sub?: unknown;
  name?: unknown;
  exp?: number | string;
  nbf?: number;
}

/** A token signed with `key` (the broker's by default) and `alg`. */
function token(claims: Claims, key: Uint8Array = KEY, alg = 'HS256'): Promise<string> {
  const { exp = '10m', ...rest } = claims;
  // Claims of any JSON type, as an identity provider may issue them: JWTPayload types sub as a string.
  const jwt = new SignJWT({ ...rest } as JWTPayload).setProtectedHeader({ alg }).setIssuedAt();
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

Auth('a token in ?token= names the user by its sub, its name claim is the display name; ?name= is ignored', async ({ tb }) => {
  const t = await token({ sub: 'u-1001', name: 'Alice' });
  const alice = await TestClient.connect(`${tb.wsUrl}?name=mallory&token=${t}`, null);
  assert.is(alice.user, 'u-1001');
  assert.is(alice.displayName, 'Alice');
  const bare = await TestClient.connect(`${tb.wsUrl}?name=mallory&token=${await token({ sub: 'u-1002' })}`, null);
  assert.is(bare.user, 'u-1002');
  assert.is(bare.displayName, null, 'without a name claim there is no display name');
  await Promise.all([alice.close(), bare.close()]);
});

Auth('a numeric sub (as many identity providers issue) is the user, as its decimal string', async ({ tb }) => {
  const c = await TestClient.connect(`${tb.wsUrl}?token=${await token({ sub: 12345, name: 'Dana' })}`, null);
  assert.is(c.user, '12345');
  assert.is(c.displayName, 'Dana');
  await c.close();
});

Auth('a token in the Authorization header works as well', async ({ tb }) => {
  const t = await token({ sub: 'u-7', name: 'Bob' });
  const bob = await TestClient.connect(tb.wsUrl, 'mallory', { headers: { Authorization: `Bearer ${t}` } });
  assert.is(bob.user, 'u-7');
  assert.is(bob.displayName, 'Bob');
  bob.send({ op: 'join', room: 'auth' });
  await bob.nextOf('joined', { room: 'auth' });
  await bob.close();
});

Auth('a name claim that is not a usable name (controls, bidi overrides) is left out; the sub is the user', async ({ tb }) => {
  for (const name of ['bad\u0007name', 'alice\u202e', '\u200b']) {
    const c = await TestClient.connect(`${tb.wsUrl}?token=${await token({ sub: 'u-9', name })}`, null);
    assert.is(c.user, 'u-9');
    assert.is(c.displayName, null, JSON.stringify(name));
    await c.close();
  }
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
  ['a token whose sub is whitespace only', () => token({ sub: ' '.repeat(3) })],
  ['a token whose sub has a zero-width space', () => token({ sub: 'alice\u200b' })],
  ['a token whose sub is a fraction', () => token({ sub: 1.5 })],
  ['a token whose sub is an object', () => token({ sub: { id: 1 } })],
  ['a token whose sub is true', () => token({ sub: true })],
  ['a token whose name is a number', () => token({ sub: 'u', name: 7 })],
  ['a token whose name is an array', () => token({ sub: 'u', name: ['a'] })],
];

for (const [what, make] of refusals) {
  Auth(`${what} is refused 401 before the upgrade and costs no actor`, async ({ tb }) => {
    const t = await make();
    const actorsBefore = tb.broker.scheduler.liveActors;
    const refusedBefore = tb.broker.chat.counters.authRefused;
    const viaQuery = await upgradeStatus(t === null ? tb.wsUrl : `${tb.wsUrl}?token=${encodeURIComponent(t)}`);
    assert.is(viaQuery.status, 401);
    assert.match(String(viaQuery.headers['www-authenticate']), /^Bearer error="invalid_token", error_description="[^"]+"$/);
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

Auth('a claim of the wrong type is refused with its reason in WWW-Authenticate, never a 500', async ({ tb }) => {
  const cases: [Claims, RegExp][] = [
    [{ sub: 1.5 }, /the sub claim must be a string or an integer, not a non-integer number/],
    [{ sub: { id: 1 } }, /the sub claim must be a string or an integer, not an object/],
    [{ sub: 'u', name: 7 }, /the name claim must be a string, not a number/],
    [{ sub: 'r\u202eoot' }, /the sub claim must not contain control, format or invisible characters \(found U\+202E\)/],
  ];
  for (const [claims, why] of cases) {
    const reply = await upgradeStatus(`${tb.wsUrl}?token=${await token(claims)}`);
    assert.is(reply.status, 401, JSON.stringify(claims));
    assert.match(String(reply.headers['www-authenticate']), why);
  }
});

Auth('the plain-text endpoint (/ws/text) is held to the same token', async ({ tb }) => {
  const textUrl = `${tb.wsUrl}/text`;
  assert.is((await upgradeStatus(`${textUrl}?name=mallory`)).status, 401, 'no token');
  assert.is((await upgradeStatus(`${textUrl}?token=not.a.jwt`)).status, 401, 'a bad token');
  const watcher = await TestClient.connect(`${tb.wsUrl}?token=${await token({ sub: 'w' })}`, null);
  watcher.send({ op: 'join', room: 'lobby' });
  await watcher.nextOf('joined', { room: 'lobby' });
  const text = new WebSocket(`${textUrl}?name=mallory&token=${await token({ sub: 'u-3', name: 'Carol' })}`);
  await once(text, 'open', 3000, 'the text client to connect');
  await watcher.nextOf('presence', { room: 'lobby', user: 'u-3', event: 'join' });
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
