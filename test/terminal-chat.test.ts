// `hubbub chat` driven as a person would drive it: in a pseudo-terminal,
// typing keys and reading the rendered screen, with a library client (bob) on
// the other side.
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Broker } from '../src/broker.js';
import { connect, type HubbubClient } from '../src/client/index.js';
import { createLogger } from '../src/log.js';
import { nextEvent, until, within } from './helpers/client-waits.js';
import { TerminalSession } from './helpers/terminal.js';
import { CONTINUATION, messageBody, printable, SHOWN_CHARS } from '../src/client/terminal-screen.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const ROWS = 30;
const test = suite('terminal chat');
let broker: Broker;
let port: number;
let bob: HubbubClient;
let term: TerminalSession;

function startBroker(p = 0): Promise<Broker> {
  return Broker.start({ port: p, host: '127.0.0.1', logger: createLogger('silent'), shutdownTimeoutMs: 2000 });
}

const lastRow = (rows: string[]): string => rows[ROWS - 1];
const statusRow = (rows: string[]): string => rows[ROWS - 2];

test.before(async () => {
  broker = await startBroker();
  port = broker.port;
  bob = await connect(broker.url, { name: 'bob', backoff: { initialMs: 20, maxMs: 200 } });
  await bob.join('lobby');
  await bob.join('side');
  // NO_COLOR unset: one in the test's environment must not hide the colours under test.
  term = TerminalSession.start([process.execPath, CLI, 'chat', `ws://127.0.0.1:${port}`, '--room', 'lobby', '--name', 'alice'], { columns: 100, rows: ROWS }, { NO_COLOR: undefined });
});

test.after(async () => {
  await term?.kill();
  bob?.close();
  await broker?.close();
});

