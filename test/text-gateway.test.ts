// The plain-text gateway (/ws/text) in Chromium, with a page that behaves as
// gorilla/websocket's examples/chat home.html does (written here from its
// behaviour): it opens one WebSocket, sends the input's text as a frame on
// submit, shows every received frame split on '\n', one div per line, and says
// "Connection closed." when the socket closes. Only its URL differs.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import type { Browser, Page } from 'playwright-core';
import { Broker } from '../src/broker.js';
import { connect, type HubbubClient } from '../src/client/index.js';
import { createLogger } from '../src/log.js';
import { reply } from '../src/transport/http-server.js';
import { launchChromium } from './helpers/chromium.js';
import { nextEvent, within } from './helpers/client-waits.js';

const GORILLA_LIKE_PAGE = (query: string): string => `<!DOCTYPE html>
<html lang="en"><head><title>Chat Example</title>
<script>
window.onload = function () {
  var conn;
  var msg = document.getElementById("msg");
  var log = document.getElementById("log");
  function appendLog(item) { log.appendChild(item); }
  document.getElementById("form").onsubmit = function () {
    if (!conn || !msg.value) return false;
    conn.send(msg.value);
    msg.value = "";
    return false;
  };
  conn = new WebSocket("ws://" + document.location.host + "/ws/text${query}");
  conn.onclose = function () {
    var item = document.createElement("div");
    item.innerHTML = "<b>Connection closed.</b>";
    appendLog(item);
  };
  conn.onmessage = function (evt) {
    var lines = evt.data.split("\\n");
    for (var i = 0; i < lines.length; i++) {
      var item = document.createElement("div");
      item.innerText = lines[i];
      appendLog(item);
    }
  };
};
</script></head>
<body><div id="log"></div>
<form id="form"><input type="submit" value="Send" /><input type="text" id="msg" size="64"/></form>
</body></html>`;

const WAIT = { timeout: 10_000 };
const test = suite('text gateway (gorilla chat compatible)');
let broker: Broker;
let browser: Browser;
let watcher: HubbubClient;
let one: Page;
let two: Page;

function logLines(page: Page): Promise<string[]> {
  return page.locator('#log div').allInnerTexts();
}

async function openGorillaPage(path: string, query: string): Promise<Page> {
  // Served by the broker's own HTTP server, as gorilla serves home.html next to its /ws.
  broker.http.onGet(`/${path}`, (_req, res) => reply(res, 200, GORILLA_LIKE_PAGE(query), 'text/html; charset=utf-8'));
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${broker.url}${path}`);
  return page;
}

test.before(async () => {
  broker = await Broker.start({ port: 0, host: '127.0.0.1', logger: createLogger('silent'), shutdownTimeoutMs: 2000 });
  browser = await launchChromium();
  watcher = await connect(broker.url, { name: 'watcher' });
  await watcher.join('lobby');
});

test.after(async () => {
  watcher?.close();
  await browser?.close();
  await broker?.close();
});

test('gorilla-style pages chat through /ws/text; JSON clients in the same room see them and are seen', async () => {
  const firstIn = nextEvent(watcher, 'presence', (p) => 'user' in p && p.event === 'join' && p.user.startsWith('guest-'));
  one = await openGorillaPage('gorilla-1.html', '?room=lobby');
  await within(firstIn, 10_000, 'the first text client joins lobby');
  const secondIn = nextEvent(watcher, 'presence', (p) => 'user' in p && p.event === 'join' && p.user === 'gopher');
  two = await openGorillaPage('gorilla-2.html', '?room=lobby&name=gopher');
  await within(secondIn, 10_000, 'the second text client joins lobby as gopher');

  // A frame typed in one page is a message to the room: every page shows its bare text, the sender too.
  const seen = nextEvent(watcher, 'message', (m) => m.text === 'hello from gorilla');
  await one.fill('#msg', 'hello from gorilla');
  await one.click('input[type=submit]');
  const m = await seen;
  assert.ok(m.from.startsWith('guest-'), `sender named by the broker: ${m.from}`);
  await two.waitForSelector('#log div:text-is("hello from gorilla")', WAIT);
  await one.waitForSelector('#log div:text-is("hello from gorilla")', WAIT);

  const fromGopher = nextEvent(watcher, 'message', (msg) => msg.from === 'gopher');
  await two.fill('#msg', '{"op":"send","room":"elsewhere","text":"not an op"}');
  await two.press('#msg', 'Enter');
  assert.is((await fromGopher).text, '{"op":"send","room":"elsewhere","text":"not an op"}', 'text frames are text, never ops');

  // A JSON client's message arrives as its bare text; its newline splits into two lines as gorilla's would.
  await watcher.send('lobby', 'line one\nline two');
  await one.waitForSelector('#log div:text-is("line two")', WAIT);
  await two.waitForSelector('#log div:text-is("line two")', WAIT);

  // Only messages reach text clients: no welcome, joined, presence or JSON of any kind.
  const expected = ['hello from gorilla', '{"op":"send","room":"elsewhere","text":"not an op"}', 'line one', 'line two'];
  assert.equal(await logLines(one), expected);
  assert.equal(await logLines(two), expected);
});

test('a room name the broker would refuse is refused before the handshake (400)', async () => {
  const status = await within(new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${broker.port}/ws/text?room=`);
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => reject(new Error('an empty room name was accepted')));
    ws.on('error', reject);
  }), 5000, 'the answer to an upgrade with an empty room');
  assert.is(status, 400);
});

test('a text client without ?room= is in lobby; binary frames close it with 1003', async () => {
  const listener = await connect(broker.url, { name: 'listener' });
  try {
    await listener.join('lobby');
    const ws = new WebSocket(`ws://127.0.0.1:${broker.port}/ws/text`);
    const got = nextEvent(listener, 'message', (m) => m.text === 'plain');
    await within(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 5000, 'text socket open');
    ws.send('plain');
    await got;
    const code = new Promise<number>((resolve) => ws.once('close', (c) => resolve(c)));
    ws.send(Buffer.from([1, 2, 3]), { binary: true });
    assert.is(await within(code, 5000, 'close after a binary frame'), 1003);
  } finally {
    listener.close();
  }
});

test('a broker shutdown closes text clients gracefully too (they share the heartbeat wheel)', async () => {
  await broker.close();
  assert.is(broker.shutdownCut, 0, 'every text client closed before the shutdown deadline, none cut');
  await one.waitForSelector('#log b:text-is("Connection closed.")', WAIT);
  await two.waitForSelector('#log b:text-is("Connection closed.")', WAIT);
});

test.run();
