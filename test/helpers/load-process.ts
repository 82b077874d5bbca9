// The parent's side of load-clients.ts: forks it and sends it commands, each
// awaited with a bound; a child that dies fails the waiting command at once.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './wait.js';

const SCRIPT = fileURLToPath(new URL('./load-clients.js', import.meta.url));

export class LoadProcess {
  readonly child: ChildProcess;
  readonly #exited: Promise<never>;

  /** `execArgv` goes to node (e.g. --cpu-prof). */
  constructor(readonly label: string, execArgv: string[] = []) {
    this.child = fork(SCRIPT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
    this.#exited = new Promise<never>((_, reject) => {
      this.child.once('exit', (code, signal) => reject(new Error(`load process ${label} exited (${code ?? signal})`)));
    });
    this.#exited.catch(() => {}); // only a command that is waiting cares
  }

  /** Sends a command and resolves with the child's reply to it. */
  request<T>(cmd: string, body: object, timeoutMs: number): Promise<T> {
    const answered = new Promise<T>((resolve) => {
      const onMessage = (m: { cmd: string }): void => {
        if (m.cmd !== cmd) return;
        this.child.off('message', onMessage);
        resolve(m as T);
      };
      this.child.on('message', onMessage);
    });
    this.child.send({ cmd, ...body });
    return withTimeout(Promise.race([answered, this.#exited]), timeoutMs, `${this.label}: reply to ${cmd}`);
  }

  /** Resolves once the child has exited by itself (after `exit`), bounded. */
  exited(timeoutMs: number): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return withTimeout(new Promise<void>((resolve) => this.child.once('exit', () => resolve())), timeoutMs, `${this.label} to exit`);
  }

  /** Ends the child (its sockets with it); safe to call twice. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
