// The chat page and the inspector at a phone's size (390x844) and a laptop's
// (1280x800), in Chromium against a real broker: the page never scrolls
// sideways, the controls are in view and nothing covers them, the room list is
// a drawer behind a button on the phone, the inspector's actor panel sits
// beside or below its table (never over it), and the state machine's edge
// labels each have a box of their own, readable, crossed by no other arrow.
// Screenshots land in test/artifacts/ (gitignored) for a person to look at.
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

      // A room name as long as names go (64 characters, no space) wraps in the list and is cut short in the bar.
      const room = `${'longroomname'.repeat(5)}abcd`;
      await page.fill('#text', `/join ${room}`);
      await page.press('#text', 'Enter');
      await page.waitForSelector(`#rooms li[data-room="${room}"].active`, { state: 'attached', ...WAIT });
      await assertNoOverflow(page, 'in a room with a 64-character name');
      if (narrow) {
        const bar = await page.$eval('#roombar', (b) => ({ scroll: b.scrollWidth, client: b.clientWidth }));
        assert.ok(bar.scroll <= bar.client, `the room bar scrolls sideways (${bar.scroll} px in ${bar.client})`);
        await toggle.click();
        await rooms.waitFor({ state: 'visible', ...WAIT });
        await assertNoOverflow(page, 'the drawer open on a 64-character room name');
        await page.screenshot({ path: join(ARTIFACTS, `chat-${sizeName(size)}-drawer.png`) });
        await assertReachable(page, `#rooms li[data-room="${room}"]`, 'the drawer open on a 64-character room name');
        // With the list folded away, the button says when another room has something new.
        const ann = await chatClient(tb.broker, `ann${size.width}`, 'lobby');
        try {
          ann.send({ op: 'send', room: 'lobby', text: 'psst', id: 'psst' });
          await page.locator('#rooms-toggle.unread').waitFor(WAIT);
          await page.click('#rooms li[data-room="lobby"]');
          await rooms.waitFor({ state: 'hidden', ...WAIT });
          await page.waitForSelector('#messages li.msg .text:text-is("psst")', WAIT);
          await page.locator('#rooms-toggle.unread').waitFor({ state: 'detached', ...WAIT });
          assert.is(await page.textContent('#room-title'), '#lobby', 'the bar names the room on show');
        } finally {
          ann.close();
        }
      } else {
        await assertReachable(page, `#rooms li[data-room="${room}"]`, 'a 64-character room name');
      }
    } finally {
      await page.context().close();
    }
  });

  test(`inspector at ${sizeName(size)}: no sideways scroll, the actor panel ${narrow ? 'below' : 'beside'} the table, edge labels apart`, async () => {
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

      // Every edge label has a box of its own: apart from the others, off the states, inside the drawing.
      const drawing = await page.evaluate(() => {
        const box = (el: Element) => {
          const r = el.getBoundingClientRect();
          return { left: r.left, top: r.top, right: r.right, bottom: r.bottom };
        };
        return {
          svg: box(document.querySelector('#machine svg') as Element),
          labels: [...document.querySelectorAll('#machine .edge-label')].map((el) => {
            const text = (el.matches('text') ? el : el.querySelector('text')) as Element;
            const lines = [...text.querySelectorAll('tspan')];
            const each = text.getBoundingClientRect().height / Math.max(1, lines.length);
            const edge = el.getAttribute('data-edge') ?? '';
            return { text: lines.map((l) => l.textContent).join(' / ') || (text.textContent ?? ''), edge, lineHeight: each, ...box(el) };
          }),
          // Each arrow as points 2 px apart, in the page's coordinates.
          edges: [...document.querySelectorAll<SVGPathElement>('#machine path.edge')].map((p) => {
            const m = p.getScreenCTM() as DOMMatrix;
            const points: { x: number; y: number }[] = [];
            for (let d = 0, total = p.getTotalLength(); d <= total; d += 2) {
              const q = p.getPointAtLength(d);
              points.push({ x: m.a * q.x + m.c * q.y + m.e, y: m.b * q.x + m.d * q.y + m.f });
            }
            return { edge: p.getAttribute('data-edge') ?? '', points };
          }),
          states: [...document.querySelectorAll('#machine g.state rect')].map(box),
        };
      });
      assert.ok(drawing.labels.length >= 5, `the connection machine's edges are labelled (${drawing.labels.length} labels)`);
      drawing.labels.forEach((a, i) => {
        assert.ok(a.left >= drawing.svg.left - 0.5 && a.right <= drawing.svg.right + 0.5 && a.top >= drawing.svg.top - 0.5 && a.bottom <= drawing.svg.bottom + 0.5,
          `label "${a.text}" lies inside the drawing`);
        // Readable: each line of a label is drawn at least 10 px tall (a 9 px font, about), whatever the panel's width.
        assert.ok(a.lineHeight >= 10, `label "${a.text}" has lines ${a.lineHeight.toFixed(1)} px tall`);
        for (const b of drawing.labels.slice(i + 1)) assert.not.ok(intersect(a, b), `labels "${a.text}" and "${b.text}" overlap`);
        for (const s of drawing.states) assert.not.ok(intersect(a, s), `label "${a.text}" overlaps a state`);
        // An arrow may run into its own label (its box hides the line there), never through another's.
        for (const e of drawing.edges) {
          if (e.edge !== '' && e.edge === a.edge) continue;
          const through = e.points.find((p) => p.x > a.left + 1 && p.x < a.right - 1 && p.y > a.top + 1 && p.y < a.bottom - 1);
          assert.is(through, undefined, `the arrow ${e.edge || '(unnamed)'} runs through label "${a.text}"`);
        }
      });

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
