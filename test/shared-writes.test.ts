// Shared multi-frame writes (src/transport/hub-socket.ts): when a slice leaves
// a socket several frames, they go out as one buffer, and the members of a
// room that got the same frames share that buffer (built once per flush).
// These tests check that every socket still gets exactly its own frames, in
// order, when neighbours in the flush have the same frames, the same number of
// different frames, or the same frames in batch mode.
//
// Layout: x is in rooms r1..r4 and writes 8 `send` ops in one TCP write (two
// per room, interleaved), so the broker reads them at once and handles them in
// one slice. Sockets are flushed in the order they first got output: r1's
// members (x among them), then r2's, r3's, r4's others. So the last of r2's
// members precedes the first of r3's, and r3's last precedes r4's first: same
// count of frames, different frames. r1 and r2 each have a batch-mode member
// beside plain ones with the same frames.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Broker } from '../src/broker.js';
import { startBroker } from './helpers/broker.js';
import { RawClient, textFrame } from './helpers/ws-frames.js';

const WAIT_MS = 5000;

interface Member {
  name: string;
  room: string;
  batch: boolean;
  client: RawClient;
  /** 'data' events on the socket once the room is ready, and how many frames each ended with. */
  chunks: number[];
}

const Shared = suite<{ broker?: Broker }>('shared-writes');

Shared.after.each(async (ctx) => {
  await ctx.broker?.close();
});

async function member(wsUrl: string, name: string, room: string, batch: boolean): Promise<Member> {
  const client = await RawClient.open(`${wsUrl}?name=${name}${batch ? '&batch=1' : ''}`);
  client.write(textFrame(JSON.stringify({ op: 'join', room })));
  await client.until(() => lines(client).some((e) => e.type === 'joined' && e.room === room), WAIT_MS, `${name}: joined ${room}`);
  return { name, room, batch, client, chunks: [] };
}

/** Every event received, a batch frame split into its lines. */
function lines(client: RawClient): { type: string; [k: string]: unknown }[] {
  return client.frames
    .filter((f) => f.opcode === 0x1)
    .flatMap((f) => f.payload.toString().split('\n').map((l) => JSON.parse(l) as { type: string }));
}

function texts(client: RawClient): string[] {
  return lines(client).filter((e) => e.type === 'message').map((e) => `${e.room as string}:${e.text as string}`);
}

Shared('members with the same, and with different, frames in one flush each get exactly theirs, in order', async (ctx) => {
  const { broker, wsUrl } = await startBroker({ rateLimit: 0 });
  ctx.broker = broker;
  const rooms = ['r1', 'r2', 'r3', 'r4'];
  const x = await RawClient.open(`${wsUrl}?name=x`);
  for (const room of rooms) {
    x.write(textFrame(JSON.stringify({ op: 'join', room })));
    await x.until(() => lines(x).some((e) => e.type === 'joined' && e.room === room), WAIT_MS, `x: joined ${room}`);
  }
  const members: Member[] = [];
  for (const room of rooms) {
    for (let i = 0; i < 3; i++) members.push(await member(wsUrl, `${room}p${i}`, room, false));
    if (room === 'r1' || room === 'r2') members.push(await member(wsUrl, `${room}b`, room, true));
  }
  // Presence from the joins above must be in before the chunks are counted. It is
  // coalesced per room (presence.ts): wait until every member has heard of its room's last joiner.
  for (const room of rooms) {
    const inRoom = members.filter((m) => m.room === room);
    const last = inRoom[inRoom.length - 1].name;
    for (const m of inRoom.slice(0, -1)) {
      await m.client.until(() => lines(m.client).some((e) => e.type === 'presence'
        && (e.user === last || (Array.isArray(e.joined) && e.joined.includes(last)))), WAIT_MS, `${m.name}: presence of ${last}`);
    }
  }
  const before = new Map(members.map((m) => [m, m.client.frames.length]));
  x.write(textFrame(JSON.stringify({ op: 'who', room: 'r4' })));
  await x.until(() => lines(x).some((e) => e.type === 'who'), WAIT_MS, 'x: who');
  for (const m of members) m.client.socket.on('data', () => m.chunks.push(m.client.frames.length));

  const ops = [1, 2].flatMap((k) => rooms.map((room) => textFrame(JSON.stringify({ op: 'send', room, text: `${room}-${k}` }))));
  x.write(Buffer.concat(ops)); // one TCP write: read at once, handled in one slice

  await x.until(() => texts(x).length === 8, WAIT_MS, 'x: its 8 messages');
  assert.equal(texts(x), ['r1:r1-1', 'r2:r2-1', 'r3:r3-1', 'r4:r4-1', 'r1:r1-2', 'r2:r2-2', 'r3:r3-2', 'r4:r4-2']);
  for (const m of members) {
    await m.client.until(() => texts(m.client).length >= 2, WAIT_MS, `${m.name}: its 2 messages`);
    assert.equal(texts(m.client), [`${m.room}:${m.room}-1`, `${m.room}:${m.room}-2`], `${m.name} gets its room's two messages, in order, and nothing else`);
    const frames = m.client.frames.length - before.get(m)!;
    assert.is(frames, m.batch ? 1 : 2, `${m.name}: ${m.batch ? 'one batch frame' : 'one frame per message'}`);
    // Both came in one write: the path under test was taken (not two slices of one frame each).
    assert.equal(m.chunks.length, 1, `${m.name}: both messages in one TCP read (chunks: ${m.chunks.join(',')})`);
  }
  x.destroy();
  for (const m of members) m.client.destroy();
});

Shared.run();
