// A text that is too long is refused as a sentence, not a disconnect: the
// broker answers `too_large` (the limit in the words) and the connection goes
// on; the client library refuses it before sending, with the same code and
// words; the terminal client prints them. Only a frame over the frame limit
// still closes 1009.
import { spawn } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, HubbubClientError } from '../src/client/index.js';
import { MAX_FRAME_BYTES, MAX_TEXT_LENGTH } from '../src/protocol/limits.js';
import { CLI_PATH, startBroker, type TestBroker } from './helpers/broker.js';
import { TestClient } from './helpers/client.js';

const Size = suite<{ tb: TestBroker }>('message size', { tb: null as unknown as TestBroker });

Size.before(async (ctx) => {
  ctx.tb = await startBroker();
});
Size.after(async (ctx) => {
  await ctx.tb.broker.close();
});

Size('over the text limit: error too_large with the limit, nothing delivered, the connection goes on', async ({ tb }) => {
  const [ann, ben] = [await TestClient.connect(tb.wsUrl, 'ann'), await TestClient.connect(tb.wsUrl, 'ben')];
  for (const c of [ann, ben]) {
    c.send({ op: 'join', room: 'size', id: 'j' });
    await c.nextOf('joined', { room: 'size' });
  }
  ann.send({ op: 'send', room: 'size', text: 'x'.repeat(MAX_TEXT_LENGTH + 1), id: 'big' });
  const err = await ann.nextOf('error', { ref: 'big' });
  assert.is(err.code, 'too_large');
  assert.match(String(err.message), /16,385 characters; at most 16,384/);
  ann.send({ op: 'dm', to: 'ben', text: 'y'.repeat(20_000), id: 'bigdm' });
  assert.is((await ann.nextOf('error', { ref: 'bigdm' })).code, 'too_large');
  ann.send({ op: 'send', room: 'size', text: 'z'.repeat(MAX_TEXT_LENGTH), id: 'max' });
  await ann.nextOf('ack', { id: 'max' });
  const got = await ben.nextOf('message', { room: 'size' });
  assert.is((got.text as string).length, MAX_TEXT_LENGTH, 'the longest allowed text goes through');
  assert.is(ben.received.filter((f) => f.type === 'message' || f.type === 'dm').length, 1, 'nothing refused was delivered');
  await Promise.all([ann.close(), ben.close()]);
});

Size('over the frame limit the broker still closes 1009', async ({ tb }) => {
  const c = await TestClient.connect(tb.wsUrl, 'cy');
  c.send({ op: 'send', room: 'size', text: 'x'.repeat(MAX_FRAME_BYTES) });
  assert.is((await c.closed()).code, 1009);
});

Size('the client library refuses before sending, with the broker\'s code and words', async ({ tb }) => {
  const client = await connect(tb.url, { name: 'dee' });
  try {
    await client.join('size');
    let caught: unknown = null;
    await client.send('size', 'x'.repeat(70_000)).catch((e: unknown) => { caught = e; });
    assert.ok(caught instanceof HubbubClientError);
    assert.is((caught as HubbubClientError).code, 'too_large');
    assert.match((caught as Error).message, /70,000 characters; at most 16,384/);
    assert.is(client.state, 'open', 'still connected');
    assert.is(typeof (await client.send('size', 'short')).seq, 'number');
  } finally {
    client.close();
  }
});

Size('the terminal client says how long is allowed and stays connected', async ({ tb }) => {
  const child = spawn(process.execPath, [CLI_PATH, 'chat', tb.url, '--name', 'eve', '--room', 'size'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const seen = (re: RegExp): Promise<void> => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`never printed ${re}: ${out}`)), 10_000);
    const check = (): void => {
      if (!re.test(out)) return;
      clearTimeout(timer);
      child.stdout.off('data', check);
      resolve();
    };
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); check(); });
    check();
  });
  try {
    await seen(/connected as eve/);
    child.stdin.write(`${'w'.repeat(20_000)}\n`);
    await seen(/not sent: the text has 20,000 characters; at most 16,384 are allowed/);
    child.stdin.write('still here\n');
    await seen(/eve.*still here/);
  } finally {
    child.stdin.end();
    child.kill();
  }
});

Size.run();
