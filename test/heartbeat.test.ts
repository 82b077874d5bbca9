// Heartbeat: a peer that never answers pings is closed and leaves the
// registry; a normal client (ws answers pings) stays across many intervals.
// Pongs that arrive alone take a fast path past ws's parser (HubSocket's
// header): a peer answering with bare pongs stays, and bytes that merely look
// like a pong inside another frame are still parsed as that frame.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startBroker, waitForNoSessions, type TestBroker } from './helpers/broker.js';
import { TestClient } from './helpers/client.js';
import type { HubSocket } from '../src/transport/hub-socket.js';
import { HeartbeatWheel } from '../src/transport/heartbeat.js';
import { HEARTBEAT_PINGS_PER_TURN } from '../src/constants.js';
import { once, waitFor, withTimeout } from './helpers/wait.js';
import { turnsBeforeDrop, visitsUntil, type WheelReading } from './helpers/heartbeat-turns.js';
import { clientFrame, OP_PING, OP_PONG, OP_TEXT, RawClient, textFrame, type ServerFrame } from './helpers/ws-frames.js';

const INTERVAL_MS = 200;
/**
 * Only guards a hang: how soon a silent peer goes is judged in turns of the
 * broker's heartbeat wheel (helpers/heartbeat-turns.ts), which a loaded
 * machine makes late but not more numerous.
 */
const HANG_MS = 30_000;

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

/** The wheel's clock and count, read in-process. */
const wheel = (tb: TestBroker): WheelReading => {
  const w = tb.broker.chat.heartbeat;
  return { visits: w.visits, buckets: w.buckets, terminated: w.terminated };
};

Heartbeat('a raw peer that ignores everything after the handshake is closed within two turns and leaves the registry', async (ctx) => {
  const { broker } = ctx.tb;
  const terminatedBefore = broker.chat.heartbeat.terminated;
  const raw = await RawClient.open(`${ctx.tb.wsUrl}?name=mute`, undefined, 3000, true);
  const gone = once(raw.socket, 'close', HANG_MS, 'the broker to drop the silent raw peer');
  raw.write(textFrame(JSON.stringify({ op: 'join', room: ROOM })));
  await ctx.watcher.nextOf('presence', { room: ROOM, user: 'mute', event: 'join' });
  // Its last message, the join, is in: from here on it is silent.
  const silentAt = broker.chat.heartbeat.visits;
  assert.ok(broker.supervisor.findUser('mute'), 'registered while alive');
  const { lastBefore } = await visitsUntil(() => wheel(ctx.tb), (r) => r.terminated > terminatedBefore, HANG_MS, 'the silent raw peer to be dropped');
  await gone;
  await ctx.watcher.nextOf('presence', { room: ROOM, user: 'mute', event: 'leave' }, HANG_MS);
  assert.is(broker.supervisor.findUser('mute'), undefined, 'gone from the registry');
  assert.is(broker.chat.heartbeat.terminated, terminatedBefore + 1);
  // Dropped for not answering, so only after a ping it could have answered; and in time, counted in the wheel's turns.
  assert.ok(raw.frames.some((f) => f.opcode === OP_PING), 'pinged before it was dropped');
  const turns = turnsBeforeDrop(silentAt, lastBefore, broker.chat.heartbeat.buckets);
  assert.ok(turns < 2, `dropped within two turns of the wheel (still there ${turns.toFixed(2)} turns after its last message)`);
});

Heartbeat('a ws client with autoPong off is terminated within two turns after it stops answering', async (ctx) => {
  const { broker } = ctx.tb;
  const terminatedBefore = broker.chat.heartbeat.terminated;
  const mute = await TestClient.connect(ctx.tb.wsUrl, 'nopong', { autoPong: false });
  let pings = 0;
  mute.ws.on('ping', () => pings++);
  mute.send({ op: 'join', room: ROOM });
  await mute.nextOf('joined', { room: ROOM });
  const silentAt = broker.chat.heartbeat.visits; // the join was its last message
  const { lastBefore } = await visitsUntil(() => wheel(ctx.tb), (r) => r.terminated > terminatedBefore, HANG_MS, 'nopong to be dropped');
  const closed = await mute.closed(HANG_MS);
  assert.is(closed.code, 1006, 'terminated, not closed politely');
  assert.ok(pings >= 1, 'it was pinged before it was dropped');
  const turns = turnsBeforeDrop(silentAt, lastBefore, broker.chat.heartbeat.buckets);
  assert.ok(turns < 2, `dropped within two turns of the wheel (still there ${turns.toFixed(2)} turns after its last message)`);
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
  await withTimeout(enough, HANG_MS, `${PINGS} pings`);
  assert.is(alive.ws.readyState, alive.ws.OPEN);
  alive.send({ op: 'ping', id: 'still' });
  await alive.nextOf('pong', { id: 'still' });
  assert.ok(ctx.tb.broker.supervisor.findUser('alive'), 'still registered');
  // The watcher, idle all along but answering pings, was never dropped either.
  assert.is(ctx.watcher.ws.readyState, ctx.watcher.ws.OPEN);
  await alive.close();
});

/** The server-side socket of a connected user (in-process broker). */
async function serverSocket(tb: TestBroker, name: string): Promise<HubSocket> {
  await waitFor(() => tb.broker.supervisor.findUser(name) !== undefined, 3000, `${name} to register`);
  return tb.broker.supervisor.findUser(name)!.peer as HubSocket;
}

/** Waits for the reply that carries op id `id`, and returns it. */
async function reply(client: RawClient, id: string): Promise<{ type: string }> {
  const find = () => client.events().find((e) => e.id === id);
  await client.until(() => find() !== undefined, 3000, `the reply to ${id}`);
  return find()!;
}

