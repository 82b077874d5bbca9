// DebugStream: sampled, batched, and a slow subscriber is dropped, never buffered.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { DebugStream } from '../src/debug/debug-stream.js';

/** The four things the stream uses of a ws socket, observable. */
class FakeSocket {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  sent: unknown[] = [];
  closedWith: [number, string] | null = null;
  send(text: string): void {
    this.sent.push(JSON.parse(text));
  }
  close(code: number, reason: string): void {
    this.closedWith = [code, reason];
    this.readyState = WebSocket.CLOSING;
  }
  terminate(): void {
    this.readyState = WebSocket.CLOSED;
  }
}

const asWs = (f: FakeSocket): WebSocket => f as unknown as WebSocket;

const Stream = suite('DebugStream');

Stream('builds an event once, for the subscribers of its topic only, and not at all without them', () => {
  const stream = new DebugStream();
  let builds = 0;
  const build = () => ({ type: '@xstate.actor', n: ++builds });
  stream.publish('lifecycle', build, undefined);
  assert.is(builds, 0, 'no subscriber: nothing built');
  assert.not.ok(stream.wants('lifecycle'));
  const a = new FakeSocket();
  const b = new FakeSocket();
  const c = new FakeSocket();
  assert.equal(stream.subscribe(asWs(a), ['lifecycle']), ['lifecycle']);
  stream.subscribe(asWs(b), ['lifecycle', 'stats']);
  stream.subscribe(asWs(c), ['stats']);
  assert.ok(stream.wants('lifecycle'));
  assert.not.ok(stream.wants('transitions'));
  stream.publish('lifecycle', build, undefined);
  stream.flush();
  assert.is(builds, 1);
  assert.equal(a.sent, [{ type: '@xstate.actor', n: 1 }]);
  assert.equal(b.sent, [{ type: '@xstate.actor', n: 1 }]);
  assert.equal(c.sent, []);
  assert.equal(stream.unsubscribe(asWs(b), ['lifecycle']), ['stats']);
  stream.remove(asWs(a));
  assert.not.ok(stream.wants('lifecycle'));
  stream.close();
});

Stream('samples: beyond the budget events are counted, then reported once a second', () => {
  const stream = new DebugStream({ eventsPerSecond: 3 });
  const a = new FakeSocket();
  stream.subscribe(asWs(a), ['transitions', 'stats']);
  for (let i = 0; i < 5; i++) stream.publish('transitions', (x) => ({ i: x }), i);
  stream.publish('stats', () => ({ type: 'stats' }), null);
  stream.flush();
  assert.equal(a.sent, [{ i: 0 }, { i: 1 }, { i: 2 }, { type: 'stats' }], 'stats are never sampled away');
  assert.is(stream.skippedEvents, 2);
  stream.tick(1234);
  assert.equal(a.sent.at(-1), { type: '@hubbub.skipped', at: 1234, skipped: { transitions: 2 } });
  stream.publish('transitions', (x) => ({ i: x }), 9);
  stream.flush();
  assert.equal(a.sent.at(-1), { i: 9 }, 'the budget is refilled');
  stream.close();
});

Stream('handled-message events have a budget of their own', () => {
  const stream = new DebugStream({ eventsPerSecond: 1, handledPerSecond: 2 });
  const a = new FakeSocket();
  stream.subscribe(asWs(a), ['lifecycle', 'events']);
  for (let i = 0; i < 3; i++) stream.publish('events', (x) => ({ ev: x }), i);
  for (let i = 0; i < 2; i++) stream.publish('lifecycle', (x) => ({ lc: x }), i);
  stream.flush();
  assert.equal(a.sent, [{ ev: 0 }, { ev: 1 }, { lc: 0 }]);
  stream.tick(1);
  assert.equal(a.sent.at(-1), { type: '@hubbub.skipped', at: 1, skipped: { events: 1, lifecycle: 1 } });
  stream.close();
});

Stream('drops a subscriber whose socket has too much unsent output (1013), and sends it nothing more', () => {
  const stream = new DebugStream({ maxBufferedBytes: 1000 });
  const slow = new FakeSocket();
  const fast = new FakeSocket();
  stream.subscribe(asWs(slow), ['lifecycle']);
  stream.subscribe(asWs(fast), ['lifecycle']);
  slow.bufferedAmount = 1001;
  stream.publish('lifecycle', (x) => ({ e: x }), 1);
  stream.flush();
  assert.equal(slow.closedWith?.[0], 1013);
  assert.equal(slow.sent, []);
  assert.equal(fast.sent, [{ e: 1 }]);
  assert.is(stream.droppedSubscribers, 1);
  assert.is(stream.subscribers, 1);
  stream.publish('lifecycle', (x) => ({ e: x }), 2);
  stream.flush();
  assert.equal(slow.sent, [], 'a dropped subscriber gets nothing');
  stream.close();
});

Stream('a queue never holds more than one second\'s budget', () => {
  const stream = new DebugStream({ handledPerSecond: 100 });
  const a = new FakeSocket();
  a.readyState = WebSocket.CONNECTING; // not writable: nothing leaves the queue
  stream.subscribe(asWs(a), ['events']);
  for (let i = 0; i < 10_000; i++) stream.publish('events', (x) => ({ i: x }), i);
  assert.is(stream.skippedEvents, 9_900);
  stream.close();
});

Stream('over a real socket, a subscriber that stops reading is dropped once its backlog passes the bound', async () => {
  const MAX = 256 * 1024;
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  const serverSide = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  await new Promise((resolve) => client.once('open', resolve));
  const ws = await serverSide;
  const stream = new DebugStream({ maxBufferedBytes: MAX, eventsPerSecond: 1_000_000 });
  stream.subscribe(ws, ['lifecycle']);
  // The client stops reading: the kernel's buffers fill, then ws's own.
  (client as unknown as { _socket: { pause(): void } })._socket.pause();
  const big = 'x'.repeat(64 * 1024);
  let highest = 0;
  try {
    // Bounded: 64 MiB at most, far beyond loopback's socket buffers.
    for (let i = 0; i < 1024 && stream.droppedSubscribers === 0; i++) {
      stream.publish('lifecycle', (n) => ({ n, big }), i);
      stream.flush();
      highest = Math.max(highest, ws.bufferedAmount);
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.is(stream.droppedSubscribers, 1, 'the slow subscriber was dropped');
    assert.ok(highest <= MAX + 64 * 1024 + 1024, `its backlog stayed bounded (${highest} bytes)`);
    const backlog = ws.bufferedAmount;
    for (let i = 0; i < 10; i++) stream.publish('lifecycle', (n) => ({ n, big }), i);
    stream.flush();
    assert.ok(ws.bufferedAmount <= backlog + 16, 'nothing more is queued for it');
    assert.ok(ws.readyState === WebSocket.CLOSING || ws.readyState === WebSocket.CLOSED, 'it is being closed');
  } finally {
    stream.close();
    client.terminate();
    ws.terminate();
    await new Promise((resolve) => wss.close(resolve));
  }
});

Stream.run();
