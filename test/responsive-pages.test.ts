// The chat page and the inspector at a phone's size (390x844) and a laptop's
// (1280x800), in Chromium against a real broker: the page never scrolls
// sideways, the controls are in view and nothing covers them, the room list is
// a drawer behind a button on the phone, the inspector's actor panel sits
// beside or below its table (never over it). Screenshots land in test/artifacts/
// (gitignored) for a person to look at.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startBroker, type TestBroker } from './helpers/broker.js';
import { launchChromium } from './helpers/chromium.js';
import { chatClient } from './helpers/debug-helpers.js';

const ARTIFACTS = fileURLToPath(new URL('../../test/artifacts/', import.meta.url)); // dist/test -> test/artifacts
const WAIT = { timeout: 10_000 };
const TOKEN = 'responsive-test-token';
const SIZES = [{ width: 390, height: 844 }, { width: 1280, height: 800 }] as const;
/** Under this width the pages take their narrow layout (the CSS's breakpoint is 700 px). */
const NARROW = 700;

interface Box { left: number; top: number; right: number; bottom: number }

const test = suite('responsive pages (chromium)');
let tb: TestBroker;
let browser: Browser;
const pageErrors: string[] = [];

test.before(async () => {
  tb = await startBroker({ debugToken: TOKEN, shutdownTimeoutMs: 2000 });
  browser = await launchChromium();
  mkdirSync(ARTIFACTS, { recursive: true });
});

test.after(async () => {
  await browser?.close();
  await tb?.broker.close();
});

async function openPage(size: { width: number; height: number }): Promise<Page> {
  const page = await (await browser.newContext({ viewport: size })).newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  return page;
}

/** The page does not scroll sideways: nothing reaches past the viewport's width. */
async function assertNoOverflow(page: Page, when: string): Promise<void> {
  const { scrollWidth, bodyWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth, bodyWidth: document.body.scrollWidth, innerWidth: window.innerWidth,
  }));
  assert.ok(scrollWidth <= innerWidth && bodyWidth <= innerWidth,
    `${when}: the page is ${Math.max(scrollWidth, bodyWidth)} px wide in a ${innerWidth} px viewport`);
}

/** Null when `selector` lies wholly inside the viewport and a click at its centre lands on it; else why not. */
function unreachable(page: Page, selector: string): Promise<string | null> {
  return page.$eval(selector, (el) => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return 'not rendered';
    if (r.left < 0 || r.top < 0 || r.right > innerWidth || r.bottom > innerHeight) {
      return `outside the ${innerWidth}x${innerHeight} viewport at ${Math.round(r.left)},${Math.round(r.top)}-${Math.round(r.right)},${Math.round(r.bottom)}`;
    }
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return hit !== null && (hit === el || el.contains(hit)) ? null : `covered by <${hit?.tagName.toLowerCase()} id="${hit?.id}">`;
  });
}

async function assertReachable(page: Page, selector: string, when: string): Promise<void> {
  const why = await unreachable(page, selector);
  assert.is(why, null, `${when}: ${selector} is ${why}`);
}

/** The part of an element a person sees: its box clipped by every ancestor that clips. */
function visibleBox(page: Page, selector: string): Promise<Box> {
  return page.$eval(selector, (el) => {
    const r = el.getBoundingClientRect();
    const box = { left: r.left, top: r.top, right: r.right, bottom: r.bottom };
    for (let a = el.parentElement; a !== null; a = a.parentElement) {
      const style = getComputedStyle(a);
      if (style.overflowX === 'visible' && style.overflowY === 'visible') continue;
      const c = a.getBoundingClientRect();
      box.left = Math.max(box.left, c.left);
      box.top = Math.max(box.top, c.top);
      box.right = Math.min(box.right, c.right);
      box.bottom = Math.min(box.bottom, c.bottom);
    }
    return box;
  });
}

/** True when the boxes share area (touching edges, within half a pixel, do not count). */
function intersect(a: Box, b: Box): boolean {
  return Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
}

const sizeName = (size: { width: number; height: number }): string => `${size.width}x${size.height}`;

