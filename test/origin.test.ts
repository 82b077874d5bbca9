// Origin check (cross-site WebSocket hijacking, DNS rebinding): browsers from
// origins not allowed are refused 403 before the upgrade; by default only the
// address the broker was started on (scheme, host, port) and --public-url are
// allowed, never whatever the request's Host says; --allowed-origins adds to
// that; clients without an Origin header (not browsers) are let in; each
// refused origin is logged once a minute; /debug is held to the same rules.
// Raw upgrades pin the rules; a real chromium shows them from both sides: a
// page of another origin cannot open the broker's WebSocket, the broker's own
// page can.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startBroker, type TestBroker } from './helpers/broker.js';
import { launchChromium } from './helpers/chromium.js';
import type { Browser } from 'playwright-core';
import { upgradeStatus } from './helpers/upgrade.js';

const Origin = suite('origin check');

Origin('default: the own host is allowed, any other origin refused 403, no Origin allowed', async () => {
  const tb = await startBroker();
  try {
    const own = new URL(tb.url).host; // 127.0.0.1:port
    const port = new URL(tb.url).port;
    const cases: [string | null, number][] = [
      [null, 101],
      [`http://${own}`, 101],
      [`HTTP://${own.toUpperCase()}`, 101],
      [`http://localhost:${port}`, 101], // bound to loopback: the browser's own name for it too
      [`https://${own}`, 403], // another scheme is another origin (use --public-url behind TLS)
      ['http://evil.example', 403],
      [`http://evil.example:${port}`, 403],
      [`http://127.0.0.1:${Number(port) + 1}`, 403],
      ['http://127.0.0.1', 403],
      ['null', 403], // sandboxed iframes and file:// pages
      ['not a url', 403],
    ];
    for (const [origin, expected] of cases) {
      const reply = await upgradeStatus(tb.wsUrl, { headers: origin === null ? {} : { Origin: origin } });
      assert.is(reply.status, expected, `Origin ${origin ?? '(none)'}`);
    }
    // The plain-text endpoint is no way around the check.
    assert.is((await upgradeStatus(`${tb.wsUrl}/text`, { headers: { Origin: 'http://evil.example' } })).status, 403, '/ws/text');
    assert.is((await upgradeStatus(`${tb.wsUrl}/text`, { headers: { Origin: `http://${own}` } })).status, 101, '/ws/text, own host');
    // DNS rebinding: the attacker's name points at the broker, so Host and Origin agree; both are his.
    const rebound = await upgradeStatus(tb.wsUrl, { headers: { Host: `evil.example:${port}`, Origin: `http://evil.example:${port}` } });
    assert.is(rebound.status, 403, 'Host is not what "own" means');
    const proxied = await upgradeStatus(tb.wsUrl, { headers: { Host: 'chat.example.com', Origin: 'https://chat.example.com' } });
    assert.is(proxied.status, 403, 'a proxy needs --public-url');
    assert.is(tb.broker.chat.counters.originRefused, 10);
  } finally {
    await tb.broker.close();
  }
});

Origin('--public-url: its origin is allowed (scheme, host and port as given), beside the bound address', async () => {
  const tb = await startBroker({ publicUrl: 'https://Chat.Example.com/hubbub/' });
  try {
    const cases: [string, number][] = [
      ['https://chat.example.com', 101],
      ['https://chat.example.com:443', 101],
      ['http://chat.example.com', 403],
      ['https://chat.example.com:8443', 403],
      [`http://${new URL(tb.url).host}`, 101],
    ];
    for (const [origin, expected] of cases) {
      const reply = await upgradeStatus(tb.wsUrl, { headers: { Host: 'chat.example.com', Origin: origin } });
      assert.is(reply.status, expected, `Origin ${origin}`);
    }
  } finally {
    await tb.broker.close();
  }
});

Origin('--allowed-origins: the listed origins besides the own address; "*" allows any', async () => {
  const tb = await startBroker({ allowedOrigins: ['https://chat.example.com', 'http://localhost:3000'] });
  const any = await startBroker({ allowedOrigins: ['*'] });
  try {
    const own = `http://${new URL(tb.url).host}`;
    const cases: [string | null, number][] = [
      ['https://chat.example.com', 101],
      ['https://CHAT.example.com:443', 101],
      ['http://localhost:3000', 101],
      [null, 101],
      ['http://chat.example.com', 403], // another scheme is another origin
      ['https://chat.example.com:8443', 403],
      ['https://evil.example', 403],
      [own, 101], // the list adds to the default: the broker's own pages keep working
    ];
    for (const [origin, expected] of cases) {
      const reply = await upgradeStatus(tb.wsUrl, { headers: origin === null ? {} : { Origin: origin } });
      assert.is(reply.status, expected, `Origin ${origin ?? '(none)'}`);
    }
    assert.is((await upgradeStatus(any.wsUrl, { headers: { Origin: 'https://evil.example' } })).status, 101);
  } finally {
    await Promise.all([tb.broker.close(), any.broker.close()]);
  }
});

