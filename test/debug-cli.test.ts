// The command line around the debug channel, as real processes: `hubbub serve`
// logs a generated token (and never a configured one), `--no-debug` turns the
// channel off, and `hubbub inspect` draws a screen or says why it cannot.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli, type CliRun } from './helpers/cli.js';
import { chatClient, startBroker, upgradeStatus, type Msg } from './helpers/debug-helpers.js';
import { applyKey, initialView, type InspectView } from '../src/debug/inspect-cli.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const WAIT_MS = 10_000;

interface Served {
  child: ChildProcess;
  port: number;
  lines: Msg[];
}

/** Starts `hubbub serve --port 0` and waits for its startup log lines. */
function serve(args: string[], env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--host', '127.0.0.1', ...args], {
    env: { ...process.env, HUBBUB_LOG_LEVEL: 'info', HUBBUB_DEBUG_TOKEN: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    const lines: Msg[] = [];
    let buf = '';
    let port = 0;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hubbub serve did not log its startup within ${WAIT_MS} ms: ${JSON.stringify(lines)}`));
    }, WAIT_MS);
    child.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = JSON.parse(buf.slice(0, nl)) as Msg;
        buf = buf.slice(nl + 1);
        lines.push(line);
        if (typeof line.url === 'string') port = Number(new URL(line.url).port);
        // The debug line follows the listening line; with --no-debug there is none.
        const done = port > 0 && (args.includes('--no-debug') || lines.some((l) => typeof l.debug === 'string'));
        if (done) {
          clearTimeout(timer);
          resolve({ child, port, lines });
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`hubbub serve exited early (${code})`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve();
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('hubbub serve did not exit within 10 s of SIGTERM'));
    }, WAIT_MS);
    child.removeAllListeners('exit');
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Runs `hubbub inspect ...` to its end. */
function runInspect(args: string[]): Promise<CliRun> {
  return runCli(['inspect', ...args], {}, WAIT_MS);
}

const Cli = suite('hubbub serve / inspect and the debug channel');

Cli('serve logs a generated token that opens the channel', async () => {
  const s = await serve([]);
  try {
    const line = s.lines.find((l) => typeof l.debug === 'string')!;
    assert.type(line.debugToken, 'string');
    assert.match(line.msg, line.debugToken);
    assert.is(line.inspector, `http://127.0.0.1:${s.port}/inspect`);
    assert.is(await upgradeStatus(line.debug), 101, 'the logged URL works as is');
    assert.is(await upgradeStatus(`ws://127.0.0.1:${s.port}/debug?token=nope`), 401);
  } finally {
    await stop(s.child);
  }
});

Cli('a configured token is used and never written to the log', async () => {
  const s = await serve(['--debug-token', 'from-the-flag-1234']);
  try {
    assert.not.match(JSON.stringify(s.lines), 'from-the-flag-1234');
    assert.is(await upgradeStatus(`ws://127.0.0.1:${s.port}/debug?token=from-the-flag-1234`), 101);
  } finally {
    await stop(s.child);
  }
  const e = await serve([], { HUBBUB_DEBUG_TOKEN: 'from-the-env-5678' });
  try {
    assert.not.match(JSON.stringify(e.lines), 'from-the-env-5678');
    assert.is(await upgradeStatus(`ws://127.0.0.1:${e.port}/debug?token=from-the-env-5678`), 101);
  } finally {
    await stop(e.child);
  }
});

Cli('--no-debug turns the channel off', async () => {
  const s = await serve(['--no-debug']);
  try {
    assert.not.ok(s.lines.some((l) => l.debug !== undefined), 'no debug line in the log');
    assert.is(await upgradeStatus(`ws://127.0.0.1:${s.port}/debug?token=anything`), 404);
  } finally {
    await stop(s.child);
  }
});

