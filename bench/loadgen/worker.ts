// A load-generator process: holds connections with the `ws` client, sends at
// the rates it is told, and counts what arrives. The orchestrator forks
// several of them so that the generator is not the bottleneck and so that no
// process passes the 20,000 open-file cap. Commands arrive over IPC (see
// messages.ts). Frames are split on '\n' (gorilla and Hubbub's batch mode put
// several messages in one frame); a line is a chat message when it carries a
// send stamp, whose age is its end-to-end latency. A connect command may ask
// for LeanSocket instead of `ws` (Hubbub only): the scale-out scenario's
// members, which must cost the generator little per message.
import WebSocket from 'ws';
import { Histogram } from './histogram.js';
import { LeanSocket } from './lean-socket.js';
import { resumeClose, resumeDrop, resumeOpen, resumeReconnect } from './resume-clients.js';
import type {
  CollectResult, ConnectCmd, ConnectResult, Counters, Envelope, FloodCmd, RateCmd, Reply, StormCmd, StormResult,
} from './messages.js';
import {
  TEXT_MARK, connectPath, connectUrl, handshakeStep, isJoined, joinFrame, needsJoin, nowUs, readyOnOpen, sendFrame,
  type Endpoint, type WireKind,
} from './wire.js';

const NEWLINE = 0x0a;
const BAR = 0x7c; // '|' ends the stamp
const FLOOD_HIGH_WATER = 256 * 1024;
const SEND_TICK_MS = 5;

interface Group {
  name: string;
  kind: WireKind;
  conns: Conn[];
  msgs: number;
  sent: number;
  rate: { senders: number; rate: number; pad: string; next: number; startedAt: number; done: number } | null;
  flood: { pad: string } | null;
}

/** What the generator asks of a connection: ws's client, or LeanSocket. */
interface Sock {
  send(text: string): void;
  readonly bufferedAmount: number;
  terminate(): void;
}

interface Conn {
  ws: Sock;
  group: Group;
  room: string;
  ready: boolean;
}

interface LatencyWindow {
  id: number;
  t0: number;
  t1: number;
  hists: Map<string, Histogram>;
}

const groups = new Map<string, Group>();
const windows: LatencyWindow[] = [];
const totals = { msgs: 0, frames: 0, bytes: 0, sent: 0, lost: 0, open: 0 };
let base = { ...totals, cpuUs: 0 };
let baseGroups = new Map<string, { msgs: number; sent: number }>();
let sendTimer: NodeJS.Timeout | null = null;

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function reply(msg: Reply): void {
  process.send!(msg);
}

/** The steady-state receive path: count frames, split lines, time stamped ones. */
function receive(conn: Conn, data: Buffer): void {
  if (conn.group.kind === 'socketio' && data.length === 1 && data[0] === 0x32) {
    conn.ws.send('3'); // Engine.IO ping -> pong; a heartbeat, like ws pings, is not counted
    return;
  }
  totals.frames++;
  totals.bytes += data.length;
  let now = 0;
  let start = 0;
  const len = data.length;
  while (start < len) {
    let end = data.indexOf(NEWLINE, start);
    if (end < 0) end = len;
    const ts = readStamp(data, start, end);
    if (ts >= 0) {
      if (now === 0) now = nowUs();
      totals.msgs++;
      conn.group.msgs++;
      record(conn.group, ts, now);
    }
    start = end + 1;
  }
}

/**
 * The send stamp of the line in buf[from, end): the digits between TEXT_MARK
 * and '|' (µs on CLOCK_MONOTONIC), or -1 when the line carries none. Read by
 * bytes, without a JSON parse: both receive paths use it.
 */
function readStamp(buf: Buffer, from: number, end: number): number {
  const at = buf.indexOf(TEXT_MARK, from);
  if (at < 0 || at >= end) return -1;
  let ts = 0;
  for (let i = at + TEXT_MARK.length; i < end; i++) {
    const b = buf[i];
    if (b === BAR) break;
    ts = ts * 10 + (b - 48);
  }
  return ts;
}

/** A stamped message arrived now (µs): its latency goes to every open window it was sent in. */
function record(group: Group, ts: number, now: number): void {
  for (let w = 0; w < windows.length; w++) {
    const win = windows[w];
    if (ts >= win.t0 && ts <= win.t1) {
      let h = win.hists.get(group.name);
      if (h === undefined) win.hists.set(group.name, (h = new Histogram()));
      h.record(now - ts);
    }
  }
}

const M = 0x6d; // 'm'
const E = 0x65; // 'e'
const TYPE_AT = 9; // '{"type":"' is 9 bytes: a chat message's line starts '{"type":"me'
const LEAN_SAMPLE = 8; // a power of two
let leanTick = 0;

