// The client's pure helpers: URL building, backoff, frame parsing. (Its wire
// types are the broker's own, imported as types: they cannot drift.)
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backoffDelay, DEFAULT_BACKOFF } from '../src/client/backoff.js';
import { chatUrl } from '../src/client/client.js';
import { parseServerEvent } from '../src/client/wire.js';

const test = suite('client wire contract');

test('parseServerEvent returns null for frames that are not events', () => {
  assert.is(parseServerEvent('not json'), null);
  assert.is(parseServerEvent('[1,2]'), null);
  assert.is(parseServerEvent('{"no":"type"}'), null);
  assert.equal(parseServerEvent('{"type":"pong","id":3}'), { type: 'pong', id: 3 });
});

test('chatUrl: bare hosts get /ws, http becomes ws, name and token are query parameters', () => {
  assert.is(chatUrl('ws://127.0.0.1:8080'), 'ws://127.0.0.1:8080/ws');
  assert.is(chatUrl('http://h:1/', 'al ice', 't0k'), 'ws://h:1/ws?name=al+ice&token=t0k');
  assert.is(chatUrl('https://h/'), 'wss://h/ws');
  assert.is(chatUrl('ws://h/custom/path?x=1', 'bob'), 'ws://h/custom/path?x=1&name=bob');
});

test('backoffDelay grows exponentially up to the cap, jitter takes up to half off', () => {
  const o = { ...DEFAULT_BACKOFF, initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 };
  assert.equal([0, 1, 2, 3, 4, 10].map((n) => backoffDelay(n, o, () => 0)), [100, 200, 400, 800, 1000, 1000]);
  assert.equal([0, 1, 4].map((n) => backoffDelay(n, o, () => 1)), [50, 100, 500]);
  for (let n = 0; n < 50; n++) {
    const d = backoffDelay(n, o);
    assert.ok(d >= 50 && d <= 1000, `attempt ${n}: ${d} ms is outside [50, 1000]`);
  }
});

test.run();
