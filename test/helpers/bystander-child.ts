// A Bystander in a process of its own, driven over IPC: a bystander that
// shares the test process measures that process too, so a test whose readers
// parse megabyte pages (or whose broker runs in-process) sees its own stalls in
// the bystander's p99, not the broker's. The child runs the same Bystander
// class; only the commands and the numbers cross the channel.
//
// Run as a script (`node bystander-child.js '<connect args JSON>'`), it
// connects a Bystander and answers { id, op } requests. `BystanderChild` below
// is the parent's side. The child exits when the parent goes (the IPC channel
// closes), and the parent kills it on its own exit and when close() finds it
// lingering, so a failed assertion leaves no process behind.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Bystander } from './bystander.js';
import { withTimeout } from './wait.js';

type Percentiles = { p50: number; p99: number };
type Measured = { p50: number; p99: number; count: number; max: number };

/** What the child connects with: Bystander.connect's arguments, as far as they survive JSON. */
interface ConnectArgs {
  wsUrl: string;
  name: string;
  localAddress?: string;
  via: 'ping' | 'send';
}

type Request =
  | { id: number; op: 'quiet'; count: number }
  | { id: number; op: 'start'; gapMs: number }
  | { id: number; op: 'stop' }
  | { op: 'close' };
type Reply =
  | { type: 'ready' }
  | { type: 'failed'; error: string }
  | { type: 'reply'; id: number; value: unknown }
  | { type: 'error'; id: number; error: string };

const CHILD_PATH = fileURLToPath(import.meta.url);

export class BystanderChild {
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | string>;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly #killOnExit = (): void => this.#kill();
  #nextId = 0;

  private constructor(child: ChildProcess, exited: Promise<number | string>) {
    this.#child = child;
    this.#exited = exited;
    // 'exit' handlers run synchronously as the test process ends (an uncaught
    // throw included): a kill there is the last chance to take the child along.
    process.once('exit', this.#killOnExit);
    child.on('message', (m: Reply) => {
      if (m.type !== 'reply' && m.type !== 'error') return;
      const p = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (m.type === 'reply') p?.resolve(m.value);
      else p?.reject(new Error(`bystander child: ${m.error}`));
    });
    void exited.then((code) => {
      process.off('exit', this.#killOnExit);
      for (const p of this.#pending.values()) p.reject(new Error(`bystander child exited (${code}) before it answered`));
      this.#pending.clear();
    });
  }

  /** As Bystander.connect; only `localAddress` of the ws options crosses to the child. */
  static async connect(wsUrl: string, name = 'bystander', options: { localAddress?: string } = {}, via: 'ping' | 'send' = 'ping'): Promise<BystanderChild> {
    const args: ConnectArgs = { wsUrl, name, via, ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }) };
    const child = fork(CHILD_PATH, [JSON.stringify(args)], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
    child.on('error', () => {}); // a send to a child that is gone: the pending request fails on `exited`
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (m: Reply): void => {
        if (m.type !== 'ready' && m.type !== 'failed') return;
        child.off('message', onMessage);
        if (m.type === 'ready') resolve();
        else reject(new Error(`bystander child could not connect: ${m.error}`));
      };
      child.on('message', onMessage);
    });
    const by = new BystanderChild(child, exited);
    try {
      await withTimeout(
        Promise.race([ready, exited.then((c) => Promise.reject(new Error(`bystander child exited (${c}) before it was ready`)))]),
        10_000, 'the bystander child to connect',
      );
    } catch (e) {
      by.#kill();
      throw e;
    }
    return by;
  }

  get pid(): number {
    return this.#child.pid!;
  }

  async quiet(count = 60): Promise<number> {
    return (await this.quietPercentiles(count)).p99;
  }

  quietPercentiles(count = 60): Promise<Percentiles> {
    // The child's own round trips are bounded at 10 s each; this bounds the whole.
    return this.#request({ op: 'quiet', count }, count * 10_000 + 5000) as Promise<Percentiles>;
  }

  /** Resolves once the child's loop runs (a promise, unlike Bystander's: the command crosses a channel). */
  async start(gapMs = 10): Promise<void> {
    await this.#request({ op: 'start', gapMs }, 10_000);
  }

  /**
   * The measurement of every attack test: a warm-up round thrown away (a
   * fresh broker and bystander run cold code), the quiet p99, then `attack`
   * with the loop running. The loop stops even when the attack throws.
   */
  async around<T>(attack: () => Promise<T>): Promise<{ quiet: number; under: Measured; result: T }> {
    await this.quiet();
    const quiet = await this.quiet();
    await this.start();
    let result: T;
    let under: Measured;
    try {
      result = await attack();
    } finally {
      under = await this.stop();
    }
    return { quiet, under, result };
  }

  /** As Bystander.stop; the child's last round trip may take up to its 60 s bound. */
  stop(): Promise<Measured> {
    return this.#request({ op: 'stop' }, 65_000) as Promise<Measured>;
  }

  /** Closes the bystander's client and ends the child (SIGKILL if it lingers); safe after the child died. */
  async close(): Promise<void> {
    if (this.#running()) this.#child.send({ op: 'close' } satisfies Request, () => {}); // a send error: the child is gone already
    await withTimeout(this.#exited, 5000, 'the bystander child to exit').catch(() => {
      this.#kill();
      return this.#exited;
    });
  }

  #running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  #kill(): void {
    if (this.#running()) this.#child.kill('SIGKILL');
  }

  #request(body: { op: 'quiet'; count: number } | { op: 'start'; gapMs: number } | { op: 'stop' }, timeoutMs: number): Promise<unknown> {
    if (!this.#running()) return Promise.reject(new Error(`bystander child is gone; cannot ${body.op}`));
    const id = ++this.#nextId;
    const reply = new Promise<unknown>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    this.#child.send({ ...body, id } satisfies Request);
    return withTimeout(reply, timeoutMs, `the bystander child to answer ${body.op}`).finally(() => this.#pending.delete(id));
  }
}

// --- the child's side ---

async function runChild(): Promise<void> {
  process.on('disconnect', () => process.exit(0)); // the test process went away
  const args = JSON.parse(process.argv[2] ?? '{}') as ConnectArgs;
  let by: Bystander;
  try {
    by = await Bystander.connect(args.wsUrl, args.name, args.localAddress === undefined ? {} : { localAddress: args.localAddress }, args.via);
  } catch (e) {
    process.send!({ type: 'failed', error: String(e) } satisfies Reply);
    return;
  }
  const answer = (id: number, work: () => Promise<unknown>): void => {
    work().then(
      (value) => process.send!({ type: 'reply', id, value } satisfies Reply),
      (e: unknown) => process.send!({ type: 'error', id, error: e instanceof Error ? e.message : String(e) } satisfies Reply),
    );
  };
  process.on('message', (m: Request) => {
    switch (m.op) {
      case 'quiet':
        return answer(m.id, () => by.quietPercentiles(m.count));
      case 'start':
        return answer(m.id, async () => by.start(m.gapMs));
      case 'stop':
        return answer(m.id, () => by.stop());
      case 'close':
        // No reply: the parent waits for the exit. A close handshake that fails still ends in one.
        return void by.close().finally(() => process.exit(0));
    }
  });
  process.send!({ type: 'ready' } satisfies Reply);
}

if (process.argv[1] === CHILD_PATH) await runChild();
