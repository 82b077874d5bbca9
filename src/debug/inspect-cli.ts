// `hubbub inspect ws://host:port --token T`: a top-like terminal view of a
// running broker, through its debug channel. Every second: scheduler stats,
// actors by state, and the busiest actors (most messages among the last ones
// handled), then the screen is redrawn. `--once` prints one screen and exits
// (for scripts and tests). q or Ctrl-C quits.
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import type { ActorItem } from './actor-query.js';
import type { StatsReply } from './stats-sampler.js';

interface TopReply {
  type: 'top';
  window: { size: number; since: number };
  items: (ActorItem & { recent: number })[];
}

/** Accepts ws://, wss://, http://, https:// or host:port, with or without /debug. */
export function debugUrl(target: string, token: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(target) ? target : `ws://${target}`;
  const url = new URL(withScheme);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/debug';
  url.searchParams.set('token', token);
  return url.toString();
}

export async function inspect(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      token: { type: 'string' },
      interval: { type: 'string' },
      once: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) throw new Error('inspect: see the options below');
  const token = values.token ?? process.env.HUBBUB_DEBUG_TOKEN;
  if (token === undefined || token === '') throw new Error('inspect needs --token (or HUBBUB_DEBUG_TOKEN): the broker logs it at start');
  const intervalMs = values.interval === undefined ? 1000 : Number(values.interval);
  if (!Number.isInteger(intervalMs) || intervalMs < 100) throw new Error('--interval must be an integer >= 100 (ms)');
  const target = positionals[0] ?? 'ws://127.0.0.1:8080';
  let client: DebugClient;
  try {
    client = await DebugClient.connect(debugUrl(target, token));
  } catch (err) {
    // Not a usage error: say what happened, without the usage text.
    process.stderr.write(`hubbub inspect: ${(err as Error).message}\n`);
    process.exit(1);
  }

  const frame = async (): Promise<string> => {
    const rows = process.stdout.rows || 40;
    const [stats, top] = await Promise.all([
      client.request<StatsReply>({ op: 'stats' }),
      client.request<TopReply>({ op: 'top', limit: Math.max(5, rows - 10) }),
    ]);
    return renderTop(target, stats, top, process.stdout.columns || 120, rows, process.stdout.isTTY === true);
  };

  if (values.once) {
    process.stdout.write(await frame());
    client.close();
    return;
  }
  const tty = process.stdout.isTTY === true;
  const quit = (): void => {
    if (tty) process.stdout.write('\x1b[?25h\n'); // cursor back
    client.close();
    process.exit(0);
  };
  process.on('SIGINT', quit);
  if (process.stdin.isTTY) {
    process.stdin.setRawMode(true);
    process.stdin.on('data', (key: Buffer) => {
      if (key[0] === 0x71 || key[0] === 0x03) quit(); // q, Ctrl-C
    });
  }
  client.onClose = (code, reason) => {
    process.stderr.write(`\nhubbub inspect: connection closed (${code}${reason ? ` ${reason}` : ''})\n`);
    process.exit(code === 1000 || code === 1001 ? 0 : 1);
  };
  if (tty) process.stdout.write('\x1b[?25l'); // hide the cursor while redrawing
  for (;;) {
    const screen = await frame();
    process.stdout.write(tty ? `\x1b[H\x1b[2J${screen}` : `${screen}\n`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** One screen of the view. Pure: the same replies draw the same text. */
export function renderTop(target: string, stats: StatsReply, top: TopReply, columns: number, rows: number, tty = false): string {
  const s = stats.scheduler;
  const by = stats.actors.byState;
  const lines = [
    `hubbub inspect ${target}   up ${duration(stats.uptimeMs)}   ${new Date(stats.at).toISOString().slice(11, 19)}`,
    `scheduler  msgs/s ${n(stats.rates.messagesPerSec)}  slices/s ${n(stats.rates.slicesPerSec)}  runQueue ${s.runQueue} (max ${s.runQueueMax})  globalQueue ${s.globalQueue}  runnext ${s.runnext ? 'yes' : 'no'}`,
    `           slices ${n(s.slices)}  budgetYields ${n(s.budgetYields)}  sliceYields ${n(s.sliceYields)}  overruns ${n(s.overruns)}  maxSlice ${s.maxSliceMs.toFixed(1)}ms  slowHandlers ${n(s.slowHandlers)}  dropped ${n(s.dropped)}  failures ${n(s.failures)}`,
    `actors     ${n(stats.actors.total)} live: connecting ${n(by.connecting)}  open ${n(by.open)}  closing ${n(by.closing)}   rooms ${n(stats.rooms)}  sockets ${n(stats.connections)}`,
    `busiest    of the last ${n(top.window.size)} messages handled${top.window.since > 0 ? ` (since ${duration(stats.at - top.window.since)} ago)` : ''}`,
    '',
  ];
  const header = [pad('ID', 12), pad('USER', 18), pad('STATE', 11), padL('MBOX', 6), padL('HANDLED', 10), padL('RECENT', 7), padL('IDLE', 7), '  ROOMS'].join('');
  lines.push(tty ? `\x1b[7m${pad(header, columns)}\x1b[0m` : header);
  const room = Math.max(0, rows - lines.length - 1);
  for (const a of top.items.slice(0, room)) {
    const line = [
      pad(a.id, 12), pad(a.user ?? '-', 18), pad(a.state, 11), padL(n(a.mailbox), 6), padL(n(a.handled), 10),
      padL(n(a.recent), 7), padL(duration(a.lastActiveMs), 7), `  ${a.rooms.join(',')}`,
    ].join('');
    lines.push(line.slice(0, columns));
  }
  if (top.items.length === 0) lines.push('(no messages handled yet)');
  return `${lines.join('\n')}\n`;
}

function n(x: number): string {
  return x.toLocaleString('en-US');
}

function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const sec = Math.floor(ms / 1000);
  if (sec < 60) return `${sec}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m${String(sec % 60).padStart(2, '0')}s`;
  return `${Math.floor(sec / 3600)}h${String(Math.floor(sec / 60) % 60).padStart(2, '0')}m`;
}

function pad(s: string, w: number): string {
  return s.length >= w ? `${s.slice(0, w - 1)} ` : s.padEnd(w);
}

function padL(s: string, w: number): string {
  return s.padStart(w);
}

/** A request/reply client of the debug channel: replies are matched by `req`. */
export class DebugClient {
  readonly #ws: WebSocket;
  readonly #waiting = new Map<number, (reply: Record<string, unknown>) => void>();
  #nextId = 0;
  onClose: ((code: number, reason: string) => void) | null = null;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as Record<string, unknown>;
      const key = typeof msg.req === 'number' ? msg.req : undefined;
      const resolve = key === undefined ? undefined : this.#waiting.get(key);
      if (resolve !== undefined) {
        this.#waiting.delete(key!);
        resolve(msg);
      }
    });
    ws.on('close', (code, reason) => this.onClose?.(code, reason.toString()));
  }

  static connect(url: string): Promise<DebugClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('open', () => resolve(new DebugClient(ws)));
      ws.once('unexpected-response', (_req, res) => {
        reject(new Error(res.statusCode === 401 ? 'the broker refused the token (401)' : `the broker answered HTTP ${res.statusCode}`));
        ws.terminate();
      });
      ws.once('error', (err) => reject(new Error(`cannot reach ${url.replace(/token=[^&]*/, 'token=…')}: ${err.message}`)));
    });
  }

  /** Sends an op and resolves with its reply (typed by the caller: the channel's contract is docs/debug.md). */
  request<T = Record<string, unknown>>(op: Record<string, unknown>): Promise<T> {
    const id = ++this.#nextId;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, (reply) => (reply.type === 'error' ? reject(new Error(String(reply.message))) : resolve(reply as T)));
      this.#ws.send(JSON.stringify({ ...op, req: id }));
    });
  }

  close(): void {
    this.#ws.close(1000);
  }
}
