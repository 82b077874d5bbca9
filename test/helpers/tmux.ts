// Drives a program in a real terminal, as a person would: tmux (on a private
// server socket per session, no user config) runs it in a pane of a fixed
// size; tests type with send-keys and read the screen with capture-pane.
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { until } from './client-waits.js';

const run = promisify(execFile);
export const TMUX = '/usr/bin/tmux';
let sessions = 0;

export class TmuxSession {
  readonly #socket: string;
  readonly #statusFile: string;

  private constructor(socket: string, readonly rows: number, readonly columns: number) {
    this.#socket = socket;
    this.#statusFile = join(tmpdir(), `${socket}.status`);
  }

  /**
   * Starts `command` in a new detached session. A shell around it writes its
   * exit status to a file: tmux can show a pane dead before it has reaped the
   * process, and then never say with what status (seen under load).
   */
  static async start(command: string[], size = { columns: 100, rows: 30 }): Promise<TmuxSession> {
    const socket = `hubbub-test-${process.pid}-${++sessions}`;
    const session = new TmuxSession(socket, size.rows, size.columns);
    await session.#tmux(
      'new-session', '-d', '-s', 'main', '-x', String(size.columns), '-y', String(size.rows), '--',
      'sh', '-c', '"$@"; echo $? > "$0"', session.#statusFile, ...command,
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
  /** The program's exit status once it has exited (`signal N` when a signal ended it), else null. */
  async exitStatus(): Promise<number | string | null> {
    let text: string;
    try {
      text = readFileSync(this.#statusFile, 'utf8').trim();
    } catch {
      return null; // not exited yet
    }
    if (text === '') return null; // the shell is writing it
    const status = Number(text);
    return status > 128 ? `signal ${status - 128}` : status;
  }

  async kill(): Promise<void> {
    await this.#tmux('kill-server').catch(() => {}); // already gone is fine
    rmSync(this.#statusFile, { force: true });
  }
}
