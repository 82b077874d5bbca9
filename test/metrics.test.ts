// Metrics at GET /metrics (Prometheus text, prom-client): connections, actors
// by state, messages and bytes in and out, run-queue length, slice durations,
// closes by code, rate-limit and slow-consumer events, refused upgrades. Each
// number is driven by real traffic and read back from the endpoint.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type WebSocket from 'ws';
import { RateLimit } from '../src/actors/rate-limit.js';
import { startBroker, waitForNoSessions, type TestBroker } from './helpers/broker.js';
import { TestClient, closeAll } from './helpers/client.js';
import { httpRequest, metricSamples } from './helpers/http.js';
import { upgradeStatus } from './helpers/upgrade.js';
import { waitFor } from './helpers/wait.js';

/** "name{a="x",b="y"}" -> value, for every sample line. */
async function scrape(tb: TestBroker): Promise<Map<string, number>> {
  const reply = await httpRequest(`${tb.url}metrics`);
  assert.is(reply.status, 200);
  assert.match(String(reply.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return metricSamples(reply.body);
}

function value(samples: Map<string, number>, key: string): number {
  const v = samples.get(key);
  assert.ok(v !== undefined, `/metrics has ${key}; it has: ${[...samples.keys()].filter((k) => k.startsWith(key.split('{')[0])).join(', ') || 'nothing like it'}`);
  return v;
}

const Metrics = suite<{ tb: TestBroker; clock: { t: number } }>('metrics', {} as { tb: TestBroker; clock: { t: number } });

Metrics.before(async (ctx) => {
  ctx.tb = await startBroker({ maxOutboxBytes: 256 * 1024, rateLimit: 0 });
  ctx.clock = { t: 0 };
  ctx.tb.broker.env.rateLimit = new RateLimit(1000, 3, () => ctx.clock.t);
});
// Each case starts from an empty broker (a closed client's actor goes after its close handshake).
Metrics.before.each(async (ctx) => {
  await waitForNoSessions(ctx.tb.broker);
});
Metrics.after(async (ctx) => {
  await ctx.tb.broker.close();
});

Metrics('connections, actors by state, messages and bytes, run queue, slices', async ({ tb, clock }) => {
  const clients = [await TestClient.connect(tb.wsUrl, 'm1'), await TestClient.connect(tb.wsUrl, 'm2')];
  try {
    await counts(tb, clock, clients);
  } finally {
    await closeAll(clients);
  }
});

async function counts(tb: TestBroker, clock: { t: number }, clients: TestClient[]): Promise<void> {
  const before = await scrape(tb);
  assert.is(value(before, 'hubbub_connections'), 2);
  assert.is(value(before, 'hubbub_actors_live'), 3, 'two connections and the supervisor');
  assert.is(value(before, 'hubbub_actors{state="open",status="idle"}'), 2);
  assert.is(value(before, 'hubbub_actors{state="connecting",status="idle"}'), 0);
  assert.is(value(before, 'hubbub_run_queue_length'), 0);
  for (const c of clients) {
    clock.t += 1000;
    c.send({ op: 'join', room: 'gauges' });
    await c.nextOf('joined', { room: 'gauges' });
  }
  const text = 'x'.repeat(100);
  for (let i = 0; i < 3; i++) {
    clock.t += 1000;
    clients[0].send({ op: 'send', room: 'gauges', text, id: i });
    await clients[0].nextOf('ack', { id: i });
    await clients[1].nextOf('message', { seq: i + 1 });
  }
  const after = await scrape(tb);
  const framesIn = value(after, 'hubbub_messages_in_total') - value(before, 'hubbub_messages_in_total');
  assert.is(framesIn, 5, 'two joins and three sends');
  // Out: joined x2, presence join x1, message x3 x2 members, ack x3.
  const eventsOut = value(after, 'hubbub_messages_out_total') - value(before, 'hubbub_messages_out_total');
  assert.is(eventsOut, 2 + 1 + 6 + 3);
  assert.ok(value(after, 'hubbub_bytes_in_total') - value(before, 'hubbub_bytes_in_total') > 3 * text.length);
  assert.ok(value(after, 'hubbub_bytes_out_total') - value(before, 'hubbub_bytes_out_total') > 6 * text.length);
  assert.ok(value(after, 'hubbub_slice_duration_seconds_count') > value(before, 'hubbub_slice_duration_seconds_count'));
  assert.ok(value(after, 'hubbub_slice_duration_seconds_bucket{le="+Inf"}') > 0);
  assert.ok(value(after, 'hubbub_actor_messages_total') > 0);
  assert.ok(value(after, 'hubbub_process_resident_memory_bytes') > 0, 'process metrics too');
}

Metrics('closes by code, slow consumers, rate-limit events, refused upgrades', async ({ tb, clock }) => {
  const before = await scrape(tb);
  const get = (s: Map<string, number>, k: string): number => s.get(k) ?? 0;

  // 1003: a binary frame.
  const binary = await TestClient.connect(tb.wsUrl, 'binary');
  binary.send(Buffer.from([1, 2, 3]));
  assert.is((await binary.closed()).code, 1003);

  // Shaping: a flood past the rate limit (rate 1000/s, burst 3) is held, not closed.
  clock.t += 10_000;
  const rl = tb.broker.env.rateLimit!;
  const pauses = rl.pauses;
  const flood = await TestClient.connect(tb.wsUrl, 'flood');
  for (let i = 0; i < 10; i++) flood.send({ op: 'ping', id: i });
  for (let i = 0; i < 3; i++) await flood.nextOf('pong', { id: i });
  await waitFor(() => rl.pauses > pauses, 3000, 'the flood to be paused');
  for (let i = 3; i < 10; i++) {
    clock.t += 1; // one token
    await flood.nextOf('pong', { id: i });
  }
  await flood.close();

  // 1013: a member that stops reading while the room is busy (bound: 256 KiB here).
  clock.t += 10_000;
  const talker = await TestClient.connect(tb.wsUrl, 'talker');
  const sleeper = await TestClient.connect(tb.wsUrl, 'sleeper');
  for (const c of [talker, sleeper]) {
    clock.t += 1000;
    c.send({ op: 'join', room: 'busy' });
    await c.nextOf('joined', { room: 'busy' });
  }
  (sleeper.ws as WebSocket & { _socket: { pause(): void } })._socket.pause();
  const big = 'z'.repeat(16_000); // the longest text allowed is 16,384 characters
  for (let i = 0; i < 1600 && tb.broker.chat.counters.slowConsumers === 0; i++) {
    clock.t += 1000;
    talker.send({ op: 'send', room: 'busy', text: big, id: i });
    await talker.nextOf('ack', { id: i });
  }
  assert.is(tb.broker.chat.counters.slowConsumers, 1, 'the sleeper passed the bound');
  // A peer that reads nothing never answers the close: ws drops it after closeTimeout.
  sleeper.ws.terminate();

  // 403 and 429-free: one refused origin.
  assert.is((await upgradeStatus(tb.wsUrl, { headers: { Origin: 'http://evil.example' } })).status, 403);

  await talker.close();
  await waitForNoSessions(tb.broker);
  const after = await scrape(tb);
  const delta = (k: string): number => get(after, k) - get(before, k);
  assert.is(delta('hubbub_closes_total{code="1003"}'), 1);
  assert.is(delta('hubbub_close_frames_sent_total{code="1003"}'), 1);
  assert.is(delta('hubbub_close_frames_sent_total{code="1013"}'), 1);
  assert.is(delta('hubbub_slow_consumers_total'), 1);
  assert.is(delta('hubbub_rate_limited_total'), 7, 'the seven frames past the burst waited');
  assert.ok(delta('hubbub_rate_limit_pauses_total') >= 1);
  assert.is(delta('hubbub_upgrades_refused_total{reason="origin"}'), 1);
  assert.is(get(after, 'hubbub_connections'), 0);
});

Metrics('the hot path never calls prom-client: only the metrics module imports it', () => {
  const dir = fileURLToPath(new URL('../src/', import.meta.url));
  const importers: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(`${d}${e.name}/`);
      else if (e.name.endsWith('.js') && /from ['"]prom-client['"]/.test(readFileSync(`${d}${e.name}`, 'utf8'))) {
        importers.push(`${d}${e.name}`.slice(dir.length));
      }
    }
  };
  walk(dir);
  assert.equal(importers, ['transport/metrics.js'], 'compiled modules that load prom-client');
});

Metrics.run();
