#!/usr/bin/env -S node --max-semi-space-size=1
// --max-semi-space-size=1 (MB): V8's young generation otherwise grows to 32 MB
// during a connection ramp and keeps it, ~1.7 KB of RSS per connection at 19k
// idle connections; the bench saw no throughput loss from the cap.
// The `hubbub` command. `hubbub serve` starts a broker (what `npm start` runs);
// `hubbub inspect` watches one through its debug channel.
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseRoomRules, type RoomRules } from './actors/room-access.js';
import { Broker, defaultConfig, type BrokerConfig } from './broker.js';
import { PRESENCE_TTL_MS } from './constants.js';
import { inspect } from './debug/inspect-cli.js';
import { HubbubError } from './protocol/errors.js';
import type { Backplane } from './backplane/backplane.js';
import { ClusterBackplane, processChannel } from './backplane/cluster-backplane.js';
import { RedisBackplane } from './backplane/redis-backplane.js';
import { PrimaryIpCount } from './transport/ip-limit.js';
import { runPrimary, type ListeningNote } from './workers.js';

const USAGE = `usage: hubbub <command> [options]

commands:
  serve     start a broker (embedded defaults: port 8080, in-memory)
  inspect   a top-like view of a running broker: hubbub inspect ws://host:port --token T
  chat      terminal chat: hubbub chat ws://host:port --room lobby --name alice

hubbub <command> --help shows a command's options.
`;

