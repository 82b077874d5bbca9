// The inspector page through broker restarts, in Chromium: with a fixed
// --debug-token it says "reconnecting…", retries with the token it has, and
// shows the new broker's actors; when the broker comes back with another
// token it says so in words, points at --debug-token, and asks for a token.
import type { Browser, Page } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Broker } from '../src/broker.js';
import { launchChromium } from './helpers/chromium.js';
import { chatClient, startBroker } from './helpers/debug-helpers.js';

const WAIT = { timeout: 15_000 };
const TOKEN = 'inspector-reconnect-token';
const test = suite('inspector page reconnects (chromium)');
let browser: Browser;
let broker: Broker;
let page: Page;
const errors: string[] = [];

test.before(async () => {
  broker = await startBroker({ debugToken: TOKEN });
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  page.on('pageerror', (err) => errors.push(err.message));
});

test.after(async () => {
  await browser?.close();
  await broker?.close();
});

/** Restarts the broker on its port with `token`; the old one is closed (its clients get 1001). */
async function restart(token: string, waitFor: () => Promise<void>): Promise<void> {
  const port = broker.port;
  await broker.close();
  try {
    await waitFor();
  } finally {
    broker = await startBroker({ port, debugToken: token });
  }
}

test('a restart with the same token: "reconnecting…", then the new broker\'s actors, no token dialog', async () => {
  await page.goto(`${broker.url}inspect#token=${TOKEN}`);
  await page.locator('#status.live').waitFor(WAIT);
  const zoe = await chatClient(broker, 'zoe-before', 'lobby');
  await page.locator('#actors tbody tr', { hasText: 'zoe-before' }).waitFor(WAIT);
  await restart(TOKEN, async () => {
    await page.locator('#status', { hasText: 'reconnecting…' }).waitFor(WAIT);
    // Retries fail while the broker is away; the page keeps trying, without the dialog.
    await page.waitForFunction(() => Number(document.getElementById('status')!.dataset.attempt) >= 2, null, WAIT);
    assert.ok(await page.locator('#login').isHidden(), 'no token dialog while reconnecting');
    assert.not.match(await page.textContent('#status') ?? '', /\d{4}/, 'no close code in the words');
    assert.match(await page.getAttribute('#status', 'title') ?? '', /close code 1001/, 'the code in the tooltip');
  });
  zoe.close();
  await page.locator('#status.live').waitFor(WAIT);
  const yan = await chatClient(broker, 'yan-after', 'lobby');
  await page.locator('#actors tbody tr', { hasText: 'yan-after' }).filter({ hasText: 'lobby' }).waitFor(WAIT);
  assert.ok(await page.locator('#login').isHidden(), 'the token dialog never showed');
  yan.close();
});

test('a restart with another token: says the token is no longer accepted, suggests --debug-token, asks for one', async () => {
  await restart('a-newly-generated-token', () => page.locator('#status', { hasText: 'reconnecting…' }).waitFor(WAIT));
  await page.locator('#login').waitFor({ state: 'visible', ...WAIT });
  const said = await page.textContent('#login-error') ?? '';
  assert.match(said, /no longer accepts this token/);
  assert.match(said, /--debug-token/);
  await page.fill('#token', 'a-newly-generated-token');
  await page.click('#connect');
  await page.locator('#status.live').waitFor(WAIT);
  assert.equal(errors, [], 'no script errors on the page');
});

test.run();
