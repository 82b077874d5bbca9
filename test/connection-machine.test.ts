import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CONNECTION_STATES, INITIAL_CONNECTION_SNAPSHOT, stepConnection } from '../src/actors/connection-machine.js';

const test = suite('connection machine');

test('connecting -> open -> closing -> closed, recording the close', () => {
  let s = INITIAL_CONNECTION_SNAPSHOT;
  assert.is(s.value, 'connecting');
  s = stepConnection(s, { type: 'REGISTERED' });
  assert.is(s.value, 'open');
  s = stepConnection(s, { type: 'CLOSE', code: 4000, reason: 'kicked' });
  assert.is(s.value, 'closing');
  assert.equal(s.context, { closeCode: 4000, closeReason: 'kicked' });
  s = stepConnection(s, { type: 'SOCKET_CLOSED', code: 4000, reason: 'kicked' });
  assert.is(s.value, 'closed');
  assert.is(s.status, 'done');
});

test('the shared initial snapshot is never changed by a step', () => {
  const before = JSON.stringify(INITIAL_CONNECTION_SNAPSHOT.context);
  stepConnection(INITIAL_CONNECTION_SNAPSHOT, { type: 'SOCKET_CLOSED', code: 1006, reason: '' });
  assert.is(INITIAL_CONNECTION_SNAPSHOT.value, 'connecting');
  assert.is(JSON.stringify(INITIAL_CONNECTION_SNAPSHOT.context), before);
});

test('an event that does not apply returns the same snapshot object', () => {
  const open = stepConnection(INITIAL_CONNECTION_SNAPSHOT, { type: 'REGISTERED' });
  assert.is(stepConnection(open, { type: 'REGISTERED' }), open);
  const closed = stepConnection(open, { type: 'SOCKET_CLOSED', code: 1000, reason: '' });
  assert.is(stepConnection(closed, { type: 'CLOSE', code: 1000, reason: '' }), closed);
});

test('a failure from any live state ends closed with 1011', () => {
  for (const start of [INITIAL_CONNECTION_SNAPSHOT, stepConnection(INITIAL_CONNECTION_SNAPSHOT, { type: 'REGISTERED' })]) {
    const s = stepConnection(start, { type: 'FAILED', code: 1011, reason: 'internal error' });
    assert.is(s.value, 'closed');
    assert.is(s.context.closeCode, 1011);
  }
});

test('lists its states for inspectors', () => {
  assert.equal([...CONNECTION_STATES], ['connecting', 'open', 'closing', 'closed']);
});

test.run();

const sharing = suite('connection machine snapshots');

sharing('every connection that opens shares one open snapshot', () => {
  const a = stepConnection(INITIAL_CONNECTION_SNAPSHOT, { type: 'REGISTERED' });
  const b = stepConnection(INITIAL_CONNECTION_SNAPSHOT, { type: 'REGISTERED' });
  assert.is(a, b);
  assert.is(a.value, 'open');
});

sharing('events with data are never shared across connections', () => {
  const open = stepConnection(INITIAL_CONNECTION_SNAPSHOT, { type: 'REGISTERED' });
  const x = stepConnection(open, { type: 'CLOSE', code: 4000, reason: 'x' });
  const y = stepConnection(open, { type: 'CLOSE', code: 1001, reason: 'y' });
  assert.is.not(x, y);
  assert.equal([x.context.closeCode, y.context.closeCode], [4000, 1001]);
});

sharing.run();