const SERVE_USAGE = `usage: hubbub serve [options]

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
  --history-room-bytes <n> bytes of history kept per room, oldest dropped first
                         (env HUBBUB_HISTORY_ROOM_BYTES; default 1048576)
  --history-budget-bytes <n> bytes of history kept over every room of the process, the
                         process's oldest dropped first (env HUBBUB_HISTORY_BUDGET_BYTES;
                         default 67108864; with --workers, in the primary)
  --history-retention-ms <n> a room's history outlives its last member and message this
                         long (env HUBBUB_HISTORY_RETENTION_MS; default 60000)
  --redis-timeout-ms <n> with --redis: a command unanswered this long fails and the link is
                         redialled, so a hung Redis cannot stall sends (default 2000)
  --presence-ttl-ms <n>  with --redis: a node silent this long is dead and its users
                         leave every room (default 15000)
  --debug-token <t>      secret of the /debug channel (env HUBBUB_DEBUG_TOKEN; default: generated, logged)
  --no-debug             turn off the /debug channel and the /inspect page

security and limits (README: Limits):
  --jwt-secret <s>       require an HS256 JWT (?token= or Authorization: Bearer); names come
                         from its name/sub claims. At least 32 bytes. Prefer the env
                         HUBBUB_JWT_SECRET: arguments are visible to every local user.
                         Without a secret, names are anonymous.
  --public-url <url>     the URL browsers use when it is not the bound address (a proxy,
                         TLS): its origin may connect (env HUBBUB_PUBLIC_URL)
  --allowed-origins <l>  comma-separated origins browsers may connect from besides the
                         broker's own address and --public-url, or * for any
                         (env HUBBUB_ALLOWED_ORIGINS)
  --api-key <k>          turn on the server API under /api/ with this key (docs/api.md); prefer
                         the env HUBBUB_API_KEY (default: off)
  --room-policy <file>   JSON rules of who may read and write which rooms, for connections
                         whose token has no rooms claim, e.g. {"announce":"r","*":"rw"}
                         (env HUBBUB_ROOM_POLICY; default: every room rw; docs/api.md)
  --rate <n>             frames per second per connection, 0 = no limit (default 1000)
  --burst <n>            frames at once per connection (default 2000)
  --presence-charge-members <n> a join or leave costs one more --rate token per this many
                         members of the room (env HUBBUB_PRESENCE_CHARGE_MEMBERS; default 50;
                         0 = off): who makes presence fan-out pays for it
  --presence-grace-ms <n> a dropped user keeps its name and stays listed this long before the
                         others are told it left; back within it, no one sees a thing
                         (env HUBBUB_PRESENCE_GRACE_MS; default 15000; 0 = off)
  --slice-ms <n>         a scheduler slice yields to the event loop after this many ms
                         (env HUBBUB_SLICE_MS; default 10)
  --slice-work-bytes <n> ... or after this many bytes of costly work: frames decoded, events
                         encoded, replies built (env HUBBUB_SLICE_WORK_BYTES; default 65536)
  --reply-charge-bytes <n> a history page, replay or who list costs one more --rate token per
                         this many bytes (env HUBBUB_REPLY_CHARGE_BYTES; default 1024; 0 = off)
  --frame-charge-bytes <n> a client frame costs one more --rate token per this many bytes
                         (env HUBBUB_FRAME_CHARGE_BYTES; default 1024; 0 = one token a frame)
  --max-conns-per-ip <n> open connections per IP address, counted from the accept (pages and
                         sockets still in HTTP too) and across --workers; past it HTTP 429
                         and the socket is closed; 0 = no cap (default 0)
  --max-rooms-per-conn <n> rooms one connection may be in at once (env HUBBUB_MAX_ROOMS_PER_CONN;
                         default 128); a join past it gets error too_many_rooms
  --max-conns <n>        open connections of this process (each worker's own); past it HTTP 503
                         and the socket is closed; 0 = no cap (env HUBBUB_MAX_CONNS; default:
                         the open-file limit, ulimit -n, less a fortieth of it, 64 to 1000)
  --headers-timeout-ms <n> a socket that has not sent a whole request head (an upgrade's too)
                         this long after it connected is answered 408 and closed
                         (env HUBBUB_HEADERS_TIMEOUT_MS; default 10000)
  --max-outbox-bytes <n> unread output per connection before close 1013 (default 4194304)
  --max-outbox-frames <n> unread frames per connection before close 1013 (default 4096)
  --shutdown-ms <n>      SIGTERM: time given to clients before the rest are cut (default 10000)
  --fault-rate <p>       TESTS ONLY: probability that a connection's handler call throws (default 0)
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
      'jwt-secret': { type: 'string' },
      'allowed-origins': { type: 'string' },
      'public-url': { type: 'string' },
      'room-policy': { type: 'string' },
      'api-key': { type: 'string' },
      rate: { type: 'string' },
      burst: { type: 'string' },
      'max-conns-per-ip': { type: 'string' },
      'max-rooms-per-conn': { type: 'string' },
      'presence-charge-members': { type: 'string' },
      'presence-grace-ms': { type: 'string' },
      'reply-charge-bytes': { type: 'string' },
      'slice-ms': { type: 'string' },
      'slice-work-bytes': { type: 'string' },
      'frame-charge-bytes': { type: 'string' },
      'headers-timeout-ms': { type: 'string' },
      'max-conns': { type: 'string' },
      'max-outbox-bytes': { type: 'string' },
      'max-outbox-frames': { type: 'string' },
      'shutdown-ms': { type: 'string' },
      'fault-rate': { type: 'string' },
      redis: { type: 'string' },
      workers: { type: 'string' },
      'history-size': { type: 'string' },
      'history-room-bytes': { type: 'string' },
      'history-budget-bytes': { type: 'string' },
      'history-retention-ms': { type: 'string' },
      'presence-ttl-ms': { type: 'string' },
      'redis-timeout-ms': { type: 'string' },
      'debug-token': { type: 'string' },
      'no-debug': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(SERVE_USAGE);
    return;
  }
  if (values['log-level'] !== undefined) process.env.HUBBUB_LOG_LEVEL = values['log-level'];
  const config: BrokerConfig = { ...defaultConfig() };
  const port = values.port ?? process.env.PORT;
  if (port !== undefined) config.port = intOption('--port', port);
  if (values.host !== undefined) config.host = values.host;
  if (values['heartbeat-ms'] !== undefined) config.heartbeatIntervalMs = intOption('--heartbeat-ms', values['heartbeat-ms']);
  if (values['max-frame'] !== undefined) config.maxFrameBytes = intOption('--max-frame', values['max-frame']);
  const secret = values['jwt-secret'] ?? process.env.HUBBUB_JWT_SECRET;
  if (secret !== undefined && secret !== '') config.jwtSecret = secret;
  const origins = values['allowed-origins'] ?? process.env.HUBBUB_ALLOWED_ORIGINS;
  if (origins !== undefined && origins.trim() !== '') config.allowedOrigins = origins.split(',').map((o) => o.trim()).filter((o) => o !== '');
  const publicUrl = values['public-url'] ?? process.env.HUBBUB_PUBLIC_URL;
  if (publicUrl !== undefined && publicUrl !== '') {
    if (!/^https?:\/\/[^/]/i.test(publicUrl) || !URL.canParse(publicUrl)) fail(`--public-url must be an http:// or https:// URL, got "${publicUrl}"`);
    config.publicUrl = publicUrl;
  }
  if (values['api-key'] !== undefined) config.apiKey = values['api-key'];
  if (config.apiKey !== null && config.apiKey.length < 16) fail('--api-key (or HUBBUB_API_KEY) must be at least 16 characters');
  const roomPolicy = values['room-policy'] ?? process.env.HUBBUB_ROOM_POLICY;
  if (roomPolicy !== undefined && roomPolicy !== '') config.roomPolicy = readRoomPolicy(roomPolicy);
  if (values.rate !== undefined) config.rateLimit = intOption('--rate', values.rate);
  if (values.burst !== undefined) config.rateBurst = intOption('--burst', values.burst, 1);
  config.presenceChargeMembers = intSetting(values['presence-charge-members'], 'HUBBUB_PRESENCE_CHARGE_MEMBERS', '--presence-charge-members') ?? config.presenceChargeMembers;
  config.presenceGraceMs = intSetting(values['presence-grace-ms'], 'HUBBUB_PRESENCE_GRACE_MS', '--presence-grace-ms') ?? config.presenceGraceMs;
  config.sliceBudgetMs = intSetting(values['slice-ms'], 'HUBBUB_SLICE_MS', '--slice-ms', 1) ?? config.sliceBudgetMs;
  config.sliceWorkBytes = intSetting(values['slice-work-bytes'], 'HUBBUB_SLICE_WORK_BYTES', '--slice-work-bytes', 1) ?? config.sliceWorkBytes;
  config.replyChargeBytes = intSetting(values['reply-charge-bytes'], 'HUBBUB_REPLY_CHARGE_BYTES', '--reply-charge-bytes') ?? config.replyChargeBytes;
  config.frameChargeBytes = intSetting(values['frame-charge-bytes'], 'HUBBUB_FRAME_CHARGE_BYTES', '--frame-charge-bytes') ?? config.frameChargeBytes;
  config.maxRoomsPerConn = intSetting(values['max-rooms-per-conn'], 'HUBBUB_MAX_ROOMS_PER_CONN', '--max-rooms-per-conn', 1) ?? config.maxRoomsPerConn;
  if (values['max-conns-per-ip'] !== undefined) config.maxConnsPerIp = intOption('--max-conns-per-ip', values['max-conns-per-ip']);
  config.maxConns = intSetting(values['max-conns'], 'HUBBUB_MAX_CONNS', '--max-conns') ?? config.maxConns;
  config.headersTimeoutMs = intSetting(values['headers-timeout-ms'], 'HUBBUB_HEADERS_TIMEOUT_MS', '--headers-timeout-ms', 100) ?? config.headersTimeoutMs;
  if (values['max-outbox-bytes'] !== undefined) config.maxOutboxBytes = intOption('--max-outbox-bytes', values['max-outbox-bytes'], 1);
  if (values['max-outbox-frames'] !== undefined) config.maxOutboxFrames = intOption('--max-outbox-frames', values['max-outbox-frames'], 1);
  if (values['shutdown-ms'] !== undefined) config.shutdownTimeoutMs = intOption('--shutdown-ms', values['shutdown-ms']);
  if (values['fault-rate'] !== undefined) {
    const p = Number(values['fault-rate']);
    if (!(p >= 0 && p <= 1)) fail(`--fault-rate must be a probability in [0, 1], got "${values['fault-rate']}"`);
    config.faultRate = p;
  }
  if (values['history-size'] !== undefined) config.historySize = intOption('--history-size', values['history-size']);
  config.historyRoomBytes = intSetting(values['history-room-bytes'], 'HUBBUB_HISTORY_ROOM_BYTES', '--history-room-bytes') ?? config.historyRoomBytes;
  config.historyBudgetBytes = intSetting(values['history-budget-bytes'], 'HUBBUB_HISTORY_BUDGET_BYTES', '--history-budget-bytes') ?? config.historyBudgetBytes;
  config.historyRetentionMs = intSetting(values['history-retention-ms'], 'HUBBUB_HISTORY_RETENTION_MS', '--history-retention-ms', 1) ?? config.historyRetentionMs;
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
      historyRetentionMs: config.historyRetentionMs, historyRoomBytes: config.historyRoomBytes,
      historyBudgetBytes: config.historyBudgetBytes, shutdownTimeoutMs: config.shutdownTimeoutMs, log: config.logger,
      maxConnsPerIp: config.maxConnsPerIp,
    });
    return;
  }
  const worker = cluster.isWorker ? Number(process.env.HUBBUB_WORKER ?? cluster.worker?.id ?? 0) : null;
  if (worker !== null) config.logger = config.logger.child({ worker });
  let backplane: Backplane | null = null;
  if (redisUrl !== undefined) {
    backplane = new RedisBackplane({
      url: redisUrl, historySize: config.historySize, historyRetentionMs: config.historyRetentionMs,
      historyRoomBytes: config.historyRoomBytes, historyBudgetBytes: config.historyBudgetBytes,
      presenceTtlMs, log: config.logger,
      ...(values['redis-timeout-ms'] === undefined ? {} : { commandTimeoutMs: intOption('--redis-timeout-ms', values['redis-timeout-ms'], 50) }),
    });
  } else if (worker !== null) {
    backplane = new ClusterBackplane(processChannel());
  }
  config.backplane = backplane;
  // The per-IP cap is the deployment's: the primary counts for every worker.
  if (worker !== null && config.maxConnsPerIp > 0) config.ipSlots = new PrimaryIpCount(config.maxConnsPerIp);

  // Signals first: one that comes while the broker starts must still stop it cleanly.
  let broker: Broker | null = null;
  let stopping: string | null = null;
  const stop = (why: string): void => {
    if (stopping !== null) return;
    stopping = why;
    if (broker === null) return; // start() finishes, then sees `stopping`
    broker.log.info({ signal: why }, 'shutting down: closing clients with 1001');
    // Broker.close ends by itself after shutdownTimeoutMs; this only guards against a bug that hangs it.
    setTimeout(() => {
      broker!.log.error('shutdown did not finish in time; exiting anyway');
      process.exit(1);
    }, broker.config.shutdownTimeoutMs + 5_000).unref();
    broker.close().then(
      () => {
        broker!.log.info({ cut: broker!.shutdownCut }, 'shut down: every client closed or cut at the deadline');
        process.exit(0);
      },
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

/** An integer setting from its flag, else its environment variable (empty counts as unset); undefined when neither. */
function intSetting(flagValue: string | undefined, envName: string, name: string, min = 0): number | undefined {
  const raw = flagValue ?? process.env[envName];
  return raw === undefined || raw === '' ? undefined : intOption(name, raw, min);
}

function intOption(name: string, value: string, min = 0): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) fail(`${name} must be an integer >= ${min}, got "${value}"`);
  return n;
}

