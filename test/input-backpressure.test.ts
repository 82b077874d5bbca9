// Input backpressure: a connection's frames wait in its mailbox (1,024); past
// half of it the broker stops reading the socket, and what the client sends on
// waits in TCP. ws hands over the whole TCP chunk it is parsing before the pause
// takes effect, so a burst written in one go lands past the mailbox's capacity:
// those frames are kept and served in order, not refused. The client here
// writes raw frames, so a burst really is a few large TCP writes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { trieGet } from '../src/actors/hash-trie.js';
import { startBroker, waitForNoSessions, type TestBroker } from './helpers/broker.js';
import { waitFor } from './helpers/wait.js';
import { RawClient, textFrame } from './helpers/ws-frames.js';

interface Ctx {
  tb: TestBroker;
}

const test = suite<Ctx>('input backpressure', {} as Ctx);

test.before(async (ctx) => {
  // No rate limit: this is about the mailbox, not the shaper (rate-limit.test.ts).
  ctx.tb = await startBroker({ rateLimit: 0 });
});
test.after(async (ctx) => {
  await ctx.tb.broker.close();
});

test('a burst of 5,000 frames in one write (five mailboxes) is answered whole and in order, with no error', async (ctx) => {
  const client = await RawClient.open(`${ctx.tb.wsUrl}?name=burst`);
  const { session } = await client.welcome();
  const actor = trieGet(ctx.tb.broker.supervisor.state.sessions, session)!.actor;
  const n = 5000;
  const frames: Buffer[] = [];
  for (let i = 0; i < n; i++) frames.push(textFrame(JSON.stringify({ op: 'ping', id: String(i) })));
  client.write(Buffer.concat(frames)); // ~130 KB: a few TCP chunks of up to 64 KiB, each parsed whole
  const pongs = (): number => client.events().filter((e) => e.type === 'pong').length;
  await client.until(() => pongs() === n || client.events().some((e) => e.type === 'error'), 10_000, `${n} pongs`);
  const errors = client.events().filter((e) => e.type === 'error');
  assert.equal(errors, [], 'no frame refused');
  const ids = client.events().filter((e) => e.type === 'pong').map((e) => Number(e.id));
  assert.equal(ids, Array.from({ length: n }, (_, i) => i), 'every frame answered, in order');
  assert.is(actor.dropped, 0);
  // Drained: reading is back on and the mailbox's ring is released, however far the burst grew it.
  await waitFor(() => actor.mailbox.allocated === 0, 3000, 'the mailbox ring to be released');
  assert.is(actor.mailbox.size, 0);
  client.write(textFrame('{"op":"ping","id":"after"}'));
  await client.until(() => client.events().some((e) => e.id === 'after'), 3000, 'a pong after the burst');
  client.destroy();
  await waitForNoSessions(ctx.tb.broker);
});

test.run();
