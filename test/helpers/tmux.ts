// Drives a program in a real terminal, as a person would: tmux (on a private
// server socket per session, no user config) runs it in a pane of a fixed
// size; tests type with send-keys and read the screen with capture-pane.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { until } from './client-waits.js';

const run = promisify(execFile);
export const TMUX = '/usr/bin/tmux';
let sessions = 0;

export class TmuxSession {
  readonly #socket: string;

  private constructor(socket: string, readonly rows: number, readonly columns: number) {
    this.#socket = socket;
  }

  /** Starts `command` in a new detached session; the pane stays after the program exits (to read its status). */
  static async start(command: string[], size = { columns: 100, rows: 30 }): Promise<TmuxSession> {
    const socket = `hubbub-test-${process.pid}-${++sessions}`;
    const session = new TmuxSession(socket, size.rows, size.columns);
    await session.#tmux(
      'new-session', '-d', '-s', 'main', '-x', String(size.columns), '-y', String(size.rows), '--', ...command,
      ';', 'set-option', '-t', 'main', 'remain-on-exit', 'on',
    );
    return session;
  }

  async #tmux(...args: string[]): Promise<string> {
    const { stdout } = await run(TMUX, ['-L', this.#socket, '-f', '/dev/null', ...args], { timeout: 10_000 });
    return stdout;
  }

  /** Types text literally (no key names). */
  async type(text: string): Promise<void> {
    await this.#tmux('send-keys', '-t', 'main', '-l', text);
  }

  /** Presses keys by tmux name: Enter, C-u, Left... */
  async press(...keys: string[]): Promise<void> {
    await this.#tmux('send-keys', '-t', 'main', ...keys);
  }

  /** The screen, one string per row (colour codes stripped by tmux). */
  async screen(): Promise<string[]> {
    const text = await this.#tmux('capture-pane', '-p', '-t', 'main');
    const rows = text.replace(/\n$/, '').split('\n');
    while (rows.length < this.rows) rows.push('');
    return rows;
  }

  /** The screen with its SGR colour codes. */
  async colouredScreen(): Promise<string> {
    return this.#tmux('capture-pane', '-p', '-e', '-t', 'main');
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

  /** Whether the program has exited, and with what status. */
  /** The program's exit status once it has ended (null while it runs), or `signal N` if a signal ended it. */
  async exitStatus(): Promise<number | string | null> {
    const out = await this.#tmux('display-message', '-p', '-t', 'main', '#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}');
    const [dead, status, signal] = out.trim().split('|');
    if (dead !== '1') return null;
    return status !== '' ? Number(status) : `signal ${signal}`;
  }

  async kill(): Promise<void> {
    await this.#tmux('kill-server').catch(() => {}); // already gone is fine
  }
}
