// The `hubbub` command as a person meets it: `--help` on every command, usage
// mistakes as one line pointing to that help (exit 2), runtime failures as
// one line saying what happened and what to do (exit 1), never the whole
// usage text after an error.
import { createServer } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chatUrl } from '../src/client/client-types.js';
import { runCli } from './helpers/cli.js';

const Cli = suite('hubbub command line');

Cli('every command has --help, exit 0, with its own options', async () => {
  const top = await runCli(['--help']);
  assert.is(top.code, 0);
  assert.match(top.stdout, /hubbub <command> --help/);
  for (const [cmd, option] of [['serve', '--port'], ['inspect', '--sort'], ['chat', '--room']]) {
    const r = await runCli([cmd, '--help']);
    assert.is(r.code, 0, `${cmd} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`usage: hubbub ${cmd}`));
    assert.match(r.stdout, option);
    assert.is(r.stderr, '');
  }
});

Cli('a usage mistake is one line and a pointer to --help (exit 2)', async () => {
  for (const [args, said] of [
    [['serve', '--bogus'], /Unknown option '--bogus'/],
    [['serve', '--port', 'eighty'], /--port must be an integer/],
    [['serve', '--slice-ms', '0'], /--slice-ms must be an integer >= 1, got "0"/],
    [['chat'], /which broker\?/],
    [['chat', '::nope::'], /"::nope::" is not an address: give ws:\/\/host:port/],
    [['frobnicate'], /unknown command "frobnicate"; the commands are serve, inspect and chat/],
  ] as [string[], RegExp][]) {
    const r = await runCli(args);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, said);
    assert.ok(r.stderr.trim().split('\n').length <= 2, `short: ${r.stderr}`);
    assert.not.match(r.stderr, /usage:/);
  }
});

Cli('a runtime failure says what happened and what to do, without the usage (exit 1)', async () => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as { port: number }).port;
  try {
    const r = await runCli(['serve', '--host', '127.0.0.1', '--port', String(port)], { HUBBUB_LOG_LEVEL: 'silent' });
    assert.is(r.code, 1, r.stderr);
    assert.match(r.stderr, /EADDRINUSE/);
    assert.match(r.stderr, new RegExp(`another process has port ${port}.*--port`));
    assert.not.match(r.stderr, /usage:/);
  } finally {
    await new Promise((resolve) => busy.close(resolve));
  }
  const gone = await runCli(['inspect', `127.0.0.1:${port}`, '--token', 't', '--once']);
  assert.is(gone.code, 1);
  assert.match(gone.stderr, /cannot reach ws:\/\/127\.0\.0\.1:\d+\/debug: .*ECONNREFUSED.*is the broker running there\?/);
  assert.not.match(gone.stderr, /usage:|token=/);
});

Cli('host:port without a scheme is a ws:// address', () => {
  assert.is(chatUrl('127.0.0.1:9500'), 'ws://127.0.0.1:9500/ws');
  assert.is(chatUrl('localhost:9500', 'al'), 'ws://localhost:9500/ws?name=al');
  assert.is(chatUrl('https://chat.example/'), 'wss://chat.example/ws');
  assert.throws(() => chatUrl('::nope::'));
});

Cli.run();
