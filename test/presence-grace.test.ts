// PresenceGrace alone (src/actors/presence-grace.ts): secrets, holds, their
// bound and their end, without a broker. Over real sockets: name-grace.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withTimeout } from './helpers/wait.js';
import { PresenceGrace, type Hold } from '../src/actors/presence-grace.js';

const test = suite('presence grace');

/** A grace whose ended holds are recorded, and whose timer's wake-up is awaited (no sleeps). */
function grace(graceMs: number, maxHeld = 100): { g: PresenceGrace; ended: [string, Hold][]; due: () => Promise<void> } {
  const ended: [string, Hold][] = [];
  let wake: (() => void) | null = null;
  const g = new PresenceGrace({
    requestExpiry: () => wake?.(),
    ended: (key, hold) => ended.push([key, { ...hold, rooms: new Set(hold.rooms) }]),
  }, graceMs, maxHeld);
  // A timer may fire a millisecond before Date.now() says the hold is due: expire() then re-arms, and this waits on.
  const due = (): Promise<void> => new Promise((resolve) => {
    wake = () => {
      const before = ended.length;
      g.expire();
      if (ended.length === before) return;
      wake = null;
      resolve();
    };
  });
  return { g, ended, due };
}

test('a secret is the one minted last for its key, and none after forget', () => {
  const { g } = grace(1000);
  const first = g.mint('alice');
  assert.ok(g.matches('alice', first));
  assert.not.ok(g.matches('bob', first), 'another key');
  assert.not.ok(g.matches('alice', `${first}x`), 'another length');
  const second = g.mint('alice');
  assert.not.ok(g.matches('alice', first), 'the earlier secret is spent');
  assert.ok(g.matches('alice', second));
  g.forget('alice');
  assert.not.ok(g.matches('alice', second));
});

test('a hold lists its user in its rooms until the rejoins; resumed, the name is no longer held', () => {
  const { g, ended } = grace(60_000);
  assert.ok(g.hold('alice', 'alice', 'c1', ['lobby', 'side']));
  assert.is(g.held('alice')?.owner, 'c1');
  assert.equal([...(g.heldIn('lobby') ?? [])], ['alice']);
  g.resume('alice');
  assert.is(g.held('alice'), undefined, 'the name is the new session\'s');
  assert.ok(g.rejoin('alice', 'lobby'));
  assert.not.ok(g.rejoin('alice', 'lobby'), 'once');
  assert.not.ok(g.rejoin('alice', 'elsewhere'));
  assert.is(g.heldIn('lobby'), undefined);
  assert.is(g.size, 1, 'side is not rejoined yet');
  assert.ok(g.rejoin('alice', 'side'));
  assert.is(g.size, 0);
  assert.equal(ended, [], 'nothing to tell');
  g.dispose();
});

test('past the bound the oldest hold ends at once, told', () => {
  const { g, ended } = grace(60_000, 2);
  g.hold('a', 'a', 'c1', ['r']);
  g.hold('b', 'b', 'c2', ['r']);
  assert.equal(ended, []);
  g.hold('c', 'c', 'c3', ['r']);
  assert.is(g.size, 2);
  assert.equal(ended.map(([k, h]) => [k, h.named, [...h.rooms]]), [['a', true, ['r']]]);
  assert.equal([...(g.heldIn('r') ?? [])].sort(), ['b', 'c']);
  assert.not.ok(g.matches('a', 'anything'));
  g.dispose();
  assert.is(g.size, 0, 'dispose drops every hold untold');
  assert.is(ended.length, 1);
});

test('the grace ends on its timer; off, nothing is held unless it must be', async () => {
  const { g, ended, due } = grace(30);
  const woken = due();
  g.hold('a', 'a', 'c1', ['r']);
  await withTimeout(woken, 5000, 'the grace timer'); // its own timer is unref'd: this one keeps the test alive

  assert.equal(ended.map(([k]) => k), ['a']);
  assert.is(g.size, 0);
  const off = grace(0).g;
  assert.not.ok(off.hold('a', 'a', 'c1', ['r']), 'grace 0: a drop is a leave');
  assert.ok(off.hold('a', 'a', 'c1', ['r'], true), 'a replaced session is held for its successor');
  off.dispose();
});

test.run();