Origin('/debug: the right token from a foreign page is refused 403; from the broker\'s own page it is let in', async () => {
  const tb = await startBroker({ debugToken: 'debug-secret' });
  try {
    const url = `${tb.url.replace('http', 'ws')}debug?token=debug-secret`;
    assert.is((await upgradeStatus(url, { headers: { Origin: 'http://evil.example' } })).status, 403, 'foreign origin');
    const port = new URL(tb.url).port;
    assert.is((await upgradeStatus(url, { headers: { Host: `evil.example:${port}`, Origin: `http://evil.example:${port}` } })).status, 403, 'rebinding');
    assert.is((await upgradeStatus(url, { headers: { Origin: `http://${new URL(tb.url).host}` } })).status, 101, 'own page');
    assert.is((await upgradeStatus(url)).status, 101, 'no Origin: not a browser (the inspect CLI)');
  } finally {
    await tb.broker.close();
  }
});

Origin('each refused origin is logged as a warning once a minute, with what is allowed', async () => {
  const lines: { level: number; msg: string; origin?: string; allowed?: string[] }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l));
      done();
    },
  });
  const tb = await startBroker({ logger: pino({ level: 'info' }, sink) });
  try {
    for (const origin of ['http://evil.example', 'http://evil.example', 'https://other.example', 'http://evil.example']) {
      assert.is((await upgradeStatus(tb.wsUrl, { headers: { Origin: origin } })).status, 403);
    }
    const refused = lines.filter((l) => /origin refused/.test(l.msg));
    assert.equal(refused.map((l) => l.origin), ['http://evil.example', 'https://other.example'], 'once per origin');
    assert.is(refused[0].level, 40, 'a warning');
    assert.ok(refused[0].allowed?.includes(`http://${new URL(tb.url).host}`), 'names what is allowed');
    assert.is(tb.broker.chat.counters.originRefused, 4, 'every refusal is counted');
  } finally {
    await tb.broker.close();
  }
});

Origin.run();

// --- the same rules seen from a real browser ---

const Browsers = suite<{ browser: Browser | null; tb: TestBroker; other: Server; otherUrl: string }>('origin check in chromium', {
  browser: null, tb: null as unknown as TestBroker, other: null as unknown as Server, otherUrl: '',
});

/** In the page: opens the WebSocket and reports whether it got to open (and the welcome) or failed. */
async function tryWebSocket(browser: Browser, pageUrl: string, wsUrl: string): Promise<string> {
  const page = await browser.newPage(); // a context of its own
  try {
    await page.goto(pageUrl);
    return await page.evaluate((url) => new Promise<string>((resolve) => {
      const ws = new WebSocket(url);
      const timer = setTimeout(() => resolve('timeout'), 5000);
      ws.onmessage = (e) => {
        clearTimeout(timer);
        ws.close();
        resolve(String(JSON.parse(String(e.data)).type));
      };
      ws.onclose = (e) => {
        clearTimeout(timer);
        resolve(`closed ${e.code}`);
      };
    }), wsUrl);
  } finally {
    await page.close();
  }
}

Browsers.before(async (ctx) => {
  ctx.browser = await launchChromium();
  ctx.tb = await startBroker();
  // A site of another origin (another port): the attacker's page.
  ctx.other = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><title>elsewhere</title>');
  });
  await new Promise<void>((resolve) => ctx.other.listen(0, '127.0.0.1', resolve));
  ctx.otherUrl = `http://127.0.0.1:${(ctx.other.address() as AddressInfo).port}/`;
});

Browsers.after(async (ctx) => {
  if (ctx.browser === null) return;
  await ctx.browser.close();
  await ctx.tb.broker.close();
  await new Promise((resolve) => ctx.other.close(resolve));
});

Browsers('a page of another origin cannot open the broker\'s WebSocket; the broker\'s own page can', async (ctx) => {
  if (ctx.browser === null) throw new Error('chromium did not launch (see the error above)');
  const refusedBefore = ctx.tb.broker.chat.counters.originRefused;
  assert.is(await tryWebSocket(ctx.browser, ctx.otherUrl, ctx.tb.wsUrl), 'closed 1006', 'cross-site: the handshake fails');
  assert.is(ctx.tb.broker.chat.counters.originRefused, refusedBefore + 1, 'refused by the origin check');
  assert.is(await tryWebSocket(ctx.browser, `${ctx.tb.url}healthz`, ctx.tb.wsUrl), 'welcome', 'same origin: welcomed');
});

Browsers.run();