/** A usage mistake: one line saying what, one saying where the options are; exit 2. */
function fail(message: string): never {
  throw new HubbubError('usage', message);
}

/**
 * How a command ends in error: a usage mistake (exit 2) points to the
 * command's --help; anything else (exit 1) is one line saying what happened
 * and, for the usual causes, what to do. Never the whole usage text: it
 * scrolls the one line that matters out of sight.
 */
function exitWith(cmd: string, err: unknown): never {
  const usage = (err instanceof HubbubError && err.code === 'usage')
    || (err instanceof TypeError && String((err as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS'));
  const message = err instanceof Error ? err.message : String(err);
  if (usage) {
    process.stderr.write(`hubbub ${cmd}: ${message}\n(hubbub ${cmd} --help lists the options)\n`);
    process.exit(2);
  }
  process.stderr.write(`hubbub ${cmd}: ${message}${hint(err)}\n`);
  process.exit(1);
}

function hint(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  switch (e.code) {
    case 'EADDRINUSE': return `\n  another process has port ${e.port ?? ''} on ${e.address ?? 'this address'}: stop it, or choose another with --port`;
    case 'EACCES': return '\n  ports below 1024 need privileges: choose one above 1024 with --port';
    case 'EADDRNOTAVAIL': return '\n  this machine has no such address: check --host';
    default: return '';
  }
}

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case 'serve':
    await serve(rest).catch((err: unknown) => exitWith('serve', err));
    break;
  case 'inspect':
    await inspect(rest).catch((err: unknown) => exitWith('inspect', err));
    break;
  case 'chat': {
    const { runChat } = await import('./client/terminal-chat.js');
    await runChat(rest).catch((err: unknown) => exitWith('chat', err));
    process.exit(); // stdin may still hold the loop open; the chat is over
    break; // not reached: process.exit returns never, which the linter cannot see
  }
  case undefined:
  case 'help':
  case '--help':
  case '-h':
    process.stdout.write(USAGE);
    break;
  default:
    process.stderr.write(`hubbub: unknown command "${command}"; the commands are serve, inspect and chat (hubbub --help)\n`);
    process.exit(2);
}

/** The --room-policy file's rules, or exit 2 naming what is wrong with it. */
function readRoomPolicy(path: string): RoomRules {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    fail(`--room-policy ${path}: ${(err as Error).message}`);
  }
  const rules = parseRoomRules(json, `--room-policy ${path}`);
  if (typeof rules === 'string') fail(rules);
  return rules;
}
