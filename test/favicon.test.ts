// Both pages have an icon: /favicon.svg, linked from each page, and the same
// icon at /favicon.ico, which browsers ask for anyway (it was a 404).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startBroker } from './helpers/broker.js';
import { httpRequest } from './helpers/http.js';

const Icon = suite('favicon');

Icon('the icon is served at /favicon.svg and /favicon.ico, and both pages link it', async () => {
  const tb = await startBroker();
  try {
    for (const path of ['favicon.svg', 'favicon.ico']) {
      const r = await httpRequest(`${tb.url}${path}`);
      assert.is(r.status, 200, path);
      assert.is(r.headers['content-type'], 'image/svg+xml', path);
      assert.match(r.body, /^<svg /);
    }
    for (const page of ['', 'inspect']) {
      const r = await httpRequest(`${tb.url}${page}`);
      assert.match(r.body, /<link rel="icon" href="\/favicon.svg" type="image\/svg\+xml">/, `/${page}`);
    }
  } finally {
    await tb.broker.close();
  }
});

Icon.run();
