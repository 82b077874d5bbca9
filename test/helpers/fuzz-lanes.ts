// The connections of the fuzz test: well-behaved chatters, text-fuzzing lanes
// (pipelined inputs, each followed by a ping sentinel) and raw frame-fuzzing
// lanes (one raw TCP connection at a time, a new one after each close), each
// checking what the broker answered against the oracle or the frame model.
import WebSocket from 'ws';
import { expectedReply, type FrameInput } from './fuzz-inputs.js';
import { once, withTimeout } from './wait.js';
import { OP_PONG, RawClient, predict, textFrame, type Limits } from './ws-frames.js';

/** The broker's limits the frame model predicts with (its defaults). */
export const LIMITS: Limits = { maxPayload: 64 * 1024, maxFragments: 16 * 1024 };
/** A close the broker initiates over bad input always says why. */
const CODES_WITH_REASON = new Set([1002, 1003, 1007, 1008, 1009]);
const BAD = new Set(['bad_json', 'bad_request', 'unknown_op']);

export type Ev = { type: string; code?: string; ref?: unknown; id?: unknown; room?: string; seq?: number; message?: string };

/** Decoded server events of a plain ws client, with a wake-up for waiters. */
export class EventClient {
  readonly events: Ev[] = [];
  closed: number | null = null;
  closeReason = '';
  #wake: (() => void) | null = null;

  constructor(readonly ws: WebSocket, readonly name: string) {
    ws.on('message', (data) => {
      this.events.push(JSON.parse(String(data)) as Ev);
      this.#wake?.();
    });
    ws.on('close', (code, reason) => {
      this.closed = code;
      this.closeReason = reason.toString();
      this.#wake?.();
    });
    ws.on('error', () => {});
  }

  static async open(wsUrl: string, name: string, room: string): Promise<EventClient> {
    const ws = new WebSocket(`${wsUrl}?name=${name}`, { perMessageDeflate: false });
    const c = new EventClient(ws, name);
    await once(ws, 'open', 5000, `${name} to connect`);
    c.send({ op: 'join', room });
    await c.until((e) => e.type === 'joined', 5000, 'joined');
    return c;
  }

  send(op: object | string): void {
    this.ws.send(typeof op === 'string' ? op : JSON.stringify(op));
  }

  /** Waits until some event from `from` on matches; returns its index. */
  async until(pred: (e: Ev) => boolean, timeoutMs: number, what: string, from = 0): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let i = from;
    for (;;) {
      for (; i < this.events.length; i++) if (pred(this.events[i])) return i;
      if (this.closed !== null) throw new Error(`${this.name} closed (${this.closed} ${this.closeReason}) while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no ${what} within ${timeoutMs} ms`);
      await withTimeout(new Promise<void>((r) => { this.#wake = r; }), left, what).catch(() => {});
    }
  }
}

/** A well-behaved client: one message at a time, each acked before the next. */
export class Chatter {
  acks = 0;
  maxAckWaitMs = 0;
  /** Each ack wait as [sent, acked] (Date.now()), to be judged by the broker's CPU in between. */
  readonly waits: [number, number][] = [];
  #stop = false;
  #done: Promise<void> | null = null;

  constructor(readonly c: EventClient, readonly room: string) {}

  start(): void {
    // Awaited in stop(); until then a failure must not be an unhandled rejection.
    this.#done = (async () => {
      let cursor = 0;
      while (!this.#stop) {
        const id = `${this.c.name}-${this.acks}`;
        const sentAt = Date.now();
        this.c.send({ op: 'send', room: this.room, text: `hello ${this.acks}`, id });
        cursor = await this.c.until((e) => e.type === 'ack' && e.id === id, 30_000, `ack ${id}`, cursor);
        const ackedAt = Date.now();
        this.maxAckWaitMs = Math.max(this.maxAckWaitMs, ackedAt - sentAt);
        this.waits.push([sentAt, ackedAt]);
        this.acks++;
      }
    })();
    this.#done.catch(() => {});
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#done;
  }

  seqs(): number[] {
    return this.c.events.filter((e) => e.type === 'message' && e.room === this.room).map((e) => e.seq!);
  }
}

/** Checks one text input's events (those before its sentinel pong); a failure description or null. */
export function checkText(input: string, events: Ev[]): string | null {
  const want = expectedReply(Buffer.from(input).toString());
  const errors = events.filter((e) => e.type === 'error' && BAD.has(e.code!));
  if (want.code === null) {
    return errors.length === 0 ? null : `a well-formed op got ${JSON.stringify(errors[0])}`;
  }
  if (errors.length !== 1) return `expected one ${want.code}, got ${JSON.stringify(events).slice(0, 300)}`;
  const e = errors[0];
  if (e.code !== want.code) return `expected ${want.code}, got ${e.code}`;
  if (typeof e.message !== 'string' || e.message.length === 0) return 'an error without a message';
  const wantRef = want.ref === undefined ? undefined : JSON.parse(JSON.stringify(want.ref));
  if (e.ref !== wantRef) return `expected ref ${JSON.stringify(wantRef)}, got ${JSON.stringify(e.ref)}`;
  return null;
}

/** A text-fuzzing connection: inputs pipelined, each followed by a ping sentinel (answered in order with errors). */
export class TextLane {
  #n = 0;
  #cursor = 0;
  constructor(readonly c: EventClient) {}

