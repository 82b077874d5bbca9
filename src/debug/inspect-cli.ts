// `hubbub inspect ws://host:port --token T`: a top-like terminal view of a
// running broker, through its debug channel. Every second: scheduler stats,
// actors by state, and a table of actors, then the screen is redrawn. The
// table starts as the busiest actors (most messages among the last ones
// handled); keys, like top's, sort it by any column (s), filter it by state
// (f) or by a text in the id or user (/), and page it (n, p); the same view
// can be asked with flags (--sort, --state, --search, --page), and `--once`
// prints one screen and exits (for scripts and tests). q or Ctrl-C quits.
// Sorting, filtering and paging are the broker's (the `actors` op): the view
// only holds which page it shows.
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { HubbubError } from '../protocol/errors.js';
import { SORT_KEYS, type ActorItem, type SortKey } from './actor-query.js';
import type { StatsReply } from './stats-sampler.js';

interface TopReply {
  type: 'top';
  window: { size: number; since: number };
  items: (ActorItem & { recent: number })[];
}

interface ActorsReply {
  type: 'actors';
  total: number;
  offset: number;
  items: ActorItem[];
}

export const INSPECT_USAGE = `usage: hubbub inspect [ws://host:port] [options]

A top-like view of a running broker through its debug channel
(default target ws://127.0.0.1:8080).

options:
  --token <t>        the broker's debug token (env HUBBUB_DEBUG_TOKEN; the broker logs it at start)
  --interval <ms>    refresh period (default 1000)
  --sort <key>       busiest (default), ${SORT_KEYS.join(', ')}
  --state <s>        only actors in this state: connecting, open, closing
  --search <text>    only actors whose id or user contains it
  --page <n>         the page to show first (default 1)
  --once             print one screen and exit

keys: s sort by the next column   f filter by the next state   / search (Enter ends, Esc clears)
      n next page   p previous page   q quit
`;

/** What the table shows: a sort (or the busiest), filters and a page. */
export interface InspectView {
  sort: 'busiest' | SortKey;
  state: string | null;
  search: string;
  page: number;
  /** The search being typed after `/`, until Enter or Esc; null: not typing. */
  typing: string | null;
}

const SORTS: InspectView['sort'][] = ['busiest', ...SORT_KEYS];
const STATES: (string | null)[] = [null, 'open', 'connecting', 'closing'];

export function initialView(): InspectView {
  return { sort: 'busiest', state: null, search: '', page: 0, typing: null };
}

/** The view after one key (pure, so the keys are tested without a terminal); 'quit' to end. */
export function applyKey(view: InspectView, key: string): InspectView | 'quit' {
  if (view.typing !== null) {
    if (key === '\r' || key === '\n') return { ...view, search: view.typing, typing: null, page: 0 };
    if (key === '\x1b') return { ...view, typing: null, search: '', page: 0 };
    if (key === '\x7f' || key === '\b') return { ...view, typing: view.typing.slice(0, -1) };
    if (key === '\x03') return 'quit';
    const printable = [...key].filter((c) => c >= ' ' && c !== '\x7f').join('');
    return { ...view, typing: (view.typing + printable).slice(0, 64) };
  }
  switch (key) {
    case 'q': case '\x03': return 'quit';
    case 's': return { ...view, sort: SORTS[(SORTS.indexOf(view.sort) + 1) % SORTS.length], page: 0 };
    case 'f': return { ...view, state: STATES[(STATES.indexOf(view.state) + 1) % STATES.length], page: 0 };
    case '/': return { ...view, typing: '' };
    case 'n': case ' ': case '\x1b[6~': return { ...view, page: view.page + 1 };
    case 'p': case '\x1b[5~': return { ...view, page: Math.max(0, view.page - 1) };
    default: return view;
  }
}

