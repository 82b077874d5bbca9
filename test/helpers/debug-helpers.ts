// Test helpers for the debug channel: a debug socket that buffers what it
// receives and lets a test wait for the message it expects or the reply to an
// op (bounded, failing with a message that says what was awaited). Chat
// clients are test/helpers/client.ts's TestClient.
import { WebSocket } from 'ws';
import { Broker, type BrokerConfig } from '../../src/broker.js';
import { createLogger } from '../../src/log.js';
import { TestClient } from './client.js';

// biome-ignore lint/suspicious/noExplicitAny: replies are checked field by field in the tests
export type Msg = Record<string, any>;

const DEFAULT_WAIT_MS = 5000;

export class TestSocket {
  readonly ws: WebSocket;
  readonly #inbox: Msg[] = [];
  readonly #waiters = new Set<{ pred: (m: Msg) => boolean; resolve: (m: Msg) => void }>();
  #nextId = 0;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as Msg;
      for (const w of this.#waiters) {
        if (w.pred(msg)) {
          this.#waiters.delete(w);
          w.resolve(msg);
          return;
        }
      }
      this.#inbox.push(msg);
    });
  }

  /** Opens a socket; rejects with the HTTP status when the upgrade is refused. */
  static open(url: string, headers: Record<string, string> = {}): Promise<TestSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      const t = new TestSocket(ws);
      ws.once('open', () => resolve(t));
      ws.once('unexpected-response', (_req, res) => {
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode }));
        ws.terminate();
      });
      ws.once('error', reject);
    });
  }

  send(msg: unknown): void {
    this.ws.send(JSON.stringify(msg));
  }

  /** The first message (already received or to come) that matches; fails after `ms`. */
  next(pred: (m: Msg) => boolean, what: string, ms = DEFAULT_WAIT_MS): Promise<Msg> {
    const i = this.#inbox.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.#inbox.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (m: Msg) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(w);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      }, ms);
      this.#waiters.add(w);
    });
  }

  /** Debug channel: sends an op with a fresh `req` and waits for its reply (or error). */
  request(op: Msg, ms = DEFAULT_WAIT_MS): Promise<Msg> {
    const req = ++this.#nextId;
    this.send({ ...op, req });
    return this.next((m) => m.req === req, `the reply to ${JSON.stringify(op)}`, ms);
  }

  close(): void {
    this.ws.close();
  }
}

export function startBroker(overrides: Partial<BrokerConfig> = {}): Promise<Broker> {
  // A drop is a leave at once, as tests of other things expect; name-grace.test.ts sets a grace.
  return Broker.start({ port: 0, host: '127.0.0.1', presenceGraceMs: 0, logger: createLogger('silent'), ...overrides });
}

export function wsBase(broker: Broker): string {
  return `ws://127.0.0.1:${broker.port}`;
}

export function debugSocket(broker: Broker, token = broker.debug!.token): Promise<TestSocket> {
  return TestSocket.open(`${wsBase(broker)}/debug?token=${encodeURIComponent(token)}`);
}

/** The HTTP status an upgrade to `url` gets: 101 when it opens. */
export async function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  try {
    const t = await TestSocket.open(url, headers);
    t.close();
    return 101;
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (status === undefined) throw err;
    return status;
  }
}

/** A chat client (test/helpers/client.ts) that is welcomed, and joined to `room` when given. */
export async function chatClient(broker: Broker, name: string, room?: string): Promise<TestClient> {
  const client = await TestClient.connect(`${wsBase(broker)}/ws`, name);
  if (room !== undefined) {
    client.send({ op: 'join', room });
    await client.next((m) => m.type === 'joined' && m.room === room, DEFAULT_WAIT_MS, `${name} joined ${room}`);
  }
  return client;
}
