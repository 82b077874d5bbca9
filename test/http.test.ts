// The HTTP edge: pages, health, 404/405, and upgrades refused before the
// handshake on paths nobody serves.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { createLogger } from '../src/log.js';
import { HttpServer } from '../src/transport/http-server.js';
import { PUBLIC_DIR, StaticPages } from '../src/transport/static-pages.js';
import { startBroker, waitForNoSessions, type TestBroker } from './helpers/broker.js';
import { TestClient } from './helpers/client.js';
import { httpRequest } from './helpers/http.js';
import { withTimeout } from './helpers/wait.js';

const Http = suite<{ tb: TestBroker }>('http', {} as { tb: TestBroker });

Http.before(async (ctx) => {
  ctx.tb = await startBroker();
});
Http.after(async (ctx) => {
  await ctx.tb.broker.close();
});

Http('GET / serves public/index.html as text/html when the package ships it', async (ctx) => {
  const res = await httpRequest(ctx.tb.url);
  const index = join(PUBLIC_DIR, 'index.html');
  if (existsSync(index)) {
    assert.is(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.is(res.body, readFileSync(index, 'utf8'));
  } else {
    // No chat page in this checkout yet: the route must not invent one.
    assert.is(res.status, 404);
  }
});

Http('pages from the public directory: / is index.html, /x is x.html, with their types', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hubbub-pages-'));
  const server = new HttpServer(createLogger('silent'), (() => {
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>chat</title>');
    writeFileSync(join(dir, 'inspect.html'), '<!doctype html><title>inspect</title>');
    writeFileSync(join(dir, 'app.js'), 'export {};');
    return new StaticPages(dir);
  })());
  await server.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${server.port}`;
  try {
    const root = await httpRequest(`${base}/`);
    assert.is(root.status, 200);
    assert.match(String(root.headers['content-type']), /^text\/html/);
    assert.is(root.body, '<!doctype html><title>chat</title>');
    assert.is((await httpRequest(`${base}/index.html`)).body, root.body);
    const inspect = await httpRequest(`${base}/inspect`);
    assert.is(inspect.status, 200);
    assert.match(inspect.body, /inspect/);
    const js = await httpRequest(`${base}/app.js`);
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    const head = await httpRequest(`${base}/`, 'HEAD');
    assert.is(head.status, 200);
    assert.is(head.body, '');
    assert.is((await httpRequest(`${base}/missing.html`)).status, 404);
  } finally {
    await new Promise<void>((resolve) => server.server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
});

Http('GET /healthz: 200 JSON with status and connection count', async (ctx) => {
  const res = await httpRequest(`${ctx.tb.url}healthz`);
  assert.is(res.status, 200);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = JSON.parse(res.body) as { status: string; connections: number; uptimeMs: number };
  assert.is(body.status, 'ok');
  assert.is(body.connections, 0);
  assert.type(body.uptimeMs, 'number');
  const c = await TestClient.connect(ctx.tb.wsUrl, 'counted');
  assert.is((JSON.parse((await httpRequest(`${ctx.tb.url}healthz`)).body) as { connections: number }).connections, 1);
  await c.close();
  await waitForNoSessions(ctx.tb.broker);
});

Http('an unknown path: 404', async (ctx) => {
  for (const path of ['nope', 'ws/extra', 'healthz/x', 'index.php']) {
    const res = await httpRequest(`${ctx.tb.url}${path}`);
    assert.is(res.status, 404, path);
  }
});

Http('a plain GET on /ws (no upgrade): 404', async (ctx) => {
  assert.is((await httpRequest(`${ctx.tb.url}ws`)).status, 404);
});

Http('POST and other methods: 405 with Allow', async (ctx) => {
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const res = await httpRequest(`${ctx.tb.url}healthz`, method);
    assert.is(res.status, 405, method);
    assert.is(res.headers.allow, 'GET, HEAD');
  }
  assert.is((await httpRequest(ctx.tb.url, 'POST')).status, 405);
});

Http('an upgrade on an unknown path is refused with 404 before the handshake', async (ctx) => {
  const acceptedBefore = ctx.tb.broker.chat.accepted;
  for (const path of ['chat', 'ws/', 'debugx']) {
    const ws = new WebSocket(`${ctx.tb.url.replace('http', 'ws')}${path}`);
    const status = await withTimeout(
      new Promise<number>((resolve, reject) => {
        ws.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          res.resume();
        });
        ws.on('open', () => reject(new Error(`the upgrade on /${path} was accepted`)));
        ws.on('error', () => {}); // ws reports the refusal as an error too, after the event
      }),
      3000,
      `the upgrade on /${path} to be refused`,
    );
    assert.is(status, 404, path);
    ws.terminate();
  }
  assert.is(ctx.tb.broker.chat.accepted, acceptedBefore, 'no refused upgrade reached the chat gateway');
});

Http.run();
