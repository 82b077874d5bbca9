// `hubbub chat` in a pseudo-terminal through trouble: an outage of several
// failed retries reads as one "reconnecting…" line and one "back online" line
// (with the messages caught up, in words, no close code), and a resized
// window shows one status bar, at the new size, with nothing stale left.
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Broker } from '../src/broker.js';
import { connect, type HubbubClient } from '../src/client/index.js';
import { createLogger } from '../src/log.js';
import { until } from './helpers/client-waits.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { TerminalSession } from './helpers/terminal.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const test = suite('terminal chat, calm');
let broker: Broker;
let proxy: TcpProxy;
let bob: HubbubClient;
let term: TerminalSession;

const STATUS = /hubbub · alice · #lobby · (connected|reconnecting)/;
const messageRegion = (rows: string[]): string[] => rows.slice(0, term.rows - 2);

test.before(async () => {
  broker = await Broker.start({ port: 0, host: '127.0.0.1', logger: createLogger('silent') });
  proxy = await TcpProxy.start([broker.port]);
  bob = await connect(broker.url, { name: 'bob' });
  await bob.join('lobby');
  // Alice goes through the proxy, so the test can cut her off while the broker (and its history) stays.
  term = TerminalSession.start([process.execPath, CLI, 'chat', `ws://127.0.0.1:${proxy.port}`, '--room', 'lobby', '--name', 'alice'], { columns: 100, rows: 30 });
});

test.after(async () => {
  await term?.kill();
  bob?.close();
  await proxy?.close();
  await broker?.close();
});

test('an outage with failed retries: one reconnecting line, one back-online line with the count, no codes', async () => {
  await term.waitForText('joined #lobby');
  await bob.send('lobby', 'before the outage');
  await term.waitForText('bob: before the outage');
  // Cut off for 2.5 s: the client's retries (0.25, 0.5, 1 s... apart) are refused meanwhile.
  proxy.partition('alice', 2500);
  await term.waitFor((r) => /reconnecting \(try [3-9]/.test(r[term.rows - 2]), 'the status bar at the third failed try', 10_000);
  for (const text of ['missed one', 'missed two', 'missed three']) await bob.send('lobby', text);
  const rows = await term.waitFor((r) => r.some((row) => row.includes('bob: missed three')), 'the missed messages replayed', 15_000);
  const region = messageRegion(rows);
  const lines = (text: string): string[] => region.filter((r) => r.includes(text));
  assert.is(lines('reconnecting…').length, 1, `one reconnecting line:\n${region.join('\n')}`);
  assert.match(lines('reconnecting…')[0], /connection lost; reconnecting…/);
  assert.equal(lines('back online').map((r) => r.replace(/^\d\d:\d\d \* /, '')), ['back online, 3 messages caught up']);
  assert.is(lines('joined #lobby').length, 1, 'the rejoin does not list the room again');
  const back = region.findIndex((r) => r.includes('back online'));
  assert.ok(region.findIndex((r) => r.includes('bob: missed one')) > back, 'the caught-up messages follow the line');
  assert.not.ok(region.some((r) => /\b(1001|1006)\b|could not connect/.test(r)), 'no close code, no connect error');
});

test('a resize redraws the status bar at the new width, with no stale copy', async () => {
  for (const [columns, rows] of [[120, 36], [60, 20]]) {
    await term.resize(columns, rows);
    const screen = await term.waitFor((r) => STATUS.test(r[rows - 2] ?? '') && (r[rows - 1] ?? '').startsWith('#lobby>'),
      `the status bar and the input line at ${columns}x${rows}`);
    const statusRows = screen.map((r, i) => [r, i] as const).filter(([r]) => /hubbub ·/.test(r)).map(([, i]) => i);
    assert.equal(statusRows, [rows - 2], `one status bar, on row ${rows - 1} of ${rows}:\n${screen.join('\n')}`);
    assert.ok(screen.every((r) => r.length <= columns), 'nothing wider than the window');
    assert.ok(screen.some((r) => r.includes('bob: missed three')), 'the latest messages are drawn again');
  }
  // Still works: what is typed goes out.
  await term.type('after the resize');
  await term.press('Enter');
  await until(async () => (await term.screen()).some((r) => r.includes('alice: after the resize')), 10_000, () => 'the message sent after the resize');
});

test.run();