  async run(inputs: string[]): Promise<string | null> {
    const first = this.#n;
    for (const input of inputs) {
      this.c.send(input);
      this.c.send({ op: 'ping', id: `\u2603${this.#n++}` });
    }
    let failure: string | null = null;
    for (let k = 0; k < inputs.length; k++) {
      const id = `\u2603${first + k}`;
      const at = await this.c.until((e) => e.type === 'pong' && e.id === id, 30_000, `sentinel ${id}`, this.#cursor);
      failure ??= checkText(inputs[k], this.c.events.slice(this.#cursor, at));
      if (failure !== null) failure = `input ${JSON.stringify(inputs[k]).slice(0, 200)}: ${failure}`;
      this.#cursor = at + 1;
    }
    this.c.events.splice(0, this.#cursor); // keep memory flat over 80k inputs
    this.#cursor = 0;
    return failure;
  }
}

/** A frame-fuzzing lane: one raw connection at a time, a new one after each close. */
export class FrameLane {
  #client: RawClient | null = null;
  #n = 0;
  stats = { open: 0, closed: 0, peerClosed: 0, vanished: 0, reconnects: 0 };
  constructor(readonly wsUrl: string, readonly name: string, readonly localAddress: string) {}

  async run(input: FrameInput): Promise<string | null> {
    if (this.#client === null || this.#client.ended) {
      this.#client = await RawClient.open(`${this.wsUrl}?name=${this.name}`, this.localAddress);
      this.stats.reconnects++;
      await this.#client.welcome();
    }
    const client = this.#client;
    if (input.vanish) {
      client.write(input.bytes);
      client.socket.resetAndDestroy();
      this.#client = null;
      this.stats.vanished++;
      return null;
    }
    // Complete a frame the input left unfinished (so the outcome is decided), then the sentinel.
    let bytes = input.bytes;
    for (let i = 0; i < 4; i++) {
      const p = predict(bytes, LIMITS);
      if (p.kind !== 'incomplete') break;
      bytes = Buffer.concat([bytes, Buffer.alloc(p.need, 0x20)]);
    }
    const id = `\u2603f${this.#n++}`;
    const stream = Buffer.concat([bytes, textFrame(JSON.stringify({ op: 'ping', id }))]);
    const want = predict(stream, LIMITS);
    if (want.kind === 'incomplete') {
      // A length that swallows even the padding and the sentinel: the broker can only wait. The client goes.
      client.write(stream);
      client.socket.resetAndDestroy();
      this.#client = null;
      this.stats.vanished++;
      return null;
    }
    client.frames.splice(0, client.frames.length);
    const from = 0;
    client.write(stream);
    const show = (): string => `input ${bytes.subarray(0, 80).toString('hex')}${bytes.length > 80 ? `... (${bytes.length} B)` : ''}`;
    try {
      if (want.kind === 'open') {
        this.stats.open++;
        const pongOf = (e: { type: string; id?: unknown }): boolean => e.type === 'pong' && e.id === id;
        await client.until(() => client.events().some(pongOf), 10_000, `sentinel ${id}`);
        // Frames are cleared after each input: what is here answers this one (and maybe the welcome).
        const pongs = client.frames.slice(from).filter((f) => f.opcode === OP_PONG).map((f) => f.payload.toString('hex'));
        const wantPongs = want.pings.map((p) => p.toString('hex'));
        if (JSON.stringify(pongs) !== JSON.stringify(wantPongs)) return `${show()}: pongs ${pongs} for pings ${wantPongs}`;
        const events = client.events();
        const mine = events.slice(0, events.findIndex(pongOf));
        const wantBad = want.texts.slice(0, -1).map((t) => expectedReply(t).code).filter((c) => c !== null).sort();
        const gotBad = mine.filter((e) => e.type === 'error' && BAD.has(String(e.code))).map((e) => String(e.code)).sort();
        if (JSON.stringify(gotBad) !== JSON.stringify(wantBad)) return `${show()}: errors ${gotBad} for ${wantBad}`;
        return null;
      }
      this.#client = null;
      if (want.kind === 'close') {
        this.stats.closed++;
        await client.until(() => client.closeCode !== null, 10_000, `close ${want.code} (${want.why})`);
        if (client.closeCode !== want.code) return `${show()}: closed ${client.closeCode} "${client.closeReason}", expected ${want.code} (${want.why})`;
        if (CODES_WITH_REASON.has(want.code) && client.closeReason.length === 0) return `${show()}: close ${want.code} without a reason`;
        return null;
      }
      // The client closed: the broker echoes its code (or an empty close, 1005), then the connection ends.
      this.stats.peerClosed++;
      await client.until(() => client.closeCode !== null || client.ended, 10_000, 'the echo of our close');
      if (client.closeCode !== null && client.closeCode !== want.code) return `${show()}: echoed ${client.closeCode}, expected ${want.code}`;
      return null;
    } catch (err) {
      return `${show()}: ${(err as Error).message} (expected ${want.kind}${want.kind === 'close' ? ` ${want.code}: ${want.why}` : ''})`;
    } finally {
      if (this.#client === null) client.destroy();
    }
  }

  close(): void {
    this.#client?.destroy();
  }
}