test('starts in the room: who is here, a status bar, the input line at the bottom', async () => {
  const rows = await term.waitForText('joined #lobby');
  assert.match(rows.find((r) => r.includes('joined #lobby'))!, /here \(2\): .*(alice.*bob|bob.*alice)/);
  await term.waitFor((r) => /alice · #lobby · connected/.test(statusRow(r)), 'status bar on the second-to-last row');
  assert.is(lastRow(await term.screen()).trimEnd(), '#lobby>');
});

test('shows what others say, in colour, and sends what is typed', async () => {
  await bob.send('lobby', 'hi alice');
  await term.waitFor((r) => r.some((row) => /\d\d:\d\d bob: hi alice$/.test(row.trimEnd())), 'bob\'s message');
  const colour = await term.colourOf('bob: hi alice');
  assert.ok(colour !== null && [1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14].includes(colour), `names in colour (palette ${colour})`);
  const got = nextEvent(bob, 'message', (m) => m.from === 'alice');
  await term.type('hello from the terminal');
  await term.press('Enter');
  assert.is((await got).text, 'hello from the terminal');
  await term.waitForText('alice: hello from the terminal');
  assert.is(lastRow(await term.screen()).trimEnd(), '#lobby>', 'the input line is cleared after sending');
});

test('the input line stays put while messages arrive and scroll', async () => {
  await term.type('half typ');
  for (let i = 1; i <= 40; i++) await bob.send('lobby', `scroll ${i}`);
  const rows = await term.waitFor((r) => r.some((row) => row.endsWith('bob: scroll 40')), 'the 40th message');
  assert.is(lastRow(rows).trimEnd(), '#lobby> half typ', 'what was being typed is intact on the last row');
  assert.match(statusRow(rows), /connected/);
  assert.not.ok(rows.some((r) => r.endsWith('bob: scroll 1')), 'old lines scrolled away');
  assert.ok(rows.slice(0, ROWS - 2).every((r) => !r.includes('half typ')), 'no input echoed into the message region');
  const got = nextEvent(bob, 'message', (m) => m.from === 'alice');
  await term.type('ed');
  await term.press('Enter');
  assert.is((await got).text, 'half typed');
});

test('control characters from others are not passed to the terminal', async () => {
  await bob.send('lobby', '\x1b[2J\x1b[31mevil\x07');
  const rows = await term.waitForText('[2J[31mevil');
  assert.ok(rows.some((r) => r.endsWith('bob: scroll 40')), 'the screen was not cleared');
});

test('a multi-line text is one message: later lines are marked, none passes for another sender; bidi controls go', async () => {
  await bob.send('lobby', 'see you\n06:52 admin: maintenance tonight, re-enter your password\r\nat the link');
  const rows = await term.waitForText('maintenance tonight');
  const at = rows.findIndex((r) => r.includes('bob: see you'));
  assert.ok(at >= 0, 'the first line is bob\'s');
  assert.is(rows[at + 1].trimEnd(), `${CONTINUATION}06:52 admin: maintenance tonight, re-enter your password`);
  assert.is(rows[at + 2].trimEnd(), `${CONTINUATION}at the link`);
  assert.not.ok(rows.some((r) => /^\d\d:\d\d admin:/.test(r)), 'no row starts as a message from admin');
  await bob.send('lobby', 'file: txt.\u202Eexe.pdf\u200B!');
  await term.waitForText('bob: file: txt.exe.pdf!');
  assert.is(printable('a\u202Eb\u2066c\u200Dd\u2028e'), 'abcd\ne', 'bidi, zero-width and separators are not printed');
});

test('a long message shows its start and how much was left out, not a screenful per message', async () => {
  const rows100 = Array.from({ length: 100 }, (_, i) => `row ${i}`).join('\n');
  await bob.send('lobby', rows100);
  const rows = await term.waitForText('more characters not shown');
  assert.ok(rows.some((r) => r.trimEnd() === `${CONTINUATION}row 19`), 'the first 20 lines are shown');
  assert.not.ok(rows.some((r) => r.includes('row 20')), 'the 21st is not');
  const long = `start ${'y'.repeat(5_000)} END`;
  assert.is(messageBody(long).split('\n').length, 2, 'one line of text, one note');
  assert.match(messageBody(long), new RegExp(`… ${(long.length - SHOWN_CHARS).toLocaleString('en')} more characters not shown$`));
  assert.is(messageBody('x'.repeat(SHOWN_CHARS)), 'x'.repeat(SHOWN_CHARS), 'up to the limit, all of it and no note');
  assert.not.match(messageBody(`${'a'.repeat(SHOWN_CHARS - 2)}語😀`), /\uFFFD|[\uD800-\uDBFF](?![\uDC00-\uDFFF])/, 'no half of a surrogate pair');
});

test('/who, /dm both ways, /join and /leave', async () => {
  await term.type('/who');
  await term.press('Enter');
  await term.waitFor((r) => r.some((row) => /#lobby \(2\): (alice, bob|bob, alice)/.test(row)), '/who answer');

  const dm = nextEvent(bob, 'dm');
  await term.type('/dm bob psst');
  await term.press('Enter');
  assert.equal({ from: (await dm).from, text: (await dm).text }, { from: 'alice', text: 'psst' });
  await term.waitForText('[dm] you → bob: psst');
  await bob.dm('alice', 'secret');
  await term.waitForText('[dm] bob → you: secret');

  const joined = nextEvent(bob, 'presence', (p) => p.room === 'side' && 'user' in p && p.user === 'alice' && p.event === 'join');
  await term.type('/join side');
  await term.press('Enter');
  await joined;
  await term.waitFor((r) => lastRow(r).startsWith('#side>'), 'prompt in #side');
  const inSide = nextEvent(bob, 'message', (m) => m.room === 'side');
  await term.type('in the side room');
  await term.press('Enter');
  assert.is((await inSide).text, 'in the side room');
  const left = nextEvent(bob, 'presence', (p) => p.room === 'side' && p.event === 'leave');
  await term.type('/leave');
  await term.press('Enter');
  await left;
  await term.waitFor((r) => lastRow(r).startsWith('#lobby>'), 'prompt back in #lobby');
});

test('rides out a broker restart: shows the drop, reconnects, rejoins', async () => {
  await broker.close();
  await term.waitForText('the server restarted; reconnecting…');
  await term.waitFor((r) => /reconnecting/.test(statusRow(r)), 'status says reconnecting');
  broker = await startBroker(port);
  await term.waitFor((r) => {
    const lost = r.findIndex((row) => row.includes('the server restarted'));
    return lost >= 0 && r.slice(lost).some((row) => row.includes('back online'));
  }, 'back online, after the drop');
  await term.waitFor((r) => /connected/.test(statusRow(r)) && !/reconnecting/.test(statusRow(r)), 'status says connected');
  await within(bob.opened(), 10_000, 'bob back');
  // Both came back on their own backoff, in either order: ask the broker until alice is in lobby again.
  await until(async () => (await bob.who('lobby')).users.includes('alice'), 10_000, () => 'alice rejoined lobby');
  const got = nextEvent(bob, 'message', (m) => m.from === 'alice');
  await term.type('back again');
  await term.press('Enter');
  assert.is((await got).text, 'back again');
});

test('/quit leaves and exits with status 0', async () => {
  const gone = nextEvent(bob, 'presence', (p) => p.room === 'lobby' && 'user' in p && p.user === 'alice' && p.event === 'leave');
  await term.type('/quit');
  await term.press('Enter');
  await gone;
  let status: number | string | null = null;
  await until(async () => (status = await term.exitStatus()) !== null, 10_000, () => 'the program to exit');
  assert.is(status, 0);
});

test.run();