Cli('inspect --once draws scheduler stats and the busiest actors', async () => {
  const broker = await startBroker({ debugToken: 'cli-token' });
  try {
    const alice = await chatClient(broker, 'alice-cli', 'lobby');
    const r = await runInspect([`ws://127.0.0.1:${broker.port}`, '--token', 'cli-token', '--once']);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, /scheduler\s+msgs\/s \d+/);
    assert.match(r.stdout, /actors\s+2 live: connecting 0\s+open 1/);
    assert.match(r.stdout, /supervisor/);
    assert.match(r.stdout, new RegExp(`${alice.session}\\s+alice-cli\\s+open`));
    await alice.close();
    const bad = await runInspect([`127.0.0.1:${broker.port}`, '--token', 'wrong', '--once']);
    assert.is(bad.code, 1);
    assert.match(bad.stderr, /refused the token \(401\)/);
    assert.match(bad.stderr, /--debug-token/, 'it says how to keep a token across restarts');
    const none = await runInspect([`127.0.0.1:${broker.port}`, '--once']);
    assert.is(none.code, 2, 'no token is a usage error');
    assert.match(none.stderr, /needs --token/);
  } finally {
    await broker.close();
  }
});

Cli('inspect sorts naturally, filters and pages, by flags as by keys', async () => {
  const broker = await startBroker({ debugToken: 'cli-token' });
  const clients = [];
  try {
    for (let i = 0; i < 12; i++) clients.push(await chatClient(broker, `u${i}`, i % 2 === 0 ? 'even' : undefined));
    const base = [`ws://127.0.0.1:${broker.port}`, '--token', 'cli-token', '--once'];
    const byId = await runInspect([...base, '--sort', 'id']);
    assert.is(byId.code, 0, byId.stderr);
    const ids = [...byId.stdout.matchAll(/^(c\d+)\s/gm)].map((m) => Number(m[1].slice(1)));
    assert.ok(ids.length >= 12, byId.stdout);
    assert.equal(ids, [...ids].sort((a, b) => a - b), 'c9 before c10: natural order, not string order');
    assert.match(byId.stdout, /page 1 of 1/);
    const found = await runInspect([...base, '--search', 'u1']);
    const users = [...found.stdout.matchAll(/^c\d+\s+(u\d+)\s/gm)].map((m) => m[1]).sort();
    assert.equal(users, ['u1', 'u10', 'u11']);
    const paged = await runInspect([...base, '--sort', 'id', '--page', '9']);
    assert.match(paged.stdout, /no actor matches/);
    const badSort = await runInspect([...base, '--sort', 'size']);
    assert.is(badSort.code, 2);
    assert.match(badSort.stderr, /--sort must be one of busiest, id/);
  } finally {
    for (const c of clients) await c.close();
    await broker.close();
  }
});

Cli('inspect keys: s sorts by the next column, f filters by the next state, / searches, n and p page, q quits', () => {
  let v: InspectView = initialView();
  const press = (...keys: string[]): InspectView => {
    for (const k of keys) {
      const next = applyKey(v, k);
      assert.ok(next !== 'quit', `${JSON.stringify(k)} must not quit here`);
      v = next;
    }
    return v;
  };
  assert.is(press('s').sort, 'id');
  assert.is(press('s').sort, 'user');
  assert.is(press('f').state, 'open');
  assert.is(press('n', 'n').page, 2);
  assert.is(press('p').page, 1);
  press('/', 'a', 'l', 'x', '\x7f', 'i');
  assert.is(v.typing, 'ali');
  assert.is(v.search, '', 'not applied until Enter');
  assert.is(applyKey(v, 'q') !== 'quit' && (applyKey(v, 'q') as InspectView).typing, 'aliq', 'q while typing is a letter');
  press('\r');
  assert.equal([v.search, v.typing, v.page], ['ali', null, 0], 'Enter applies the search and goes to page 1');
  press('/', '\x1b');
  assert.is(v.search, '', 'Esc clears the search');
  assert.is(applyKey(v, 'q'), 'quit');
  assert.is(applyKey(v, '\x03'), 'quit');
});

Cli.run();
