// The load worker's side of the reconnect-storm-with-resume scenario
// (scenarios/resume.ts): clients of one busy room that remember what a real
// Hubbub client remembers across a drop (the welcome's name and `resume`
// secret, the room's last seq seen), are all reset at once, and come back
// with `?name=&resume=` and `join` + `since`. A client is caught up when it
// has seen every message up to the seq its `joined` reported; the worker
// times that from the drop, on CLOCK_MONOTONIC (shared with the orchestrator).
//
// Hubbub's wire only. Frames are read by bytes (the last `"seq":` of a frame),
// never JSON-parsed: 10k members of a busy room cost the generator enough.
import WebSocket from 'ws';
import { Histogram } from './histogram.js';
import type { ResumeOpenCmd, ResumeReconnectCmd, ResumeReconnectResult, ResumeOpenResult } from './messages.js';
import { nowUs } from './wire.js';

interface Client {
  index: number;
  /** The name the welcome gave (asked `u<index>`; a resume that lands elsewhere may get another). */
  user: string;
  secret: string;
  ws: WebSocket | null;
  lastSeq: number;
}

const clients: Client[] = [];

const SEQ = '"seq":';

/** The number after the last `"seq":` of a frame, or -1. */
function seqOf(text: string): number {
  const at = text.lastIndexOf(SEQ);
  if (at < 0) return -1;
  let n = 0;
  for (let i = at + SEQ.length; i < text.length; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    n = n * 10 + c;
  }
  return n;
}

/** The string value of `"key":"…"` in a frame (the bench's names and secrets need no escaping). */
function stringField(text: string, key: string): string | null {
  const mark = `"${key}":"`;
  const at = text.indexOf(mark);
  if (at < 0) return null;
  const end = text.indexOf('"', at + mark.length);
  return end < 0 ? null : text.slice(at + mark.length, end);
}

interface Session {
  /** The seq `joined` reported (the last one replayed), -1 before it. */
  target: number;
  replayed: number;
}

/**
 * One client's connect, welcome, join (with `since` when it has a seq) and,
 * when resuming, its catch-up. Messages past the join keep `lastSeq` current
 * for as long as the socket lives.
 */
function session(c: Client, url: string, room: string, since: number | null, address: string, timeoutMs: number, onDone: (s: Session, error: string | null, recovered: boolean | null, renamed: boolean) => void): void {
  const ws = new WebSocket(url, { localAddress: address, perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: timeoutMs });
  c.ws = ws;
  let stage: 'connecting' | 'hello' | 'joining' | 'replaying' | 'live' = 'connecting';
  let recovered: boolean | null = null;
  let renamed = false;
  const s: Session = { target: -1, replayed: 0 };
  let settled = false;
  const finish = (error: string | null): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (error !== null) ws.terminate();
    else stage = 'live';
    onDone(s, error, recovered, renamed);
  };
  const timer = setTimeout(() => finish(`timeout in ${stage}`), timeoutMs);
  ws.on('open', () => {
    stage = 'hello';
  });
  ws.on('message', (data: Buffer) => {
    const text = data.toString();
    if (stage === 'live' || stage === 'replaying') {
      const seq = seqOf(text);
      if (seq > c.lastSeq) {
        if (stage === 'replaying' && seq <= s.target) s.replayed++;
        c.lastSeq = seq;
      }
      if (stage === 'replaying' && c.lastSeq >= s.target) finish(null);
      return;
    }
    if (stage === 'hello' && text.includes('"type":"welcome"')) {
      const user = stringField(text, 'user');
      if (user !== null) {
        renamed = c.user !== '' && user !== c.user;
        c.user = user;
      }
      c.secret = stringField(text, 'resume') ?? '';
      stage = 'joining';
      ws.send(since === null ? `{"op":"join","room":"${room}"}` : `{"op":"join","room":"${room}","since":${since}}`);
    } else if (stage === 'joining' && text.includes('"type":"joined"')) {
      if (since === null) {
        finish(null);
        return;
      }
      recovered = text.includes('"recovered":true');
      s.target = seqOf(text);
      stage = 'replaying';
      if (c.lastSeq >= s.target) finish(null);
    } else if (stage === 'joining' && text.includes('"type":"message"')) {
      // A live message may come before `joined` on a plain join: keep the seq, it is ours.
      const seq = seqOf(text);
      if (seq > c.lastSeq) c.lastSeq = seq;
    }
  });
  ws.on('error', (err) => finish(`error: ${err.message}`));
  ws.on('close', (code) => {
    if (!settled) finish(`closed ${code} before caught up`);
    if (c.ws === ws) c.ws = null;
  });
}

/** Runs `count` jobs with at most `concurrency` in flight. */
async function lanes(count: number, concurrency: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await job(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
}

function wsUrl(cmd: { host: string; port: number }, c: Client): string {
  const base = `ws://${cmd.host}:${cmd.port}/ws?name=${encodeURIComponent(c.user === '' ? `u${c.index}` : c.user)}`;
  return c.secret === '' ? base : `${base}&resume=${encodeURIComponent(c.secret)}`;
}

/** Plain connects of fresh clients: connect, welcome, join (no since). */
export async function resumeOpen(cmd: ResumeOpenCmd): Promise<ResumeOpenResult> {
  const t0 = Date.now();
  let ready = 0;
  const errors: string[] = [];
  await lanes(cmd.count, cmd.concurrency, (k) => new Promise<void>((resolve) => {
    const c: Client = { index: cmd.from + k, user: '', secret: '', ws: null, lastSeq: 0 };
    session(c, wsUrl(cmd, c), cmd.room, null, cmd.addresses[k % cmd.addresses.length], cmd.timeoutMs, (_s, error) => {
      if (error === null) {
        ready++;
        clients.push(c);
      } else if (errors.length < 5) errors.push(error);
      resolve();
    });
  }));
  return { ready, failed: cmd.count - ready, ms: Date.now() - t0, errors };
}

/** Resets every client's socket at once (as a proxy that drops them would), keeping what each knows. */
export function resumeDrop(): number {
  let n = 0;
  for (const c of clients) {
    if (c.ws !== null) {
      c.ws.terminate();
      n++;
    }
  }
  return n;
}

/** Every client comes back: `?resume=`, `join` + `since`, then waits for its replay. */
export async function resumeReconnect(cmd: ResumeReconnectCmd): Promise<ResumeReconnectResult> {
  const caughtUp = new Histogram();
  let ready = 0;
  let replayed = 0;
  let unrecovered = 0;
  let renamed = 0;
  let lastUs = 0;
  const errors: string[] = [];
  const all = clients.splice(0);
  await lanes(all.length, cmd.concurrency, (k) => new Promise<void>((resolve) => {
    const c = all[k];
    session(c, wsUrl(cmd, c), cmd.room, c.lastSeq, cmd.addresses[k % cmd.addresses.length], cmd.timeoutMs, (s, error, recovered, wasRenamed) => {
      if (error === null) {
        const now = nowUs();
        ready++;
        caughtUp.record(now - cmd.droppedAtUs);
        if (now > lastUs) lastUs = now;
        replayed += s.replayed;
        if (recovered !== true) unrecovered++;
        clients.push(c);
      } else if (errors.length < 5) errors.push(error);
      if (wasRenamed) renamed++;
      resolve();
    });
  }));
  return { ready, failed: all.length - ready, errors, replayed, unrecovered, renamed, lastCaughtUpUs: lastUs, caughtUp: caughtUp.toSparse() };
}

export function resumeClose(): void {
  for (const c of clients.splice(0)) c.ws?.terminate();
}