/** The busiest list only answers the unfiltered first view; anything else is a page of `actors`. */
function usesTop(view: InspectView): boolean {
  return view.sort === 'busiest' && view.state === null && view.search === '' && view.page === 0;
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
      sort: { type: 'string' },
      state: { type: 'string' },
      search: { type: 'string' },
      page: { type: 'string' },
      once: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(INSPECT_USAGE);
    return;
  }
  const usage = (message: string): never => { throw new HubbubError('usage', message); };
  const token = values.token ?? process.env.HUBBUB_DEBUG_TOKEN;
  if (token === undefined || token === '') usage('needs --token (or HUBBUB_DEBUG_TOKEN): the broker logs its debug token at start');
  const intervalMs = values.interval === undefined ? 1000 : Number(values.interval);
  if (!Number.isInteger(intervalMs) || intervalMs < 100) usage('--interval must be an integer >= 100 (ms)');
  let view = initialView();
  if (values.sort !== undefined) {
    if (!(SORTS as string[]).includes(values.sort)) usage(`--sort must be one of ${SORTS.join(', ')}; got "${values.sort}"`);
    view.sort = values.sort as InspectView['sort'];
  }
  if (values.state !== undefined) view.state = values.state;
  if (values.search !== undefined) view.search = values.search;
  if (values.page !== undefined) {
    const page = Number(values.page);
    if (!Number.isInteger(page) || page < 1) usage(`--page must be an integer >= 1; got "${values.page}"`);
    view.page = page - 1;
  }
  const target = positionals[0] ?? 'ws://127.0.0.1:8080';
  let url: string;
  try {
    url = debugUrl(target, token!);
  } catch {
    return usage(`"${target}" is not an address: give ws://host:port (or host:port)`);
  }
  const client = await DebugClient.connect(url);

  const frame = async (): Promise<string> => {
    const rows = process.stdout.rows || 40;
    const limit = Math.max(5, rows - 11);
    const stats = client.request<StatsReply>({ op: 'stats' });
    const table = usesTop(view)
      ? client.request<TopReply>({ op: 'top', limit })
      : client.request<ActorsReply>({
        op: 'actors', offset: view.page * limit, limit,
        ...(view.sort === 'busiest' ? {} : { sort: view.sort }),
        ...(view.state === null ? {} : { state: view.state }),
        ...(view.search === '' ? {} : { q: view.search }),
      });
    return renderTop(target, await stats, await table, process.stdout.columns || 120, rows, process.stdout.isTTY === true, view, limit);
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
  let redraw: () => void = () => {};
  process.on('SIGINT', quit);
  if (process.stdin.isTTY) {
    process.stdin.setRawMode(true);
    process.stdin.on('data', (key: Buffer) => {
      const next = applyKey(view, key.toString());
      if (next === 'quit') return quit();
      view = next;
      redraw();
    });
  }
  client.onClose = (code, reason) => {
    process.stderr.write(`\nhubbub inspect: the broker closed the debug channel (${closeWords(code)}${reason ? `: ${reason}` : ''})\n`);
    process.exit(code === 1000 || code === 1001 ? 0 : 1);
  };
  if (tty) process.stdout.write('\x1b[?25l'); // hide the cursor while redrawing
  const draw = async (): Promise<void> => {
    const screen = await frame();
    process.stdout.write(tty ? `\x1b[H\x1b[2J${screen}` : `${screen}\n`);
  };
  redraw = () => { draw().catch(() => {}); };
  for (;;) {
    await draw();
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function closeWords(code: number): string {
  if (code === 1001) return 'it is shutting down';
  if (code === 4000) return 'kicked';
  if (code === 1006) return 'connection lost';
  return `close code ${code}`;
}

/** One screen of the view. Pure: the same replies draw the same text. */
export function renderTop(
  target: string, stats: StatsReply, table: TopReply | ActorsReply, columns: number, rows: number, tty = false,
  view: InspectView = initialView(), pageSize = Math.max(5, rows - 11),
): string {
  const s = stats.scheduler;
  const by = stats.actors.byState;
  const lines = [
    `hubbub inspect ${target}   up ${duration(stats.uptimeMs)}   ${new Date(stats.at).toISOString().slice(11, 19)}`,
    `scheduler  msgs/s ${n(stats.rates.messagesPerSec)}  slices/s ${n(stats.rates.slicesPerSec)}  runQueue ${s.runQueue} (max ${s.runQueueMax})  globalQueue ${s.globalQueue}  runnext ${s.runnext ? 'yes' : 'no'}`,
    `           slices ${n(s.slices)}  budgetYields ${n(s.budgetYields)}  sliceYields ${n(s.sliceYields)}  workYields ${n(s.workYields)}  overruns ${n(s.overruns)}  maxSlice ${s.maxSliceMs.toFixed(1)}ms  slowHandlers ${n(s.slowHandlers)}  dropped ${n(s.dropped)}  failures ${n(s.failures)}`,
    `actors     ${n(stats.actors.total)} live: connecting ${n(by.connecting)}  open ${n(by.open)}  closing ${n(by.closing)}   rooms ${n(stats.rooms)}  sockets ${n(stats.connections)}`,
    table.type === 'top'
      ? `busiest    of the last ${n(table.window.size)} messages handled${table.window.since > 0 ? ` (since ${duration(stats.at - table.window.since)} ago)` : ''}`
      : `actors     ${n(table.total)} match   page ${view.page + 1} of ${Math.max(1, Math.ceil(table.total / pageSize))}`,
    keysLine(view),
  ];
  const header = [pad('ID', 12), pad('USER', 18), pad('STATE', 11), padL('MBOX', 6), padL('HANDLED', 10), padL('RECENT', 7), padL('IDLE', 7), '  ROOMS'].join('');
  lines.push(tty ? `\x1b[7m${pad(header, columns)}\x1b[0m` : header);
  const room = Math.max(0, rows - lines.length - 1);
  for (const a of (table.items as (ActorItem & { recent?: number })[]).slice(0, room)) {
    const line = [
      pad(a.id, 12), pad(a.user ?? '-', 18), pad(a.state, 11), padL(n(a.mailbox), 6), padL(n(a.handled), 10),
      padL(a.recent === undefined ? '-' : n(a.recent), 7), padL(duration(a.lastActiveMs), 7), `  ${a.rooms.join(',')}`,
    ].join('');
    lines.push(line.slice(0, columns));
  }
  if (table.items.length === 0) lines.push(table.type === 'top' ? '(no messages handled yet: press s to list actors by id)' : '(no actor matches)');
  return `${lines.join('\n')}\n`;
}

function keysLine(view: InspectView): string {
  const search = view.typing !== null ? `/${view.typing}_` : view.search === '' ? '' : `  search "${view.search}"`;
  return `[s]ort ${view.sort}  [f]ilter ${view.state ?? 'all states'}  [/]search${search}  [n/p] page  [q]uit`;
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
        reject(new Error(res.statusCode === 401
          ? 'the broker refused the token (401): a generated token changes at every restart; start the broker with --debug-token to keep one'
          : `the broker answered HTTP ${res.statusCode}${res.statusCode === 404 ? ': its debug channel is off (--no-debug) or this is not a Hubbub broker' : ''}`));
        ws.terminate();
      });
      ws.once('error', (err) => reject(new Error(`cannot reach ${url.replace(/\?.*$/, '')}: ${err.message}: is the broker running there?`)));
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
