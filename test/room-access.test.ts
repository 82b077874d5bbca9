// Room permissions: a --room-policy's rules for connections without a rooms
// claim, a token's rooms claim for its user; a join or read outside them, or
// a send to a room that is read-only, is refused `forbidden` and the
// connection goes on.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JWTPayload, SignJWT } from 'jose';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { accessTo, OPEN_RULES, parseRoomRules, type RoomRules } from '../src/actors/room-access.js';
import { CLI_PATH, spawnBroker, startBroker } from './helpers/broker.js';
import { TestClient } from './helpers/client.js';
import { upgradeStatus } from './helpers/upgrade.js';

const SECRET = 'room access test secret, 32 bytes or more';

function token(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims as JWTPayload).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('10m')
    .sign(new TextEncoder().encode(SECRET));
}

function rules(json: unknown): RoomRules {
  const r = parseRoomRules(json, 'test');
  if (typeof r === 'string') throw new Error(r);
  return r;
}

const Rules = suite('room rules');

Rules('an exact name beats a prefix, a longer prefix a shorter one, and no match is none', () => {
  const r = rules({ 'team:*': 'r', 'team:42:*': 'rw', 'team:42:secret': 'none', announce: 'r' });
  assert.is(accessTo(r, 'team:1'), 'r');
  assert.is(accessTo(r, 'team:42:general'), 'rw');
  assert.is(accessTo(r, 'team:42:secret'), 'none');
  assert.is(accessTo(r, 'announce'), 'r');
  assert.is(accessTo(r, 'announce2'), 'none', 'a name without * is exact');
  assert.is(accessTo(r, 'lobby'), 'none');
  assert.is(accessTo(rules({ '*': 'rw', admin: 'none' }), 'lobby'), 'rw');
  assert.is(accessTo(OPEN_RULES, 'anything'), 'rw');
});

Rules('bad rules are refused with a sentence that says what is wrong', () => {
  assert.match(String(parseRoomRules(['lobby'], 'x')), /must be an object/);
  assert.match(String(parseRoomRules({ lobby: 'write' }, 'x')), /"rw", "r" or "none"/);
  assert.match(String(parseRoomRules({ 'a*b': 'r' }, 'x')), /may only end a pattern/);
  assert.match(String(parseRoomRules({ '': 'r' }, 'x')), /1 to 256 characters/);
  const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`r${i}`, 'r']));
  assert.match(String(parseRoomRules(many, 'x')), /at most 256/);
});

Rules.run();

const Policy = suite('room policy over real sockets');

Policy('a policy makes a room read-only and closes another; the connection goes on', async () => {
  const tb = await startBroker({ roomPolicy: rules({ announce: 'r', 'staff:*': 'none', '*': 'rw' }) });
  const reader = await TestClient.connect(tb.wsUrl, 'reader');
  reader.send({ op: 'join', room: 'lobby', id: 'j1' });
  await reader.nextOf('joined', { room: 'lobby' });
  reader.send({ op: 'send', room: 'lobby', text: 'hi', id: 's1' });
  await reader.nextOf('ack', { id: 's1' });
  reader.send({ op: 'join', room: 'announce', id: 'j2' });
  await reader.nextOf('joined', { room: 'announce' });
  reader.send({ op: 'send', room: 'announce', text: 'spoof', id: 's2' });
  const ro = await reader.nextOf('error', { ref: 's2' });
  assert.is(ro.code, 'forbidden');
  assert.match(String(ro.message), /read-only/);
  reader.send({ op: 'join', room: 'staff:payroll', id: 'j3' });
  assert.is((await reader.nextOf('error', { ref: 'j3' })).code, 'forbidden');
  reader.send({ op: 'who', room: 'staff:payroll', id: 'w1' });
  assert.is((await reader.nextOf('error', { ref: 'w1' })).code, 'forbidden', 'who is a read');
  reader.send({ op: 'ping', id: 'p1' });
  await reader.nextOf('pong', { id: 'p1' });
  assert.ok(!reader.received.some((f) => f.type === 'message' && f.text === 'spoof'), 'the refused send went nowhere');
  await reader.close();
  await tb.broker.close();
});

Policy('a token\'s rooms claim replaces the policy for its user; a bad claim is 401', async () => {
  const tb = await startBroker({ jwtSecret: SECRET, roomPolicy: rules({ announce: 'r', 'staff:*': 'none', '*': 'rw' }) });
  const staff = await TestClient.connect(`${tb.wsUrl}?token=${await token({ sub: 'sam', rooms: { 'staff:*': 'rw', announce: 'rw' } })}`, null);
  const guest = await TestClient.connect(`${tb.wsUrl}?token=${await token({ sub: 'gus' })}`, null);
  staff.send({ op: 'join', room: 'staff:payroll', id: 'j1' });
  await staff.nextOf('joined', { room: 'staff:payroll' });
  for (const c of [staff, guest]) {
    c.send({ op: 'join', room: 'announce', id: 'ja' });
    await c.nextOf('joined', { room: 'announce' });
  }
  staff.send({ op: 'send', room: 'announce', text: 'release at 5', id: 's1' });
  await staff.nextOf('ack', { id: 's1' });
  const got = await guest.nextOf('message', { room: 'announce' });
  assert.is(got.text, 'release at 5');
  staff.send({ op: 'join', room: 'lobby', id: 'j2' });
  assert.is((await staff.nextOf('error', { ref: 'j2' })).code, 'forbidden', 'the claim lists what is allowed: lobby is not');
  guest.send({ op: 'join', room: 'staff:payroll', id: 'j3' });
  assert.is((await guest.nextOf('error', { ref: 'j3' })).code, 'forbidden', 'no claim: the policy decides');
  const bad = await upgradeStatus(`${tb.wsUrl}?token=${await token({ sub: 'eve', rooms: { lobby: 'admin' } })}`);
  assert.is(bad.status, 401);
  assert.match(String(bad.headers['www-authenticate']), /rooms claim/);
  await Promise.all([staff.close(), guest.close()]);
  await tb.broker.close();
});

Policy('hubbub serve --room-policy reads the file; a bad file stops the start with its reason', async () => {
  const dir = tmpdir();
  const good = join(dir, `hubbub-policy-${process.pid}.json`);
  writeFileSync(good, JSON.stringify({ announce: 'r', '*': 'rw' }));
  const broker = await spawnBroker(['--room-policy', good]);
  try {
    const c = await TestClient.connect(broker.wsUrl, 'cli');
    c.send({ op: 'join', room: 'announce', id: 'j' });
    await c.nextOf('joined', { room: 'announce' });
    c.send({ op: 'send', room: 'announce', text: 'x', id: 's' });
    assert.is((await c.nextOf('error', { ref: 's' })).code, 'forbidden');
    await c.close();
  } finally {
    broker.child.kill('SIGTERM');
    await broker.exited;
  }
  const bad = join(dir, `hubbub-policy-bad-${process.pid}.json`);
  writeFileSync(bad, JSON.stringify({ announce: 'read' }));
  const run = spawnSync(process.execPath, [CLI_PATH, 'serve', '--host', '127.0.0.1', '--port', '0', '--room-policy', bad], { timeout: 10_000 });
  assert.is(run.status, 2, 'a bad policy file is a usage error, before listening');
  assert.match(run.stderr.toString(), /"read".*must be "rw", "r" or "none"|announce.*"rw", "r" or "none"/);
});

Policy.run();