/**
 * The lean receive path (LeanSocket, Hubbub's wire): every line that is a chat
 * message is counted; the latency of the first one of each frame is recorded
 * (in batch mode the oldest of the frame, so the sample leans slow; without
 * batch mode, of one frame in LEAN_SAMPLE), which saves a search, a clock read
 * and a parse per message.
 */
function leanReceive(conn: Conn, buf: Buffer, start: number, end: number, batch: boolean): void {
  totals.frames++;
  totals.bytes += end - start;
  const g = conn.group;
  let count = 0;
  let firstAt = -1;
  if (!batch) {
    if (buf[start + TYPE_AT] === M && buf[start + TYPE_AT + 1] === E) {
      count = 1;
      firstAt = start;
    }
  } else {
    const frame = buf.subarray(start, end);
    const n = frame.length;
    let line = 0;
    while (line < n) {
      let nl = frame.indexOf(NEWLINE, line);
      if (nl < 0) nl = n;
      if (frame[line + TYPE_AT] === M && frame[line + TYPE_AT + 1] === E) {
        if (count === 0) firstAt = start + line;
        count++;
      }
      line = nl + 1;
    }
  }
  if (count === 0) return;
  totals.msgs += count;
  g.msgs += count;
  // One frame in LEAN_SAMPLE is timed when each frame holds one message: the clock read and the
  // stamp search cost about what the rest of the frame does.
  if (windows.length === 0 || (!batch && (++leanTick & (LEAN_SAMPLE - 1)) !== 0)) return;
  const ts = readStamp(buf, firstAt, end);
  if (ts >= 0) record(g, ts, nowUs());
}

type Opened = { conn: Conn | null; error: string | null };

/**
 * How open() and openLean() settle: once, on ready (null) or on the first
 * error, or with the stage it was stuck in after timeoutMs.
 */
function settler(timeoutMs: number, stage: () => string, conn: () => Conn, abort: () => void, resolve: (r: Opened) => void): { finish: (error: string | null) => void; settled: () => boolean } {
  let settled = false;
  const finish = (error: string | null): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (error !== null) {
      abort();
      resolve({ conn: null, error });
      return;
    }
    const c = conn();
    c.ready = true;
    totals.open++;
    resolve({ conn: c, error: null });
  };
  const timer = setTimeout(() => finish(`timeout in ${stage()}`), timeoutMs);
  return { finish, settled: () => settled };
}

/**
 * Like open(), over a LeanSocket: any system's handshake (no HTTP client, no
 * accept-key check: what the storm's clients need), and once ready Hubbub's
 * frames counted cheaply (leanReceive).
 */
function openLean(ep: Endpoint, group: Group | null, index: number, room: string, address: string, timeoutMs: number): Promise<Opened> {
  return new Promise((resolve) => {
    let stage: 'connecting' | 'hello' | 'joining' = 'connecting';
    const { finish, settled } = settler(timeoutMs, () => stage, () => conn, () => sock.terminate(), resolve);
    const hello = (): void => {
      if (group === null || !needsJoin(ep.kind)) finish(null);
      else {
        stage = 'joining';
        sock.send(joinFrame(ep.kind, room));
      }
    };
    const sock: LeanSocket = new LeanSocket(ep.host, ep.port, connectPath(ep, `u${index}`, room), address, {
      open: () => {
        stage = 'hello';
        if (readyOnOpen(ep.kind)) hello();
      },
      text: (buf, start, end) => {
        if (ep.kind === 'socketio' && end - start === 1 && buf[start] === 0x32) return sock.send('3'); // Engine.IO ping
        if (conn.ready) return leanReceive(conn, buf, start, end, ep.batch);
        totals.frames++;
        totals.bytes += end - start;
        const text = buf.toString('utf8', start, end);
        if (stage === 'hello') {
          const step = handshakeStep(ep.kind, text);
          if (step === 'ready') hello();
          else if (step !== null) sock.send(step);
        } else if (stage === 'joining' && isJoined(ep.kind, text)) finish(null);
      },
      close: (code) => {
        if (!settled()) finish(`closed ${code} before ready`);
        else if (conn.ready) {
          conn.ready = false;
          totals.open--;
          totals.lost++;
        }
      },
      error: (err) => finish(`error: ${err.message}`),
    });
    const conn: Conn = { ws: sock, group: group ?? placeholderGroup(ep.kind), room, ready: false };
  });
}

/** The group of a connection that belongs to none (a storm's). */
function placeholderGroup(kind: WireKind): Group {
  return { name: '', kind, conns: [], msgs: 0, sent: 0, rate: null, flood: null };
}