// Its own broker, whose wheel never turns during a test: the test sends each ping, so one pong at a time is in flight.
const FastPong = suite<{ tb: TestBroker }>('heartbeat: pong fast path', {} as { tb: TestBroker });
FastPong.before(async (ctx) => {
  ctx.tb = await startBroker({ heartbeatIntervalMs: 600_000 });
});
FastPong.after(async (ctx) => {
  await waitForNoSessions(ctx.tb.broker);
  await ctx.tb.broker.close();
});

FastPong('lone pongs to the heartbeat\'s pings skip ws\'s parser; a pong sharing a chunk with a message does not', async (ctx) => {
  // RawClient answers each ping with a masked pong echoing its payload: 6 bytes for an empty ping.
  const client = await RawClient.open(`${ctx.tb.wsUrl}?name=bare`);
  const pings = (): ServerFrame[] => client.frames.filter((f) => f.opcode === OP_PING);
  try {
    const peer = await serverSocket(ctx.tb, 'bare');
    let parsedPongs = 0;
    peer.on('pong', () => parsedPongs++);
    for (let i = 1; i <= 3; i++) {
      peer.alive = false;
      peer.sendPing();
      await client.until(() => pings().length === i, 3000, `ping ${i}`);
      assert.is(pings()[i - 1].payload.length, 0, 'the heartbeat\'s ping carries no payload');
      await waitFor(() => peer.alive, 3000, `pong ${i} to mark the peer alive`);
    }
    assert.is(parsedPongs, 0, 'every lone pong was taken before ws\'s parser');
    client.write(Buffer.concat([clientFrame({ opcode: OP_PONG }), textFrame(JSON.stringify({ op: 'ping', id: 'glued' }))]));
    assert.is((await reply(client, 'glued')).type, 'pong', 'the message after the pong arrived');
    assert.is(parsedPongs, 1, 'the glued pong was parsed by ws');
  } finally {
    client.destroy();
  }
});

FastPong('bytes that look like a pong in the middle of a frame are parsed as part of that frame', async (ctx) => {
  const client = await RawClient.open(`${ctx.tb.wsUrl}?name=split`);
  try {
    const receiver = (await serverSocket(ctx.tb, 'split') as unknown as { _receiver: { _state: number; _bufferedBytes: number } })._receiver;
    const text = JSON.stringify({ op: 'ping', id: 'mid' });
    // A mask that puts 0x8A 0x80 (a pong's first two bytes) at the start of the payload on the wire.
    const mask = Buffer.from([text.charCodeAt(0) ^ 0x8a, text.charCodeAt(1) ^ 0x80, 7, 9]);
    const frame = clientFrame({ opcode: OP_TEXT, payload: Buffer.from(text), mask });
    assert.equal([...frame.subarray(6, 8)], [0x8a, 0x80]);
    client.write(frame.subarray(0, 6)); // header and mask: ws now waits for the payload
    await waitFor(() => receiver._state !== 0, 3000, 'ws to read the frame header');
    client.write(frame.subarray(6, 12)); // six payload bytes that start like a pong, alone in their chunk
    await waitFor(() => receiver._bufferedBytes === 6, 3000, 'ws to hold the six payload bytes');
    client.write(frame.subarray(12));
    assert.is((await reply(client, 'mid')).type, 'pong', 'the whole frame was parsed as the op it is');
  } finally {
    client.destroy();
  }
});

// The wheel alone, over stand-in sockets: a visit must let the event loop poll between its pings.
const Spread = suite('heartbeat: a visit spread over event-loop turns');

/** Pings 100 stand-in sockets through a one-bucket wheel; the event-loop turn of each ping. */
async function pingTurns(traffic: () => number): Promise<number[]> {
  const SOCKETS = 100;
  let turn = 0;
  let turning = true;
  const spin = (): void => {
    turn++;
    if (turning) setImmediate(spin);
  };
  setImmediate(spin);
  const turns: number[] = [];
  // One bucket, a tick every 10 ms: each tick visits all 100.
  const wheel = new HeartbeatWheel(10, 1, traffic);
  for (let i = 0; i < SOCKETS; i++) {
    const stand = { bucket: -1, alive: true, readyState: 1, sendPing: () => turns.push(turn), terminate: () => {} };
    wheel.add(stand as unknown as HubSocket);
  }
  try {
    await waitFor(() => turns.length >= SOCKETS, 10_000, 'the first visit to ping every socket');
  } finally {
    wheel.stop();
    turning = false;
  }
  return turns.slice(0, SOCKETS);
}

/** How many of the pings fell in each turn. */
function perTurn(turns: number[]): number[] {
  const n = new Map<number, number>();
  for (const t of turns) n.set(t, (n.get(t) ?? 0) + 1);
  return [...n.values()];
}

Spread('while clients send, a bucket of 100 is pinged a few sockets per turn, and every socket is pinged', async () => {
  let frames = 0;
  const counts = perTurn(await pingTurns(() => ++frames)); // a frame came in before every visit
  const most = Math.max(...counts);
  assert.ok(most <= HEARTBEAT_PINGS_PER_TURN, `at most ${HEARTBEAT_PINGS_PER_TURN} pings in one turn (saw ${most})`);
  assert.ok(counts.length >= Math.ceil(100 / HEARTBEAT_PINGS_PER_TURN), `spread over ${counts.length} turns`);
});

Spread('with no traffic since the last visit, the bucket goes in one turn', async () => {
  const counts = perTurn(await pingTurns(() => 0));
  assert.equal(counts, [100], 'all 100 pings in one turn');
});

Heartbeat.run();
FastPong.run();
Spread.run();
