// The command line around the debug channel, as real processes: `hubbub serve`
// logs a generated token (and never a configured one), `--no-debug` turns the
// channel off, and `hubbub inspect` draws a screen or says why it cannot.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chatClient, startBroker, upgradeStatus, type Msg } from './helpers/debug-helpers.js';

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
function runInspect(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'inspect', ...args], { env: { ...process.env, HUBBUB_DEBUG_TOKEN: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hubbub inspect did not finish within ${WAIT_MS} ms: ${stdout}${stderr}`));
    }, WAIT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
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
    const none = await runInspect([`127.0.0.1:${broker.port}`, '--once']);
    assert.is(none.code, 2, 'no token is a usage error');
    assert.match(none.stderr, /needs --token/);
  } finally {
    await broker.close();
  }
});

Cli.run();