/** Opens one connection and takes it to ready (joined). Resolves true when ready. */
function open(ep: Endpoint, group: Group | null, index: number, room: string, address: string, timeoutMs: number): Promise<Opened> {
  return new Promise((resolve) => {
    const ws = new WebSocket(connectUrl(ep, `u${index}`, room), {
      localAddress: address,
      perMessageDeflate: false,
      skipUTF8Validation: true,
      maxPayload: 16 * 1024 * 1024,
      handshakeTimeout: timeoutMs,
    });
    const conn: Conn = { ws, group: group ?? placeholderGroup(ep.kind), room, ready: false };
    // 'connecting' until the upgrade completes (a SYN dropped by a full accept
    // queue is retried after 1, 2, 4, 8, 16 s), then 'hello' until welcome.
    let stage: 'connecting' | 'hello' | 'joining' = 'connecting';
    const { finish, settled } = settler(timeoutMs, () => stage, () => conn, () => {
      ws.removeAllListeners('message');
      ws.terminate();
    }, resolve);
    const hello = (): void => {
      if (group === null || !needsJoin(ep.kind)) finish(null);
      else {
        stage = 'joining';
        ws.send(joinFrame(ep.kind, room));
      }
    };
    ws.on('open', () => {
      stage = 'hello';
      if (readyOnOpen(ep.kind)) hello();
    });
    ws.on('message', (data: Buffer) => {
      if (conn.ready) return receive(conn, data);
      totals.frames++;
      totals.bytes += data.length;
      const text = data.toString();
      if (stage !== 'joining') {
        const step = handshakeStep(ep.kind, text);
        if (step === 'ready') hello();
        else if (step !== null) ws.send(step);
      } else if (isJoined(ep.kind, text)) {
        finish(null);
      } else if (ep.kind === 'socketio' && text === '2') {
        ws.send('3');
      }
    });
    ws.on('error', (err) => finish(`error: ${err.message}`));
    ws.on('close', (code) => {
      if (!settled()) finish(`closed ${code} before ready`);
      else if (conn.ready) {
        conn.ready = false;
        totals.open--;
        totals.lost++;
      }
    });
  });
}

