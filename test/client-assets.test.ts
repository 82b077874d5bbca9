// The browser build of the client is served from tsc's output by following its
// relative imports: every module it needs, at the path the browser resolves
// (the wire contract in /protocol/ included), and no Node module.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { browserModules } from '../src/transport/client-assets.js';
import { startBroker, type TestBroker } from './helpers/broker.js';
import { httpRequest } from './helpers/http.js';

const Assets = suite<{ tb: TestBroker }>('client-assets', {} as { tb: TestBroker });

Assets.before(async (ctx) => {
  ctx.tb = await startBroker();
});
Assets.after(async (ctx) => {
  await ctx.tb.broker.close();
});

Assets('the browser build reaches the wire contract and no Node-only module', () => {
  const names = [...browserModules().keys()];
  assert.ok(names.includes('client/browser.js'), 'the entry');
  assert.ok(names.includes('protocol/errors.js'), 'the client imports the error base class from src/protocol');
  for (const nodeOnly of ['client/index.js', 'client/socket-node.js', 'client/terminal-chat.js']) {
    assert.not.ok(names.includes(nodeOnly), `${nodeOnly} is not served`);
  }
});

Assets('every module of the browser build is served at its own path, as JavaScript', async (ctx) => {
  for (const name of browserModules().keys()) {
    const res = await httpRequest(new URL(`/${name}`, ctx.tb.url).href);
    assert.is(res.status, 200, `/${name}`);
    assert.match(String(res.headers['content-type']), /^text\/javascript/, `/${name}`);
  }
  const outside = await httpRequest(new URL('/transport/client-assets.js', ctx.tb.url).href);
  assert.is(outside.status, 404, 'a module the browser build does not import is not served');
});

Assets.run();
