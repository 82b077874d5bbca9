// The chat page in Chromium while another member floods its room with the
// largest messages the broker takes (~48 KB each, 400 of them: ~19 MB). What
// the page holds stays bounded (lines in the list, characters in the list,
// what it keeps in sessionStorage, whose quota the flood would overflow), a
// long message shows folded until asked, and the page goes on working for
// its user meanwhile and after: it sends, joins another room, and a reload
// shows the newest lines. Before: every line stayed in the list while its
// room was shown, every message rewrote the whole conversation into
// sessionStorage, and past the quota each write threw, which also stopped
// the page from joining a room.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { startBroker, type TestBroker } from './helpers/broker.js';
import { launchChromium } from './helpers/chromium.js';
import { TestClient } from './helpers/client.js';
import { BIG_TEXT } from './helpers/history-flood.js';

const WAIT = { timeout: 20_000 };
const FLOOD = 400;
/** The page's bounds (public/chat.js): lines per room, and characters of them. */
const MAX_LINES = 300;
const MAX_ROOM_CHARS = 1_000_000;
const test = suite('chat page under a flood of big messages');
let browser: Browser;
let tb: TestBroker;
let alice: Page;
let mallory: TestClient;
let bob: TestClient;
const pageErrors: string[] = [];

test.before(async () => {
  // No rate limit: the flood arrives as fast as the broker can carry it, the page's worst case.
  tb = await startBroker({ rateLimit: 0 });
  browser = await launchChromium();
  alice = await (await browser.newContext()).newPage();
  alice.on('pageerror', (err) => pageErrors.push(err.message));
  alice.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(msg.text());
  });
  await alice.goto(tb.url);
  await alice.fill('#name', 'alice');
  await alice.fill('#login-room', 'lobby');
  await alice.click('#login button');
  await alice.waitForSelector('#state[data-state="open"]', WAIT);
  await alice.waitForSelector('#members li:text-is("alice")', WAIT);
  mallory = await TestClient.connect(tb.wsUrl, 'mallory');
  bob = await TestClient.connect(tb.wsUrl, 'bob');
  for (const c of [mallory, bob]) {
    c.send({ op: 'join', room: 'lobby', id: 'j' });
    await c.nextOf('joined', { id: 'j' });
  }
});

test.after(async () => {
  await mallory?.close();
  await bob?.close();
  await browser?.close();
  await tb?.broker.close();
});

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

test('the flood is shown within bounds, folded, and the page keeps working', async () => {
  const window = 16;
  for (let i = 0; i < FLOOD; i++) {
    mallory.send({ op: 'send', room: 'lobby', text: `${i} ${BIG_TEXT}`, id: `f${i}` });
    if (i >= window) await mallory.nextOf('ack', { id: `f${i - window}` }, 30_000);
    mallory.received.length = 0;
    bob.received.length = 0;
  }
  mallory.send({ op: 'send', room: 'lobby', text: 'flood over', id: 'last' });
  await alice.waitForSelector('#messages li.msg .text:text-is("flood over")', { timeout: 60_000 });

  const shown = await alice.$eval('#messages', (l) => ({ lines: l.children.length, chars: (l.textContent ?? '').length }));
  assert.ok(shown.lines <= MAX_LINES, `the list keeps at most ${MAX_LINES} lines: ${shown.lines}`);
  assert.ok(shown.chars <= 200_000, `folded lines keep the list's text small: ${shown.chars} characters`);
  // Saves are coalesced (a few a second): the newest line is stored soon, not at once.
  await alice.waitForFunction(() => (sessionStorage.getItem('hubbub.chat.v1') ?? '').includes('flood over'), null, WAIT);
  const stored = await alice.evaluate(() => sessionStorage.getItem('hubbub.chat.v1') ?? '');
  assert.ok(stored.length <= 2 * MAX_ROOM_CHARS, `what is stored is bounded: ${stored.length} characters`);

  // A long message shows its start, and all of it when asked.
  const folded = alice.locator('#messages li.msg').filter({ hasText: `${FLOOD - 1} 語語` });
  const before = await folded.locator('.text').evaluate((t) => (t.textContent ?? '').length);
  assert.ok(before < 5_000, `a long message is folded: ${before} characters shown`);
  await folded.locator('button.more').click();
  await alice.waitForFunction((n) => [...document.querySelectorAll('#messages li.msg .text')].some((t) => (t.textContent ?? '').length === n), BIG_TEXT.length + `${FLOOD - 1} `.length, WAIT);

  // The page still does what its user asks: a send reaches bob, a join works.
  await say(alice, 'still here');
  await bob.nextOf('message', { text: 'still here' }, 20_000);
  await say(alice, '/join side');
  await alice.waitForSelector('#rooms li[data-room="side"].active', WAIT);
  await alice.waitForSelector('#members li:text-is("alice")', WAIT);
  assert.equal(pageErrors, [], 'no uncaught errors or error lines in the page');
});

test('a reload after the flood shows the newest lines', async () => {
  await alice.click('#rooms li[data-room="lobby"]');
  await alice.reload();
  await alice.waitForSelector('#state[data-state="open"]', WAIT);
  await alice.waitForSelector('#messages li.msg .text:text-is("flood over")', WAIT);
  await alice.waitForSelector('#messages li.msg .text:text-is("still here")', WAIT);
  assert.equal(pageErrors, [], 'no uncaught errors or error lines in the page');
});

test.run();
