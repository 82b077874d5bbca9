// The inspector page in a real browser (helpers/chromium.ts):
// it asks for the token, then a chat client that connects during the test shows
// up in its live table, and clicking it shows its machine with `open` lit.
// The screenshot lands in test/artifacts/ (gitignored).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Broker } from '../src/broker.js';
import { launchChromium } from './helpers/chromium.js';
import { chatClient, startBroker } from './helpers/debug-helpers.js';

const ARTIFACTS = fileURLToPath(new URL('../../test/artifacts/', import.meta.url)); // dist/test -> test/artifacts
const WAIT_MS = 10_000;

const Inspector = suite('inspector page (chromium)');

// Setup lives in the test, not in before(): uvu 0.5 swallows a hook's error and still exits 0.
async function withBrowser(fn: (context: BrowserContext, broker: Broker) => Promise<void>): Promise<void> {
  const broker = await startBroker({ debugToken: 'inspector-test-token' });
  let browser: Browser | null = null;
  try {
    browser = await launchChromium();
    await fn(await browser.newContext({ viewport: { width: 1400, height: 900 } }), broker);
  } finally {
    await browser?.close();
    await broker.close();
  }
}

Inspector('asks for the token, then shows a chat client that connects, live; a click shows its state machine', () => withBrowser(async (context, broker) => {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  try {
    await page.goto(`http://127.0.0.1:${broker.port}/inspect`);
    await page.locator('#token').waitFor({ state: 'visible', timeout: WAIT_MS });

    // a wrong token is refused and the form stays
    await page.fill('#token', 'not-the-token');
    await page.click('#connect');
    await page.locator('#login-error', { hasText: 'refused' }).waitFor({ timeout: WAIT_MS });

    await page.fill('#token', 'inspector-test-token');
    await page.click('#connect');
    await page.locator('#status.live').waitFor({ timeout: WAIT_MS });
    assert.ok(await page.locator('#login').isHidden(), 'the token form is gone');

    // a chat client connects while the page is open, and appears in the table
    const zoe = await chatClient(broker, 'zoe-in-browser', 'lobby');
    const row = page.locator('#actors tbody tr', { hasText: 'zoe-in-browser' });
    // The table may first show her between the welcome and the join: wait for the row with her room.
    await row.filter({ hasText: 'lobby' }).waitFor({ timeout: WAIT_MS });
    const cells = await row.locator('td').allTextContents();
    assert.is(cells[0], zoe.session);
    assert.is(cells[2], 'open');
    assert.is(cells[3], 'lobby');

    await row.click();
    await page.locator('#machine g.state.current[data-state="open"]').waitFor({ timeout: WAIT_MS });
    assert.is(await page.locator('#machine g.state').count(), 4, 'all four states are drawn');
    await page.locator('#events tbody tr', { hasText: 'frame:join' }).waitFor({ timeout: WAIT_MS });
    await page.locator('#chart-connections polyline').waitFor({ state: 'attached', timeout: WAIT_MS });

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'inspector.png'), fullPage: true });

    // it leaves, and the table follows
    await zoe.close();
    await row.waitFor({ state: 'detached', timeout: WAIT_MS });
    assert.equal(errors, [], 'no script errors on the page');
  } finally {
    await page.close();
  }
}));

Inspector.run();
