// ws's internals, as the pong fast path uses them (src/transport/ws-fast-path.ts).
// The fast path turns itself off quietly when ws differs (correct, only
// slower: idle CPU goes up, see that file's header); this test is where a
// changed ws shows up instead, naming what changed. It also holds package.json
// to an exact ws version, since a caret range would let `npm install` bring a
// ws whose internals nobody checked.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startBroker, waitForNoSessions } from './helpers/broker.js';
import { TestClient } from './helpers/client.js';
import type { HubSocket } from '../src/transport/hub-socket.js';
import { fastPathProblems, usesFastPath } from '../src/transport/ws-fast-path.js';

const WsInternals = suite('ws-internals');
const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };

WsInternals('package.json pins ws exactly, to the version installed', () => {
  const wanted = pkg.dependencies.ws;
  assert.ok(/^\d+\.\d+\.\d+$/.test(wanted), `ws must be pinned to an exact version while src/transport/ws-fast-path.ts reads its internals; package.json has "${wanted}"`);
  const installed = (require('ws/package.json') as { version: string }).version;
  assert.is(installed, wanted, `node_modules has ws ${installed}, package.json pins ${wanted}: run npm ci`);
});

WsInternals('a broker socket reads through the fast path: every internal it needs is where it was', async () => {
  if (process.env.HUBBUB_WS_FAST_PATH === 'off') return;
  const tb = await startBroker();
  const client = await TestClient.connect(tb.wsUrl, 'probe');
  try {
    const problems = fastPathProblems();
    assert.ok(problems !== null, 'the first socket should have probed ws');
    assert.ok(problems.length === 0, `ws's internals changed; the pong fast path is off:\n  - ${problems.join('\n  - ')}`);
    const socket = tb.broker.supervisor.findUser('probe')!.peer as HubSocket;
    assert.ok(socket.raw !== null && usesFastPath(socket.raw), "the socket's 'data' listener should be the fast path's");
  } finally {
    await client.close();
    await waitForNoSessions(tb.broker);
    await tb.broker.close();
  }
});

WsInternals.run();
