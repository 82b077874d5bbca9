// Drives a program in a real pseudo-terminal, as a person would: node-pty
// runs it with a fixed size and an xterm emulator (@xterm/headless) renders
// what it prints, in this process, so tests type keys and read the screen,
// colours included, with no system package (no tmux).
import { spawn, type IPty } from '@lydell/node-pty';
import xterm from '@xterm/headless';
import { until } from './client-waits.js';

/** Key names as a person would say them, to the bytes a terminal sends. */
const KEYS: Record<string, string> = {
  Enter: '\r', Tab: '\t', Escape: '\x1b', Backspace: '\x7f',
  Up: '\x1b[A', Down: '\x1b[B', Right: '\x1b[C', Left: '\x1b[D',
  'C-a': '\x01', 'C-c': '\x03', 'C-d': '\x04', 'C-e': '\x05', 'C-l': '\x0c', 'C-u': '\x15', 'C-w': '\x17',
};

export class TerminalSession {
  readonly #pty: IPty;
  readonly #term: xterm.Terminal;
  #exit: number | string | null = null;
  /** Output written to the emulator but maybe not parsed yet: screen() waits for it. */
  #writing: Promise<void> = Promise.resolve();

  private constructor(pty: IPty, term: xterm.Terminal, public rows: number, public columns: number) {
    this.#pty = pty;
    this.#term = term;
    pty.onData((data) => {
      this.#writing = new Promise((resolve) => term.write(data, resolve));
    });
    pty.onExit(({ exitCode, signal }) => {
      this.#exit = signal ? `signal ${signal}` : exitCode;
    });
  }

  /** Starts `command` (argv) in a terminal of the given size, with the environment given (merged over ours). */
  static start(command: string[], size = { columns: 100, rows: 30 }, env: Record<string, string | undefined> = {}): TerminalSession {
    const merged: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, TERM: 'xterm-256color', ...env })) if (v !== undefined) merged[k] = v;
    const pty = spawn(command[0], command.slice(1), { name: 'xterm-256color', cols: size.columns, rows: size.rows, env: merged });
    const term = new xterm.Terminal({ cols: size.columns, rows: size.rows, allowProposedApi: true });
    return new TerminalSession(pty, term, size.rows, size.columns);
  }

  /** Resizes the terminal as a person dragging the window would: the program gets SIGWINCH; the emulator re-wraps what it shows. */
  async resize(columns: number, rows: number): Promise<void> {
    await this.#writing;
    this.#pty.resize(columns, rows);
    this.#term.resize(columns, rows);
    this.columns = columns;
    this.rows = rows;
  }

  /** Types text as it is. */
  async type(text: string): Promise<void> {
    this.#pty.write(text);
  }

  /** Presses keys by name: Enter, C-u, Left... */
  async press(...keys: string[]): Promise<void> {
    for (const k of keys) {
      const bytes = KEYS[k];
      if (bytes === undefined) throw new Error(`no key named ${k}`);
      this.#pty.write(bytes);
    }
  }

  /** The screen as rendered, one string per row. */
  async screen(): Promise<string[]> {
    await this.#writing;
    const buffer = this.#term.buffer.active;
    const rows: string[] = [];
    for (let y = 0; y < this.rows; y++) rows.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? '');
    return rows;
  }

  /** The palette colour (0-15) the first `text` on screen is drawn in; null: default colour or not on screen. */
  async colourOf(text: string): Promise<number | null> {
    const rows = await this.screen();
    const y = rows.findIndex((r) => r.includes(text));
    if (y < 0) return null;
    const buffer = this.#term.buffer.active;
    const cell = buffer.getLine(buffer.viewportY + y)!.getCell(rows[y].indexOf(text));
    return cell?.isFgPalette() ? cell.getFgColor() : null;
  }

  /** Waits until the screen passes `check`; on timeout the error shows the screen. */
  async waitFor(check: (rows: string[]) => boolean, what: string, timeoutMs = 10_000): Promise<string[]> {
    let last: string[] = [];
    await until(async () => check((last = await this.screen())), timeoutMs, () => `${what}; the screen was:\n${last.join('\n')}`);
    return last;
  }

  waitForText(text: string, timeoutMs?: number): Promise<string[]> {
    return this.waitFor((rows) => rows.some((r) => r.includes(text)), `"${text}" on screen`, timeoutMs);
  }

  /** The program's exit status once it has exited (`signal N` when a signal ended it), else null. */
  async exitStatus(): Promise<number | string | null> {
    return this.#exit;
  }

  async kill(): Promise<void> {
    if (this.#exit === null) this.#pty.kill();
    this.#term.dispose();
  }
}
