// The chat page at / in Chromium: two browser contexts chat through it, live
// presence, and the page rides out a broker restart (reconnects by itself,
// keeps what it showed, delivers what was typed while the broker was down)
// and a reload.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { Broker } from '../src/broker.js';
import { createLogger } from '../src/log.js';
import { launchChromium } from './helpers/chromium.js';

const WAIT = { timeout: 10_000 };
const test = suite('chat page');
let browser: Browser;
let broker: Broker;
let alice: Page;
let bob: Page;
const pageErrors: string[] = [];

function startBroker(port = 0): Promise<Broker> {
  return Broker.start({ port, host: '127.0.0.1', logger: createLogger('silent'), shutdownTimeoutMs: 2000 });
}

async function openPage(): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  return page;
}

async function enter(page: Page, name: string): Promise<void> {
  await page.goto(broker.url);
  await page.fill('#name', name);
  await page.fill('#login-room', 'lobby');
  await page.click('#login button');
  await page.waitForSelector('#state[data-state="open"]', WAIT);
  await page.waitForSelector('#login', { state: 'hidden', ...WAIT });
  await page.waitForSelector('#composer', { state: 'visible', ...WAIT });
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

function messageFrom(from: string, text: string): string {
  return `#messages li.msg[data-from="${from}"] .text:text-is("${text}")`;
}

test.before(async () => {
  broker = await startBroker();
  browser = await launchChromium();
  alice = await openPage();
  bob = await openPage();
});

test.after(async () => {
  await browser?.close();
  await broker?.close();
});

test('two browsers chat: names, live presence, messages both ways', async () => {
  await enter(alice, 'alice');
  assert.match(await alice.textContent('#me') ?? '', 'alice');
  await enter(bob, 'bob');
  await alice.waitForSelector('#members li:text-is("bob")', WAIT);
  await alice.waitForSelector('#messages li.sys:has-text("bob joined")', WAIT);
  await say(alice, 'hello bob');
  await bob.waitForSelector(messageFrom('alice', 'hello bob'), WAIT);
  await say(bob, 'hi alice <b>not bold</b>');
  await alice.waitForSelector(messageFrom('bob', 'hi alice <b>not bold</b>'), WAIT);
  assert.is(await alice.locator('#messages b').count(), 0, 'text is shown as text, never as HTML');
  // A second room: unread badge on the room not shown.
  await say(bob, '/join side');
  await bob.waitForSelector('#rooms li[data-room="side"].active', WAIT);
  await say(alice, '/join side');
  await alice.waitForSelector('#rooms li[data-room="side"].active', WAIT);
  await alice.click('#rooms li[data-room="lobby"]');
  await say(bob, 'over here');
  await alice.waitForSelector('#rooms li[data-room="side"] .unread', WAIT);
  await alice.click('#rooms li[data-room="side"]');
  await alice.waitForSelector(messageFrom('bob', 'over here'), WAIT);
  await bob.click('#rooms li[data-room="lobby"]');
  await alice.click('#rooms li[data-room="lobby"]');
});

test('reconnects by itself after a broker restart, keeps the conversation, sends what was typed meanwhile', async () => {
  const port = broker.port;
  await broker.close();
  await alice.waitForSelector('#state[data-state="reconnecting"]', WAIT);
  await bob.waitForSelector('#state[data-state="reconnecting"]', WAIT);
  await say(alice, 'typed while the broker was down');
  await alice.waitForSelector('#outbox li:has-text("typed while the broker was down")', WAIT);
  broker = await startBroker(port);
  await alice.waitForSelector('#state[data-state="open"]', { timeout: 20_000 });
  await bob.waitForSelector('#state[data-state="open"]', { timeout: 20_000 });
  // What was shown before the restart is still there.
  await alice.waitForSelector(messageFrom('bob', 'hi alice <b>not bold</b>'), WAIT);
  // The queued message went out once both are back in the room (bob may rejoin after it was sent).
  await alice.waitForSelector(messageFrom('alice', 'typed while the broker was down'), WAIT);
  await alice.waitForSelector('#outbox li', { state: 'detached', ...WAIT });
  await bob.waitForSelector('#members li:text-is("alice")', WAIT);
  await say(alice, 'after the restart');
  await bob.waitForSelector(messageFrom('alice', 'after the restart'), WAIT);
});

test('a reload shows the same conversation and rejoins the rooms', async () => {
  await bob.reload();
  await bob.waitForSelector('#state[data-state="open"]', WAIT);
  await bob.waitForSelector(messageFrom('alice', 'hello bob'), WAIT);
  await bob.waitForSelector(messageFrom('alice', 'after the restart'), WAIT);
  await bob.waitForSelector('#rooms li[data-room="side"]', WAIT);
  await alice.waitForSelector('#members li:text-is("bob")', WAIT);
  await say(alice, 'after the reload');
  await bob.waitForSelector(messageFrom('alice', 'after the reload'), WAIT);
  assert.equal(pageErrors, [], 'no uncaught errors in the pages');
});

test('the conversation follows its newest line, unless the reader scrolled up', async () => {
  const atBottom = (page: Page): Promise<boolean> => page.$eval('#messages', (l) => l.scrollTop + l.clientHeight >= l.scrollHeight - 4);
  // Enough lines to overflow the list, both ways: each sender's pending line in the outbox takes height from it.
  for (let i = 0; i < 60; i++) {
    const [from, to, name] = i % 2 === 0 ? [alice, bob, 'alice'] : [bob, alice, 'bob'];
    await say(from, `line ${i}`);
    await to.waitForSelector(messageFrom(name, `line ${i}`), WAIT);
  }
  assert.ok(await alice.$eval('#messages', (l) => l.scrollHeight > l.clientHeight), 'the list overflows');
  assert.ok(await atBottom(alice), 'alice sees the newest line');
  assert.ok(await atBottom(bob), 'bob sees the newest line');
  await bob.$eval('#messages', (l) => { l.scrollTop = 0; });
  await bob.waitForFunction(() => document.querySelector('#messages')!.scrollTop === 0, null, WAIT);
  await say(alice, 'while bob reads back');
  await bob.waitForSelector(messageFrom('alice', 'while bob reads back'), WAIT);
  assert.is(await bob.$eval('#messages', (l) => l.scrollTop), 0, 'a reader who scrolled up stays where they are');
  assert.equal(pageErrors, [], 'no uncaught errors in the pages');
});

test.run();