for (const size of SIZES) {
  const narrow = size.width < NARROW;

  test(`chat page at ${sizeName(size)}: no sideways scroll, composer in view, long words wrap, ${narrow ? 'rooms in a drawer' : 'rooms beside'}`, async () => {
    const page = await openPage(size);
    try {
      await page.goto(tb.url);
      await assertNoOverflow(page, 'the sign-in form');
      await assertReachable(page, '#login button', 'the sign-in form');
      await page.fill('#name', `user${size.width}`);
      await page.fill('#login-room', 'lobby');
      await page.click('#login button');
      await page.waitForSelector('#state[data-state="open"]', WAIT);
      await page.waitForSelector('#composer', { state: 'visible', ...WAIT });
      await assertNoOverflow(page, 'in a room');
      await assertReachable(page, '#text', 'in a room');
      await assertReachable(page, '#composer button', 'in a room');

      const toggle = page.locator('#rooms-toggle');
      const rooms = page.locator('#rooms');
      if (narrow) {
        assert.ok(await toggle.isVisible(), 'the drawer button is shown');
        assert.ok(await rooms.isHidden(), 'the room list starts closed');
        await toggle.click();
        await rooms.waitFor({ state: 'visible', ...WAIT });
        assert.is(await toggle.getAttribute('aria-expanded'), 'true');
        await assertReachable(page, '#rooms li[data-room="lobby"]', 'the drawer open');
        await assertReachable(page, '#join-room', 'the drawer open');
        await assertNoOverflow(page, 'the drawer open');
        await page.screenshot({ path: join(ARTIFACTS, `chat-${sizeName(size)}-drawer.png`) });
        await toggle.click();
        await rooms.waitFor({ state: 'hidden', ...WAIT });
        assert.is(await toggle.getAttribute('aria-expanded'), 'false');
        // Picking a room closes the drawer: the conversation is what one opened it for.
        await toggle.click();
        await page.click('#rooms li[data-room="lobby"]');
        await rooms.waitFor({ state: 'hidden', ...WAIT });
      } else {
        assert.ok(await toggle.isHidden(), 'no drawer button on a wide screen');
        await assertReachable(page, '#rooms li[data-room="lobby"]', 'a wide screen');
        await assertReachable(page, '#join-room', 'a wide screen');
      }

      const word = 'W'.repeat(300);
      const url = `https://example.com/${'path/'.repeat(30)}?q=${'x'.repeat(80)}`;
      for (const text of ['hello, this is a short line', word, url]) {
        await page.fill('#text', text);
        await page.press('#text', 'Enter');
        await page.waitForSelector(`#messages li.msg .text:text-is("${text}")`, WAIT);
      }
      await assertNoOverflow(page, 'after a 300-character word and a long URL');
      const list = await page.$eval('#messages', (l) => ({ scroll: l.scrollWidth, client: l.clientWidth }));
      assert.ok(list.scroll <= list.client, `the message list scrolls sideways (${list.scroll} px in ${list.client})`);
      await assertReachable(page, '#text', 'after long lines');
      await assertReachable(page, '#composer button', 'after long lines');
      await page.screenshot({ path: join(ARTIFACTS, `chat-${sizeName(size)}.png`) });
    } finally {
      await page.context().close();
    }
  });

  test(`inspector at ${sizeName(size)}: no sideways scroll, the actor panel ${narrow ? 'below' : 'beside'} the table`, async () => {
    const zoe = await chatClient(tb.broker, `zoe${size.width}`, 'lobby');
    const page = await openPage(size);
    try {
      await page.goto(`${tb.url}inspect`);
      await page.fill('#token', TOKEN);
      await page.click('#connect');
      await page.locator('#status.live').waitFor(WAIT);
      await assertNoOverflow(page, 'connected');
      await assertReachable(page, '#disconnect', 'connected');
      await assertReachable(page, '#filter-q', 'connected');

      const row = page.locator('#actors tbody tr', { hasText: `zoe${size.width}` }).filter({ hasText: 'lobby' });
      await row.waitFor(WAIT);
      await row.click();
      await page.locator('#machine g.state.current[data-state="open"]').waitFor(WAIT);
      await assertNoOverflow(page, 'an actor selected');
      const table = await visibleBox(page, '#actors');
      const panel = await visibleBox(page, '#detail');
      assert.not.ok(intersect(table, panel), `the actor panel ${JSON.stringify(panel)} overlaps the table ${JSON.stringify(table)}`);

      await page.locator('#kick').scrollIntoViewIfNeeded();
      await assertReachable(page, '#kick', 'the actor panel scrolled into view');
      await page.evaluate(() => scrollTo(0, 0));
      await page.screenshot({ path: join(ARTIFACTS, `inspect-${sizeName(size)}.png`), fullPage: true });
    } finally {
      await page.context().close();
      zoe.close();
    }
  });
}

test('no script errors on either page', () => {
  assert.equal(pageErrors, []);
});

test.run();
