// With --redis the history bounds hold in Redis: a room's stream keeps at most
// its count and bytes (exactly, trimmed in the publish script), every room
// together at most the budget (oldest first, whichever room), and an idle
// room's keys expire after the retention. The attack is the memory test's (one
// client cycling rooms with the largest messages), against a real redis-server,
// with a bystander measuring its pings. Before: each stream kept 100 messages
// (MAXLEN ~) whatever their size and no total bound: the first rooms kept everything.
import { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MESSAGE_OVERHEAD_BYTES } from '../src/backplane/room-history.js';
import type { RedisBackplane } from '../src/backplane/redis-backplane.js';
import { attackBound, Bystander } from './helpers/bystander.js';
import { startBroker, type TestBroker } from './helpers/broker.js';
import { TestClient } from './helpers/client.js';
import { BIG_TEXT_BYTES, floodRooms } from './helpers/history-flood.js';
import { redisBackplane, RedisServer } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

interface Ctx {
  redis: RedisServer;
  tb: TestBroker;
  r: Redis;
}

const BUDGET = 8 * 1024 * 1024;
const ROOM_BYTES = 1024 * 1024;
const Budget = suite<Ctx>('redis history budget', {} as Ctx);

Budget.before(async (ctx) => {
  ctx.redis = await RedisServer.start();
  ctx.r = new Redis(ctx.redis.url, { lazyConnect: false });
  // Not charged by size (--frame-charge-bytes): the budget is for what gets through anyway (see history-budget.test.ts).
  ctx.tb = await startBroker({
    frameChargeBytes: 0,
    backplane: redisBackplane(ctx.redis.url, { historyRoomBytes: ROOM_BYTES, historyBudgetBytes: BUDGET, historyRetentionMs: 60_000 }),
  });
});

Budget.after(async (ctx) => {
  await ctx.tb.broker.close();
  ctx.r.disconnect();
  await ctx.redis.stop();
});

/** What a room's stream holds: entries and their charge (event + overhead), read from Redis itself. */
async function stream(r: Redis, room: string): Promise<{ count: number; bytes: number }> {
  const entries = await r.xrange(`hubbub:log:${room}`, '-', '+');
  return { count: entries.length, bytes: entries.reduce((sum, [, fields]) => sum + Buffer.byteLength(fields[1]) + MESSAGE_OVERHEAD_BYTES, 0) };
}

Budget('one client cycling rooms: Redis holds at most the budget, each room at most its bound, the oldest rooms emptied; a bystander is not held up', async ({ tb, r }) => {
  const by = await Bystander.connect(tb.wsUrl);
  const quiet = await by.quiet();
  const attacker = await TestClient.connect(tb.wsUrl, 'filler');
  by.start();
  let flood = { rooms: 0, sentBytes: 0 };
  let under = { p99: 0, count: 0, max: 0 };
  try {
    flood = await floodRooms(attacker, { rooms: 150, perRoom: 100, timeMs: 10_000 });
  } finally {
    under = await by.stop(); // also when the flood failed: the bystander must not outlive the broker
  }
  assert.ok(flood.sentBytes > 4 * BUDGET, `the attack sent ${flood.sentBytes} bytes over ${flood.rooms} rooms, more than 4x the budget`);

  let total = 0;
  const last = await stream(r, `flood-${flood.rooms - 1}`);
  for (let i = 0; i < flood.rooms; i++) {
    const s = await stream(r, `flood-${i}`);
    assert.ok(s.bytes <= ROOM_BYTES, `flood-${i} holds ${s.bytes} bytes, bound ${ROOM_BYTES}`);
    total += s.bytes;
  }
  assert.ok(total <= BUDGET, `Redis holds ${total} bytes of history, budget ${BUDGET}`);
  assert.ok(total > BUDGET / 2, `the budget is used (${total})`);
  assert.is((await stream(r, 'flood-0')).count, 0, 'the oldest room went first');
  assert.ok(last.count > 0 && last.count * BIG_TEXT_BYTES <= ROOM_BYTES, `the newest room keeps ${last.count}`);
  assert.ok(Number(await r.get('hubbub:history:bytes')) >= total, 'the budget counter covers what is stored');

  // /metrics reads the same numbers from Redis (every heartbeat).
  const stats = (tb.broker.backplane as RedisBackplane).historyStats();
  await waitFor(() => stats.evictions.budget > 0 && stats.bytes > 0, 5000, 'history stats read from Redis');
  assert.ok(stats.bytes <= BUDGET);
  assert.ok(stats.evictions.roomBytes > 0);

  const bound = attackBound(quiet);
  assert.ok(under.p99 < bound, `bystander p99 ${under.p99.toFixed(1)} ms under attack vs ${quiet.toFixed(1)} ms quiet (bound ${bound.toFixed(1)})`);
  console.log(`  redis history budget: ${flood.rooms} rooms, ${(flood.sentBytes / 1e6).toFixed(0)} MB sent; Redis holds ${(total / 1e6).toFixed(1)} MB (budget ${(BUDGET / 1e6).toFixed(1)}); bystander p99 ${quiet.toFixed(1)} ms quiet, ${under.p99.toFixed(1)} ms under attack`);

  await Promise.all([attacker.close(), by.close()]);
});

Budget('an idle room\'s keys expire after the retention', async ({ redis, r }) => {
  const tb = await startBroker({ backplane: redisBackplane(redis.url, { historyRetentionMs: 300 }) });
  try {
    const c = await TestClient.connect(tb.wsUrl, 'visitor');
    c.send({ op: 'join', room: 'brief' });
    await c.nextOf('joined', { room: 'brief' });
    c.send({ op: 'send', room: 'brief', text: 'hello', id: 's' });
    await c.nextOf('ack', { id: 's' });
    assert.is(await r.exists('hubbub:log:brief', 'hubbub:seq:brief', 'hubbub:hbytes:brief'), 3);
    c.send({ op: 'leave', room: 'brief' });
    await c.nextOf('left', { room: 'brief' });
    // No member anywhere, so no node refreshes the keys. Polling Redis: an expiry sends no event here.
    // Redis's own TTL times it; the poll's time-out only guards keys that never expire.
    await waitFor(async () => (await r.exists('hubbub:log:brief', 'hubbub:seq:brief', 'hubbub:hbytes:brief')) === 0, 30_000, 'the idle room\'s keys to expire (retention 300 ms)', 50);
    await c.close();
  } finally {
    await tb.broker.close();
  }
});

Budget.run();
