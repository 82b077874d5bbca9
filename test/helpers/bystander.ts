// A bystander for attack tests: an ordinary client that keeps measuring its
// own round trips (ping -> pong) while an attack runs, so a test can compare
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

  private constructor(client: TestClient) {
    this.#client = client;
  }

  /** `options`: the ws client's, e.g. localAddress to come from another address than an attacker's. */
  static async connect(wsUrl: string, name = 'bystander', options: ClientOptions = {}): Promise<Bystander> {
    return new Bystander(await TestClient.connect(wsUrl, name, options));
  }

  /** Measures `count` round trips one after another and returns their p99 (ms). */
  async quiet(count = 60): Promise<number> {
    const samples: number[] = [];
    for (let i = 0; i < count; i++) samples.push(await this.#roundTrip(10_000));
    return p99(samples);
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
  async stop(): Promise<{ p99: number; count: number; max: number }> {
    this.#running = false;
    await this.#loop;
    return { p99: p99(this.#samples), count: this.#samples.length, max: Math.max(0, ...this.#samples) };
  }

  close(): Promise<unknown> {
    return this.#client.close();
  }

  async #roundTrip(timeoutMs: number): Promise<number> {
    const id = `b${++this.#seq}`;
    const started = performance.now();
    this.#client.send({ op: 'ping', id });
    await this.#client.nextOf('pong', { id }, timeoutMs);
    return performance.now() - started;
  }
}

export function p99(samples: number[]): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))];
}

/** The bound a bystander's p99 under attack must stay under: a ratio of its quiet p99, with a floor for a noisy shared machine. */
export function attackBound(quietP99: number, ratio = 5, floorMs = 250): number {
  return Math.max(quietP99 * ratio, quietP99 + floorMs);
}
