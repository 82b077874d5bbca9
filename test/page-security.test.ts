// The pages a browser gets (issue 14): every page and asset carries a strict
// Content-Security-Policy (no inline script or style), nosniff, no framing and
// no referrer; in Chromium the policy blocks a script injected into the chat
// page while the page goes on working; and room names are data, never object
// keys: rooms named `__proto__`, `constructor` and `@direct` work like any other.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { Broker } from '../src/broker.js';
import { createLogger } from '../src/log.js';
import { launchChromium } from './helpers/chromium.js';
import { httpRequest } from './helpers/http.js';

const WAIT = { timeout: 10_000 };
const test = suite('page security');
let browser: Browser;
let broker: Broker;
const pageErrors: string[] = [];

test.before(async () => {
  broker = await Broker.start({ port: 0, host: '127.0.0.1', logger: createLogger('silent'), shutdownTimeoutMs: 2000 });
  browser = await launchChromium();
});

test.after(async () => {
  await browser?.close();
  await broker?.close();
});

async function openPage(): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  return page;
}

async function enter(page: Page, name: string, room: string): Promise<void> {
  await page.goto(broker.url);
  await page.fill('#name', name);
  await page.fill('#login-room', room);
  await page.click('#login button');
  await page.waitForSelector('#state[data-state="open"]', WAIT);
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

const line = (from: string, text: string): string => `#messages li.msg[data-from="${from}"] .text:text-is("${text}")`;

test('/, /inspect, the page scripts and the client modules carry CSP, nosniff, no framing, no referrer', async () => {
  for (const path of ['/', '/inspect', '/chat.js', '/chat.css', '/inspect.js', '/client/browser.js']) {
    const r = await httpRequest(`${broker.url}${path.slice(1)}`);
    assert.is(r.status, 200, path);
    const csp = String(r.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/, path);
    assert.match(csp, /script-src 'self'(;|$)/, `${path}: scripts from the broker only, none inline`);
    assert.match(csp, /style-src 'self'(;|$)/, path);
    assert.match(csp, /frame-ancestors 'none'/, path);
    assert.is(r.headers['x-content-type-options'], 'nosniff', path);
    assert.is(r.headers['x-frame-options'], 'DENY', path);
    assert.is(r.headers['referrer-policy'], 'no-referrer', path);
  }
  for (const path of ['/', '/inspect']) {
    const html = (await httpRequest(`${broker.url}${path.slice(1)}`)).body;
    assert.not.match(html, /<script(?![^>]*\bsrc=)[^>]*>/, `${path}: no inline script`);
    assert.not.match(html, /<style|\sstyle=|\son[a-z]+=/, `${path}: no inline style or handler`);
  }
  assert.is((await httpRequest(`${broker.url}nope`)).headers['x-content-type-options'], 'nosniff', 'plain replies too');
});

test('in Chromium the policy blocks an injected inline script; the page still chats', async () => {
  const page = await openPage();
  await enter(page, 'csp-alice', 'csp-room');
  const outcome = await page.evaluate(() => new Promise<{ ran: boolean; violated: string }>((resolve) => {
    const w = window as unknown as { injected?: boolean };
    document.addEventListener('securitypolicyviolation', (e) => resolve({ ran: w.injected === true, violated: e.effectiveDirective }), { once: true });
    const s = document.createElement('script');
    s.textContent = 'window.injected = true';
    document.body.append(s);
    setTimeout(() => resolve({ ran: w.injected === true, violated: '' }), 2000);
  }));
  assert.is(outcome.ran, false, 'the injected script did not run');
  assert.match(outcome.violated, /^script-src/, 'and the browser reported the policy');
  await say(page, 'still here');
  await page.waitForSelector(line('csp-alice', 'still here'), WAIT);
  await page.close();
});

test('rooms named __proto__, constructor and @direct are rooms like any other, also after a reload', async () => {
  const alice = await openPage();
  const bob = await openPage();
  await enter(alice, 'proto-alice', '__proto__');
  await enter(bob, 'proto-bob', '__proto__');
  await say(bob, 'in proto');
  await alice.waitForSelector(line('proto-bob', 'in proto'), WAIT);
  for (const room of ['constructor', '@direct']) {
    for (const p of [alice, bob]) {
      await say(p, `/join ${room}`);
      await p.waitForSelector(`#rooms li[data-room="${room}"].active`, WAIT);
    }
    await say(bob, `in ${room}`);
    await alice.waitForSelector(line('proto-bob', `in ${room}`), WAIT);
  }
  assert.is(await alice.evaluate(() => Object.keys(Object.prototype).length), 0, 'nothing was set on Object.prototype');
  await alice.click('#rooms li[data-room="__proto__"]');
  await alice.waitForSelector(line('proto-bob', 'in proto'), WAIT);
  assert.is(await alice.locator('#messages li.msg:has-text("in @direct")').count(), 0, 'the @direct room is not the DM pane');
  await alice.reload();
  await alice.waitForSelector('#state[data-state="open"]', WAIT);
  await alice.click('#rooms li[data-room="__proto__"]');
  await alice.waitForSelector(line('proto-bob', 'in proto'), WAIT);
  await bob.click('#rooms li[data-room="__proto__"]');
  await say(bob, 'after reload');
  await alice.waitForSelector(line('proto-bob', 'after reload'), WAIT);
  assert.equal(pageErrors, [], 'no uncaught errors in the pages');
});

test.run();
