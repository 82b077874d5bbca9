// Heartbeat: a peer that never answers pings is closed and leaves the
// registry; a normal client (ws answers pings) stays across many intervals.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startBroker, waitForNoSessions, type TestBroker } from './helpers/broker.js';
import { TestClient } from './helpers/client.js';
import { maskedTextFrame, rawWebSocket } from './helpers/raw-socket.js';
import { once, withTimeout } from './helpers/wait.js';

const INTERVAL_MS = 200;
/** A silent peer goes within two intervals; this leaves room for a loaded machine. */
const DEAD_PEER_BOUND_MS = 10 * INTERVAL_MS;
const ROOM = 'beat';

const Heartbeat = suite<{ tb: TestBroker; watcher: TestClient }>('heartbeat', {} as { tb: TestBroker; watcher: TestClient });

Heartbeat.before(async (ctx) => {
  ctx.tb = await startBroker({ heartbeatIntervalMs: INTERVAL_MS });
  ctx.watcher = await TestClient.connect(ctx.tb.wsUrl, 'watcher');
  ctx.watcher.send({ op: 'join', room: ROOM });
  await ctx.watcher.nextOf('joined', { room: ROOM });
});
Heartbeat.after(async (ctx) => {
  await ctx.watcher.close();
  await waitForNoSessions(ctx.tb.broker);
  await ctx.tb.broker.close();
});

Heartbeat('a raw peer that ignores everything after the handshake is closed and leaves the registry', async (ctx) => {
  const { broker } = ctx.tb;
  const terminatedBefore = broker.chat.heartbeat.terminated;
  const started = Date.now();
  const socket = await rawWebSocket(`${ctx.tb.wsUrl}?name=mute`);
  const gone = once(socket, 'close', DEAD_PEER_BOUND_MS, 'the broker to drop the silent raw peer');
  socket.write(maskedTextFrame(JSON.stringify({ op: 'join', room: ROOM })));
  await ctx.watcher.nextOf('presence', { room: ROOM, user: 'mute', event: 'join' });
  assert.ok(broker.supervisor.findUser('mute'), 'registered while alive');
  await gone;
  await ctx.watcher.nextOf('presence', { room: ROOM, user: 'mute', event: 'leave' }, DEAD_PEER_BOUND_MS);
  assert.is(broker.supervisor.findUser('mute'), undefined, 'gone from the registry');
  assert.is(broker.chat.heartbeat.terminated, terminatedBefore + 1);
  assert.ok(Date.now() - started >= INTERVAL_MS * 0.5, 'not closed before the first ping could be answered');
});

Heartbeat('a ws client with autoPong off is terminated after it stops answering', async (ctx) => {
  const { broker } = ctx.tb;
  const mute = await TestClient.connect(ctx.tb.wsUrl, 'nopong', { autoPong: false });
  let pings = 0;
  mute.ws.on('ping', () => pings++);
  mute.send({ op: 'join', room: ROOM });
  await mute.nextOf('joined', { room: ROOM });
  const closed = await mute.closed(DEAD_PEER_BOUND_MS);
  assert.is(closed.code, 1006, 'terminated, not closed politely');
  assert.ok(pings >= 1, 'it was pinged before it was dropped');
  await ctx.watcher.nextOf('presence', { room: ROOM, user: 'nopong', event: 'leave' });
  assert.is(broker.supervisor.findUser('nopong'), undefined);
});

Heartbeat('a normal client answers pings and stays connected across several intervals', async (ctx) => {
  const PINGS = 5;
  const alive = await TestClient.connect(ctx.tb.wsUrl, 'alive');
  let pings = 0;
  const enough = new Promise<void>((resolve) => {
    alive.ws.on('ping', () => {
      if (++pings === PINGS) resolve();
    });
  });
  await withTimeout(enough, PINGS * DEAD_PEER_BOUND_MS, `${PINGS} pings`);
  assert.is(alive.ws.readyState, alive.ws.OPEN);
  alive.send({ op: 'ping', id: 'still' });
  await alive.nextOf('pong', { id: 'still' });
  assert.ok(ctx.tb.broker.supervisor.findUser('alive'), 'still registered');
  // The watcher, idle all along but answering pings, was never dropped either.
  assert.is(ctx.watcher.ws.readyState, ctx.watcher.ws.OPEN);
  await alive.close();
});

Heartbeat.run();
