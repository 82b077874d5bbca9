// The chat page in Chromium through outages: each room gets one
// "reconnecting…" line and one "back online" line however many retries fail,
// in words (the close code only in the tooltip), and unread badges count
// only what other people said: not these lines, not your own messages or DMs.
// The page goes through a TCP proxy so that one test can cut it off while the
// broker (and its history) stays up: the rejoin then replays what was missed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { Broker, type BrokerConfig } from '../src/broker.js';
import { connect, type HubbubClient } from '../src/client/index.js';
import { createLogger } from '../src/log.js';
import { launchChromium } from './helpers/chromium.js';
import { nextEvent, within } from './helpers/client-waits.js';
import { TcpProxy } from './helpers/tcp-proxy.js';

const WAIT = { timeout: 15_000 };
const test = suite('chat page, calm reconnects');
let browser: Browser;
let broker: Broker;
let proxy: TcpProxy;
let bob: HubbubClient;
let alice: Page;
const pageErrors: string[] = [];

interface Line { kind: string; text: string; title?: string; from?: string }
interface Room { unread: number; lines: Line[] }

function startBroker(port = 0, publicUrl: string | null = null): Promise<Broker> {
  const config: Partial<BrokerConfig> = { port, host: '127.0.0.1', logger: createLogger('silent'), shutdownTimeoutMs: 2000, publicUrl };
  return Broker.start(config);
}

/** What the page keeps per room (it saves its whole view to sessionStorage at every line). */
function rooms(page: Page): Promise<Record<string, Room>> {
  return page.evaluate(() => Object.fromEntries(JSON.parse(sessionStorage.getItem('hubbub.chat.v1')!).rooms));
}

const sysLines = (room: Room, pattern: RegExp): Line[] => room.lines.filter((l) => l.kind === 'sys' && pattern.test(l.text));

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

async function badge(page: Page, room: string): Promise<string | null> {
  const el = page.locator(`#rooms li[data-room="${room}"] .unread`);
  return (await el.count()) === 0 ? null : el.textContent();
}

test.before(async () => {
  proxy = await TcpProxy.start([]);
  // The page's origin is the proxy's address: allowed as the broker's public URL.
  broker = await startBroker(0, proxy.url);
  proxy.setBackends([broker.port]);
  bob = await connect(broker.url, { name: 'bob', backoff: { initialMs: 20, maxMs: 200 } });
  await bob.join('lobby');
  await bob.join('side');
  browser = await launchChromium();
  alice = await (await browser.newContext()).newPage();
  alice.on('pageerror', (err) => pageErrors.push(err.message));
});

test.after(async () => {
  bob?.close();
  await browser?.close();
  await proxy?.close();
  await broker?.close();
});

test('your own DM and your own messages raise no badge; others\' do', async () => {
  await alice.goto(proxy.url);
  await alice.fill('#name', 'alice');
  await alice.fill('#login-room', 'lobby');
  await alice.click('#login button');
  await alice.waitForSelector('#state[data-state="open"]', WAIT);
  await say(alice, '/join side');
  await alice.waitForSelector('#rooms li[data-room="side"].active', WAIT);
  await alice.click('#rooms li[data-room="lobby"]');
  const dm = nextEvent(bob, 'dm');
  await say(alice, '/dm bob hello bob');
  assert.is((await dm).text, 'hello bob');
  await alice.waitForSelector('#rooms li[data-room=""]', WAIT);
  await alice.waitForFunction(() => JSON.parse(sessionStorage.getItem('hubbub.chat.v1')!).rooms.some(([n, r]: [string, Room]) => n === '' && r.lines.length === 1), null, WAIT);
  assert.is(await badge(alice, ''), null, 'the DM alice sent does not count as unread');
  await bob.send('side', 'over in side');
  await alice.waitForSelector('#rooms li[data-room="side"] .unread', WAIT);
  assert.is(await badge(alice, 'side'), '1', 'a message from bob counts');
});

test('a broker restart: one reconnecting and one back-online line per room, in words; no badge for them or for your own message', async () => {
  const port = broker.port;
  await broker.close();
  await alice.waitForSelector('#state[data-state="reconnecting"]', WAIT);
  await say(alice, 'typed while down'); // queued: its echo comes back while another pane is shown
  try {
    await alice.click('#rooms li[data-room=""]');
    // Several failed retries before the broker is back.
    await alice.waitForFunction(() => Number(document.getElementById('state')!.dataset.attempt) >= 3, null, WAIT);
  } finally {
    broker = await startBroker(port, proxy.url); // the next test needs it, whatever happened here
  }
  await alice.waitForSelector('#state[data-state="open"]', WAIT);
  await alice.waitForFunction(() => {
    const view = new Map<string, Room>(JSON.parse(sessionStorage.getItem('hubbub.chat.v1')!).rooms);
    const back = (name: string): boolean => view.get(name)!.lines.some((l) => l.text.startsWith('back online'));
    return back('lobby') && back('side') && view.get('lobby')!.lines.some((l) => l.text === 'typed while down');
  }, null, WAIT);
  const view = await rooms(alice);
  for (const name of ['lobby', 'side']) {
    const room = view[name];
    const texts = room.lines.map((l) => l.text).join('\n');
    const down = sysLines(room, /reconnecting/);
    assert.is(down.length, 1, `one reconnecting line in #${name}:\n${texts}`);
    assert.match(down[0].text, /^(the server restarted|connection lost) — reconnecting…$/);
    assert.match(down[0].title ?? '', /^close code 10\d\d/, 'the code is in the tooltip');
    assert.is(sysLines(room, /back online/).length, 1, `one back-online line in #${name}:\n${texts}`);
    assert.not.ok(room.lines.some((l) => l.kind === 'sys' && /\b1\d\d\d\b/.test(l.text)), `no close code in the text of #${name}:\n${texts}`);
  }
  assert.is(await badge(alice, 'lobby'), null, 'system lines and alice\'s own message raise no badge');
  assert.is(await badge(alice, 'side'), '1', 'still only bob\'s message unread');
  await alice.click('#rooms li[data-room="lobby"]');
  await alice.waitForSelector('#messages li.sys:has-text("back online")', WAIT);
  assert.is(await alice.locator('#messages li.sys', { hasText: 'reconnecting' }).count(), 1);
  assert.match(await alice.locator('#messages li.sys', { hasText: 'reconnecting' }).getAttribute('title') ?? '', /close code/);
  assert.not.match(await alice.textContent('#state') ?? '', /\d{4}/);
});

test('cut off while the broker stays up: the line says how many messages were caught up, and they follow it', async () => {
  await within(bob.opened(), 10_000, 'bob back after the restart');
  proxy.partition('alice', 2000);
  await alice.waitForFunction(() => Number(document.getElementById('state')!.dataset.attempt) >= 2, null, WAIT);
  for (const text of ['missed one', 'missed two', 'missed three']) await bob.send('lobby', text);
  await alice.waitForSelector('#messages li.msg .text:text-is("missed three")', WAIT);
  const texts = await alice.locator('#messages li').allTextContents();
  const back = texts.map((t) => t.includes('back online')).lastIndexOf(true);
  assert.match(texts[back], /back online, 3 messages caught up$/, texts.join('\n'));
  assert.ok(texts.findIndex((t) => t.includes('missed one')) > back, 'the caught-up messages follow the line');
  assert.is(texts.filter((t) => t.includes('connection lost — reconnecting…')).length, 1, `one line for this outage:\n${texts.join('\n')}`);
  assert.equal(pageErrors, [], 'no uncaught errors in the page');
});

test.run();
