#!/usr/bin/env node
// The `hubbub` command. `hubbub serve` starts a broker (what `npm start` runs).
import { parseArgs } from 'node:util';
import { Broker, defaultConfig, type BrokerConfig } from './broker.js';

const USAGE = `usage: hubbub <command> [options]

commands:
  serve     start a broker (embedded defaults: port 8080, in-memory)

serve options:
  --port <n>             port to listen on (default 8080; env PORT)
  --host <addr>          address to bind (default 0.0.0.0)
  --heartbeat-ms <n>     ping interval; a peer silent for one interval is closed (default 30000)
  --max-frame <bytes>    largest client frame (default 65536)
  --log-level <level>    pino level: trace debug info warn error silent (default info)
`;

async function serve(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'max-frame': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (values['log-level'] !== undefined) process.env.HUBBUB_LOG_LEVEL = values['log-level'];
  const config: Partial<BrokerConfig> = { ...defaultConfig() };
  const port = values.port ?? process.env.PORT;
  if (port !== undefined) config.port = intOption('--port', port);
  if (values.host !== undefined) config.host = values.host;
  if (values['heartbeat-ms'] !== undefined) config.heartbeatIntervalMs = intOption('--heartbeat-ms', values['heartbeat-ms']);
  if (values['max-frame'] !== undefined) config.maxFrameBytes = intOption('--max-frame', values['max-frame']);

  const broker = await Broker.start(config);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    broker.log.info({ signal }, 'shutting down: closing clients with 1001');
    broker.close().then(
      () => process.exit(0),
      (err: unknown) => {
        broker.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Announced only once a signal can stop it cleanly: whoever waits for this line may signal at once.
  broker.log.info({ url: broker.url, pid: process.pid }, `hubbub listening on ${broker.url} (chat: ${broker.url}, WebSocket: ${broker.url.replace('http', 'ws')}ws)`);
}

function intOption(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) fail(`${name} must be a non-negative integer, got "${value}"`);
  return n;
}

function fail(message: string): never {
  process.stderr.write(`hubbub: ${message}\n\n${USAGE}`);
  process.exit(2);
}

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case 'serve':
    await serve(rest).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
    break;
  case undefined:
  case 'help':
  case '--help':
  case '-h':
    process.stdout.write(USAGE);
    break;
  default:
    fail(`unknown command "${command}"`);
}
