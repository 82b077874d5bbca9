#!/usr/bin/env node
// The `hubbub` command. `hubbub serve` starts a broker (what `npm start` runs);
// `hubbub inspect` watches one through its debug channel.
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Broker, defaultConfig, type BrokerConfig } from './broker.js';
import { PRESENCE_TTL_MS } from './constants.js';
import { inspect } from './debug/inspect-cli.js';
import type { Backplane } from './transport/backplane/backplane.js';
import { ClusterBackplane, processChannel } from './transport/backplane/cluster-backplane.js';
import { RedisBackplane } from './transport/backplane/redis-backplane.js';
import { runPrimary, type ListeningNote } from './workers.js';

const USAGE = `usage: hubbub <command> [options]

commands:
  serve     start a broker (embedded defaults: port 8080, in-memory)
  inspect   a top-like view of a running broker: hubbub inspect ws://host:port --token T
  chat      terminal chat: hubbub chat ws://host:port --room lobby --name alice

serve options:
  --port <n>             port to listen on (default 8080; env PORT)
  --host <addr>          address to bind (default 0.0.0.0)
  --heartbeat-ms <n>     ping interval; a peer silent for one interval is closed (default 30000)
  --max-frame <bytes>    largest client frame (default 65536)
  --log-level <level>    pino level: trace debug info warn error silent (default info)
  --redis <url>          join other nodes through Redis, e.g. redis://127.0.0.1:6379
                         (env HUBBUB_REDIS; default: none, everything in memory)
  --workers <n>          run n worker processes sharing the port, one scheduler each
                         (default 0: this process serves)
  --history-size <n>     messages kept per room for history and recovery (default 100)
  --presence-ttl-ms <n>  with --redis: a node silent this long is dead and its users
                         leave every room (default 15000)
  --debug-token <t>      secret of the /debug channel (env HUBBUB_DEBUG_TOKEN; default: generated, logged)
  --no-debug             turn off the /debug channel and the /inspect page

inspect options:
  --token <t>            the broker's debug token (env HUBBUB_DEBUG_TOKEN)
  --interval <ms>        refresh period (default 1000)
  --once                 print one screen and exit
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
      redis: { type: 'string' },
      workers: { type: 'string' },
      'history-size': { type: 'string' },
      'presence-ttl-ms': { type: 'string' },
      'debug-token': { type: 'string' },
      'no-debug': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (values['log-level'] !== undefined) process.env.HUBBUB_LOG_LEVEL = values['log-level'];
  const config: BrokerConfig = { ...defaultConfig() };
  const port = values.port ?? process.env.PORT;
  if (port !== undefined) config.port = intOption('--port', port);
  if (values.host !== undefined) config.host = values.host;
  if (values['heartbeat-ms'] !== undefined) config.heartbeatIntervalMs = intOption('--heartbeat-ms', values['heartbeat-ms']);
  if (values['max-frame'] !== undefined) config.maxFrameBytes = intOption('--max-frame', values['max-frame']);
  if (values['history-size'] !== undefined) config.historySize = intOption('--history-size', values['history-size']);
  const presenceTtlMs = values['presence-ttl-ms'] === undefined ? PRESENCE_TTL_MS : intOption('--presence-ttl-ms', values['presence-ttl-ms']);
  const redisUrl = values.redis ?? process.env.HUBBUB_REDIS;
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) fail(`--redis must be a redis:// URL, got "${redisUrl}"`);
  const workers = values.workers === undefined ? 0 : intOption('--workers', values.workers);
  if (values['debug-token'] !== undefined) config.debugToken = values['debug-token'];
  if (values['no-debug']) config.debug = false;

  if (workers > 0 && cluster.isPrimary) {
    // One debug token for every worker (they inherit the environment): a debug
    // client may land on any of them. Each worker's channel shows its own actors.
    if (config.debug && config.debugToken === null) {
      config.debugToken = randomBytes(18).toString('base64url');
      process.env.HUBBUB_DEBUG_TOKEN = config.debugToken;
      config.logger.info({ debugToken: config.debugToken }, `debug token ${config.debugToken} (generated; set HUBBUB_DEBUG_TOKEN to choose one)`);
    }
    runPrimary({
      workers, hub: redisUrl === undefined, historySize: config.historySize,
      historyRetentionMs: config.historyRetentionMs, shutdownTimeoutMs: config.shutdownTimeoutMs, log: config.logger,
    });
    return;
  }
  const worker = cluster.isWorker ? Number(process.env.HUBBUB_WORKER ?? cluster.worker?.id ?? 0) : null;
  if (worker !== null) config.logger = config.logger.child({ worker });
  let backplane: Backplane | null = null;
  if (redisUrl !== undefined) {
    backplane = new RedisBackplane({
      url: redisUrl, historySize: config.historySize, historyRetentionMs: config.historyRetentionMs,
      presenceTtlMs, log: config.logger,
    });
  } else if (worker !== null) {
    backplane = new ClusterBackplane(processChannel());
  }
  config.backplane = backplane;

  // Signals first: one that comes while the broker starts must still stop it cleanly.
  let broker: Broker | null = null;
  let stopping: string | null = null;
  const stop = (why: string): void => {
    if (stopping !== null) return;
    stopping = why;
    if (broker === null) return; // start() finishes, then sees `stopping`
    broker.log.info({ signal: why }, 'shutting down: closing clients with 1001');
    broker.close().then(
      () => process.exit(0),
      (err: unknown) => {
        broker!.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // A worker whose primary is gone has no one to hand it connections or messages.
  if (worker !== null) process.on('disconnect', () => stop('primary gone'));

  broker = await Broker.start(config);
  // The debug line comes first: whoever waits for the listening line has the token then.
  const debug = broker.debug;
  if (debug !== null && worker === null) {
    const wsUrl = `${broker.url.replace('http', 'ws')}debug?token=${debug.tokenGenerated ? debug.token : '<token>'}`;
    broker.log.info(
      { debug: wsUrl, inspector: `${broker.url}inspect`, ...(debug.tokenGenerated ? { debugToken: debug.token } : {}) },
      `debug channel: ${wsUrl} (inspector: ${broker.url}inspect${debug.tokenGenerated ? `, token ${debug.token}, generated; set HUBBUB_DEBUG_TOKEN to choose one` : ', token from --debug-token/HUBBUB_DEBUG_TOKEN'})`,
    );
  }
  // Announced only once a signal can stop it cleanly: whoever waits for this line may signal at once.
  if (worker !== null) {
    broker.log.info({ port: broker.port, backplane: broker.backplane.kind }, 'worker listening');
    process.send!({ hubbub: 'listening', url: broker.url } satisfies ListeningNote);
  } else {
    broker.log.info({ url: broker.url, pid: process.pid, backplane: broker.backplane.kind },
      `hubbub listening on ${broker.url} (chat: ${broker.url}, WebSocket: ${broker.url.replace('http', 'ws')}ws)`);
  }
  if (stopping !== null) {
    const why: string = stopping;
    stopping = null;
    stop(why);
  }
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
  case 'inspect':
    await inspect(rest).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
    break;
  case 'chat': {
    const { runChat } = await import('./client/terminal-chat.js');
    await runChat(rest).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
    process.exit(); // stdin may still hold the loop open; the chat is over
  }
  case undefined:
  case 'help':
  case '--help':
  case '-h':
    process.stdout.write(USAGE);
    break;
  default:
    fail(`unknown command "${command}"`);
}