/** Runs `count` jobs with at most `concurrency` in flight, with progress. */
async function pool(count: number, concurrency: number, job: (i: number) => Promise<string | null>): Promise<ConnectResult> {
  const started = Date.now();
  let next = 0;
  let ready = 0;
  let failed = 0;
  const errors: string[] = [];
  const progress = setInterval(() => reply({ type: 'progress', ready, failed }), 250);
  const lane = async (): Promise<void> => {
    while (next < count) {
      const error = await job(next++);
      if (error === null) ready++;
      else {
        failed++;
        if (errors.length < 5) errors.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  clearInterval(progress);
  reply({ type: 'progress', ready, failed });
  return { ready, failed, ms: Date.now() - started, errors };
}

async function connect(cmd: ConnectCmd): Promise<ConnectResult> {
  let group = groups.get(cmd.group);
  if (group === undefined) {
    group = { name: cmd.group, kind: cmd.endpoint.kind, conns: [], msgs: 0, sent: 0, rate: null, flood: null };
    groups.set(cmd.group, group);
  }
  const g = group;
  return pool(cmd.count, cmd.concurrency, async (k) => {
    const i = cmd.from + k;
    const room = `${cmd.roomPrefix}${Math.floor(i / cmd.roomSize)}`;
    const address = cmd.addresses[k % cmd.addresses.length];
    const { conn, error } = cmd.lean === true && cmd.endpoint.kind === 'hubbub'
      ? await openLean(cmd.endpoint, g, i, room, address, cmd.timeoutMs)
      : await open(cmd.endpoint, g, i, room, address, cmd.timeoutMs);
    if (conn !== null) g.conns.push(conn);
    return error;
  });
}

/** Storm connections kept open (StormCmd.hold), until close-all or exit. */
const held: Conn[] = [];

async function storm(cmd: StormCmd): Promise<StormResult> {
  const latency = new Histogram();
  const result = await pool(cmd.count, cmd.concurrency, async (k) => {
    const t = nowUs();
    const address = cmd.addresses[k % cmd.addresses.length];
    const { conn, error } = cmd.lean === true
      ? await openLean(cmd.endpoint, null, cmd.from + k, 'storm', address, cmd.timeoutMs)
      : await open(cmd.endpoint, null, cmd.from + k, 'storm', address, cmd.timeoutMs);
    if (conn === null) return error;
    latency.record(nowUs() - t);
    if (cmd.hold === true) {
      held.push(conn);
      return null;
    }
    conn.ready = false;
    totals.open--;
    conn.ws.terminate();
    return null;
  });
  return { ...result, connectLatency: latency.toSparse() };
}

function setRate(cmd: RateCmd): void {
  const g = mustGroup(cmd.group);
  g.rate = cmd.rate > 0
    ? { senders: Math.min(cmd.senders, g.conns.length), rate: cmd.rate, pad: 'x'.repeat(cmd.textBytes), next: 0, startedAt: Date.now(), done: 0 }
    : null;
  if (sendTimer === null && g.rate !== null) sendTimer = setInterval(sendTick, SEND_TICK_MS);
}

/** Paced sending: each tick sends what the rate owes since it started, round-robin over the senders. */
function sendTick(): void {
  let any = false;
  const now = Date.now();
  for (const g of groups.values()) {
    const r = g.rate;
    if (r === null || r.senders === 0) continue;
    any = true;
    const owed = Math.floor(((now - r.startedAt) / 1000) * r.rate) - r.done;
    for (let k = 0; k < owed; k++) {
      const conn = g.conns[r.next];
      r.next = (r.next + 1) % r.senders;
      r.done++;
      if (!conn.ready || conn.ws.bufferedAmount > FLOOD_HIGH_WATER) continue; // a stalled sender skips its turn
      conn.ws.send(sendFrame(g.kind, conn.room, r.pad));
      g.sent++;
      totals.sent++;
    }
  }
  if (!any && sendTimer !== null) {
    clearInterval(sendTimer);
    sendTimer = null;
  }
}

function setFlood(cmd: FloodCmd): void {
  const g = mustGroup(cmd.group);
  const wasOn = g.flood !== null;
  g.flood = cmd.on ? { pad: 'x'.repeat(cmd.textBytes) } : null;
  if (cmd.on && !wasOn) floodLoop(g);
}

/** As fast as the socket drains: fill to a high-water mark, yield, repeat. */
function floodLoop(g: Group): void {
  const f = g.flood;
  const conn = g.conns[0];
  if (f === null || conn === undefined || !conn.ready) return;
  for (let k = 0; k < 256 && conn.ws.bufferedAmount < FLOOD_HIGH_WATER; k++) {
    conn.ws.send(sendFrame(g.kind, conn.room, f.pad));
    g.sent++;
    totals.sent++;
  }
  if (conn.ws.bufferedAmount >= FLOOD_HIGH_WATER) setTimeout(() => floodLoop(g), 1);
  else setImmediate(() => floodLoop(g));
}

function mustGroup(name: string): Group {
  const g = groups.get(name);
  if (g === undefined) throw new Error(`no group "${name}"`);
  return g;
}

function counters(): Counters {
  const out: Counters = {
    msgs: totals.msgs - base.msgs, frames: totals.frames - base.frames, bytes: totals.bytes - base.bytes,
    sent: totals.sent - base.sent, lost: totals.lost - base.lost, open: totals.open, cpuUs: cpuUs() - base.cpuUs, groups: {},
  };
  for (const g of groups.values()) {
    const b = baseGroups.get(g.name) ?? { msgs: 0, sent: 0 };
    out.groups[g.name] = { msgs: g.msgs - b.msgs, sent: g.sent - b.sent };
  }
  return out;
}

async function handle(msg: Envelope): Promise<unknown> {
  switch (msg.cmd) {
    case 'connect':
      return connect(msg);
    case 'storm':
      return storm(msg);
    case 'rate':
      return setRate(msg);
    case 'flood':
      return setFlood(msg);
    case 'window-start':
      base = { ...totals, cpuUs: cpuUs() };
      baseGroups = new Map([...groups.values()].map((g) => [g.name, { msgs: g.msgs, sent: g.sent }]));
      windows.push({ id: msg.window, t0: msg.t0, t1: Infinity, hists: new Map() });
      return null;
    case 'window-end': {
      const w = windows.find((x) => x.id === msg.window);
      if (w !== undefined) w.t1 = nowUs();
      return counters();
    }
    case 'collect': {
      const i = windows.findIndex((x) => x.id === msg.window);
      const result: CollectResult = { groups: {} };
      if (i >= 0) {
        for (const [name, h] of windows[i].hists) result.groups[name] = h.toSparse();
        windows.splice(i, 1);
      }
      return result;
    }
    case 'counters':
      return counters();
    case 'resume-open':
      return resumeOpen(msg);
    case 'resume-drop':
      return resumeDrop();
    case 'resume-reconnect':
      return resumeReconnect(msg);
    case 'resume-close':
      return resumeClose();
    case 'close-all':
      for (const g of groups.values()) {
        g.rate = null;
        g.flood = null;
        for (const c of g.conns) c.ws.terminate();
      }
      groups.clear();
      for (const c of held.splice(0)) c.ws.terminate();
      return null;
  }
}

process.on('message', (msg: Envelope) => {
  handle(msg).then(
    (result) => reply({ type: 'reply', id: msg.id, ok: true, result: result ?? null }),
    (err: unknown) => reply({ type: 'reply', id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
// The orchestrator going away ends the worker: no orphaned load.
process.on('disconnect', () => process.exit(0));
