// `hubbub chat ws://host:port --room lobby --name alice`: chat in a terminal.
//
// The client library does the talking (reconnects, rejoins, queues while
// offline); this file turns its events into coloured lines and typed lines
// into ops. On a terminal it draws with TerminalScreen (messages scroll above,
// the input line stays put); with stdin or stdout not a terminal it reads and
// prints plain lines, so it can be scripted.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { HubbubError } from '../protocol/errors.js';
import { chatUrl } from './client-types.js';
import { CloseCode } from './wire.js';
import { backWords, closeWords, createClient, OutageWatch, type HubbubClient, type StateChange } from './index.js';
import { messageBody, printableName, TerminalScreen } from './terminal-screen.js';

const HELP = `commands: /join room · /leave [room] · /who [room] · /dm name text · /quit · /help
a line without a slash goes to the current room`;

const USAGE = `usage: hubbub chat <ws://host:port> [--room lobby] [--name alice] [--token t]\n\n${HELP}\n`;

/** Name colours (SGR foreground codes), picked by a hash of the name so each person keeps one. */
const COLOURS = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96];

interface Output {
  print(line: string): void;
  status(text: string): void;
  prompt(text: string): void;
  stop(): void;
}

export async function runChat(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      room: { type: 'string', default: 'lobby' },
      name: { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (positionals.length !== 1) throw new HubbubError('usage', positionals.length === 0 ? 'which broker? give its address: hubbub chat ws://host:port' : `one address only; got ${positionals.length}: ${positionals.join(' ')}`);
  try {
    chatUrl(positionals[0]);
  } catch {
    throw new HubbubError('usage', `"${positionals[0]}" is not an address: give ws://host:port (or host:port)`);
  }
  const chat = new TerminalChat(positionals[0], values.room!, values.name, values.token);
  await chat.run();
}

class TerminalChat {
  readonly #client: HubbubClient;
  readonly #out: Output;
  readonly #colour: boolean;
  #current: string | null;
  #quitting = false;
  /** Rooms whose member list was shown: a rejoin after an outage does not show it again. */
  readonly #shown = new Set<string>();

  constructor(url: string, room: string, name: string | undefined, token: string | undefined) {
    const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
    this.#colour = tty && process.env.NO_COLOR === undefined;
    this.#out = tty ? new TerminalScreen() : lineOutput();
    this.#current = room;
    this.#client = createClient(url, { name, token, retryFirst: false, rooms: new Map([[room, null]]) });
  }

  run(): Promise<void> {
    const client = this.#client;
    const screen = this.#out;
    if (screen instanceof TerminalScreen) {
      screen.onLine((line) => this.#input(line));
      screen.onQuit(() => this.#quit());
      screen.start();
    } else {
      const rl = createInterface({ input: process.stdin });
      rl.on('line', (line) => line.trim() !== '' && this.#input(line));
      rl.on('close', () => this.#quit());
    }
    this.#updatePrompt();
    this.#sys(`connecting to ${client.url.replace(/\?.*/, '')} …  (/help for commands)`);
    client.on('state', (s) => this.#showState(s));
    let welcomed = false;
    client.on('welcome', (w) => {
      if (!welcomed) this.#sys(`connected as ${this.#name(w.user)}`);
      welcomed = true;
      if (w.asked !== undefined) this.#sys(`you are now ${this.#name(w.user)} (${printableName(w.asked)} was taken)`);
      this.#showState({ state: 'open', attempt: 0 });
    });
    // One line when the connection drops and one when every room is back, however many retries between.
    const outage = new OutageWatch(client);
    outage.on('down', (d) => !this.#quitting && this.#sys(`${d.words}; reconnecting…`));
    outage.on('back', (b) => this.#sys(backWords(b.caughtUp, b.gap)));
    client.on('joined', (j) => {
      if (this.#shown.has(j.room)) return;
      this.#shown.add(j.room);
      this.#sys(`joined #${printableName(j.room)} — here (${j.count}): ${j.users.map((u) => this.#name(u)).join(', ')}`);
    });
    client.on('presence', (p) => {
      if (p.event === 'batch') this.#sys(`#${printableName(p.room)}: ${p.joined.length} joined, ${p.left.length} left (${p.count} here)`);
      else this.#sys(`${this.#name(p.user)} ${p.event === 'join' ? 'joined' : 'left'} #${printableName(p.room)}`);
    });
    client.on('message', (m) => {
      const where = m.room === this.#current ? '' : this.#dim(`#${printableName(m.room)} `);
      this.#out.print(`${this.#time(m.ts)} ${where}${this.#sender(m.from, m.fromName)}: ${messageBody(m.text)}`);
    });
    client.on('dm', (d) => this.#out.print(`${this.#time(d.ts)} ${this.#paint('[dm]', 35)} ${this.#sender(d.from, d.fromName)} → you: ${messageBody(d.text)}`));
    client.on('error', (err) => this.#sys(`error: ${printableName(err.message)}`));
    return new Promise((resolve) => {
      client.on('close', ({ code, reason }) => {
        if (!this.#quitting) {
          this.#out.stop();
          // A kick's reason is the operator's own words; other reasons are for programs.
          const why = code === CloseCode.kicked && reason ? `: ${printableName(reason)}` : '';
          process.stderr.write(client.user === ''
            ? `hubbub chat: could not connect to ${client.url.replace(/\?.*/, '')}: is the broker running there (and is a --token needed)?\n`
            : `hubbub chat: ${closeWords(code)}${why}\n`);
          process.exitCode = 1;
        }
        resolve();
      });
    });
  }

  #input(line: string): void {
    if (!line.startsWith('/')) {
      const room = this.#current;
      if (room === null) return this.#sys('join a room first: /join room');
      this.#client.send(room, line).catch((err: Error) => this.#sys(`not sent: ${printableName(err.message)}`));
      return;
    }
    const [cmd, ...args] = line.trim().split(/\s+/);
    switch (cmd) {
      case '/join': {
        const room = args[0]?.replace(/^#/, '');
        if (!room) return this.#sys('usage: /join room');
        this.#client.join(room).then(
          () => {
            this.#current = room;
            this.#updatePrompt();
          },
          (err: Error) => this.#sys(`could not join #${room}: ${printableName(err.message)}`),
        );
        return;
      }
      case '/leave': {
        const room = args[0]?.replace(/^#/, '') ?? this.#current;
        if (room === null) return this.#sys('usage: /leave room');
        this.#shown.delete(room);
        this.#client.leave(room).then(() => this.#sys(`left #${room}`), (err: Error) => this.#sys(`could not leave #${room}: ${printableName(err.message)}`));
        if (room === this.#current) this.#current = this.#client.rooms[0] ?? null;
        this.#updatePrompt();
        return;
      }
      case '/who': {
        const room = args[0]?.replace(/^#/, '') ?? this.#current;
        if (room === null) return this.#sys('usage: /who room');
        this.#client.who(room).then(
          (w) => this.#sys(`#${printableName(w.room)} (${w.count}): ${w.users.map((u) => this.#name(u)).join(', ')}`),
          (err: Error) => this.#sys(`who failed: ${printableName(err.message)}`),
        );
        return;
      }
      case '/dm': {
        const [to, ...words] = args;
        const text = words.join(' ');
        if (!to || !text) return this.#sys('usage: /dm name text');
        this.#client.dm(to, text).then(
          () => this.#out.print(`${this.#time(Date.now())} ${this.#paint('[dm]', 35)} you → ${this.#name(to)}: ${messageBody(text)}`),
          (err: Error) => this.#sys(`dm not sent: ${printableName(err.message)}`),
        );
        return;
      }
      case '/quit':
      case '/exit':
        return this.#quit();
      case '/help':
        return this.#sys(HELP);
      default:
        return this.#sys(`unknown command ${cmd}; /help lists them`);
    }
  }

  #quit(): void {
    if (this.#quitting) return;
    this.#quitting = true;
    this.#out.stop();
    this.#client.close();
  }

  #showState(s: StateChange): void {
    const client = this.#client;
    const where = this.#current === null ? 'no room' : `#${this.#current}`;
    const state = s.state === 'open' ? 'connected'
      : s.state === 'reconnecting' ? `reconnecting (try ${s.attempt}${s.delayMs !== undefined ? `, in ${(s.delayMs / 1000).toFixed(1)} s` : ''})`
      : s.state;
    const queued = client.queued > 0 ? ` · ${client.queued} waiting to send` : '';
    this.#out.status(` hubbub · ${client.user || '…'} · ${where} · ${state}${queued}`);
  }

  #updatePrompt(): void {
    this.#out.prompt(this.#current === null ? '> ' : `#${this.#current}> `);
    this.#showState({ state: this.#client.state, attempt: 0 });
  }

  #sys(text: string): void {
    this.#out.print(this.#dim(`${this.#time(Date.now())} * ${text}`));
  }

  #time(ts: number): string {
    const d = new Date(ts);
    return this.#dim(`${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`);
  }

  /** The sender's id, and a display name beside it (never instead: anyone may choose any display name). */
  #sender(from: string, fromName: string | undefined): string {
    return fromName === undefined ? this.#name(from) : `${printableName(fromName)} (${this.#name(from)})`;
  }

  #name(raw: string): string {
    const name = printableName(raw);
    let h = 0;
    for (const c of name) h = (h * 31 + c.codePointAt(0)!) >>> 0;
    const painted = this.#paint(name, COLOURS[h % COLOURS.length]);
    return name === this.#client.user && this.#colour ? `\x1b[1m${painted}` : painted;
  }

  #paint(text: string, sgr: number): string {
    return this.#colour ? `\x1b[${sgr}m${text}\x1b[39;22m` : text;
  }

  #dim(text: string): string {
    return this.#colour ? `\x1b[2m${text}\x1b[22m` : text;
  }
}

/** Plain lines, for pipes and scripts. */
function lineOutput(): Output {
  return {
    print: (line) => process.stdout.write(`${line}\n`),
    status: () => {},
    prompt: () => {},
    stop: () => {},
  };
}
