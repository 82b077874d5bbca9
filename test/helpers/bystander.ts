// A bystander for attack tests: an ordinary client that keeps measuring its
// own round trips while an attack runs: ping -> pong (the connection's own
// actor answers) or, `via: 'send'`, a message to a room of its own -> its ack
// (through the supervisor and the backplane, as every chat message goes), so a test can compare
// its p99 under attack with its p99 measured quiet, in the same run, on the
// same machine: ratios, not absolute times.
import type { ClientOptions } from 'ws';
import { TestClient } from './client.js';

export class Bystander {
  readonly #client: TestClient;
  #samples: number[] = [];
  #running = false;
  #loop: Promise<void> = Promise.resolve();
  #seq = 0;

  private constructor(client: TestClient, readonly room: string | null) {
    this.#client = client;
  }

  /**
   * `options`: the ws client's, e.g. localAddress to come from another address than an attacker's.
   * `via`: what a round trip is (above); 'send' joins a room named after the bystander first.
   */
  static async connect(wsUrl: string, name = 'bystander', options: ClientOptions = {}, via: 'ping' | 'send' = 'ping'): Promise<Bystander> {
    const client = await TestClient.connect(wsUrl, name, options);
    if (via === 'ping') return new Bystander(client, null);
    const room = `${name}-room`;
    client.send({ op: 'join', room, id: 'bystander-join' });
    await client.nextOf('joined', { room });
    return new Bystander(client, room);
  }

  /** Measures `count` round trips one after another and returns their p99 (ms). */
  async quiet(count = 60): Promise<number> {
    return (await this.quietPercentiles(count)).p99;
  }

  /** Measures `count` round trips one after another; their p50 and p99 (ms). */
  async quietPercentiles(count = 60): Promise<{ p50: number; p99: number }> {
    const samples: number[] = [];
    for (let i = 0; i < count; i++) samples.push(await this.#roundTrip(10_000));
    return { p50: percentile(samples, 0.5), p99: p99(samples) };
  }

  /** Starts measuring in the background (one round trip every `gapMs`) until `stop`. */
  start(gapMs = 10): void {
    this.#running = true;
    this.#samples = [];
    this.#loop = (async () => {
      while (this.#running) {
        this.#samples.push(await this.#roundTrip(60_000));
        await new Promise((r) => setTimeout(r, gapMs));
      }
    })();
  }

  /** Stops and returns the p99 and count of what was measured since `start`. */
  async stop(): Promise<{ p50: number; p99: number; count: number; max: number }> {
    this.#running = false;
    await this.#loop;
    const s = this.#samples;
    return { p50: percentile(s, 0.5), p99: p99(s), count: s.length, max: Math.max(0, ...s) };
  }

  close(): Promise<unknown> {
    return this.#client.close();
  }

  async #roundTrip(timeoutMs: number): Promise<number> {
    const id = `b${++this.#seq}`;
    const started = performance.now();
    if (this.room === null) {
      this.#client.send({ op: 'ping', id });
      await this.#client.nextOf('pong', { id }, timeoutMs);
    } else {
      this.#client.send({ op: 'send', room: this.room, text: id, id });
      await this.#client.nextOf('ack', { id }, timeoutMs);
      this.#client.received.length = 0; // its own echoes, kept by the test client, would pile up over a long run
    }
    return performance.now() - started;
  }
}

export function p99(samples: number[]): number {
  return percentile(samples, 0.99);
}

/** The sample at fraction `q` of the sorted samples (0 for none). */
export function percentile(samples: number[], q: number): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
}

/** The bound a bystander's p99 under attack must stay under: a ratio of its quiet p99, with a floor for a noisy shared machine. */
export function attackBound(quietP99: number, ratio = 5, floorMs = 250): number {
  return Math.max(quietP99 * ratio, quietP99 + floorMs);
}
