// A load process for big tests: forked with IPC, it opens N chat clients to a
// broker, joins them to one room, and answers the parent's commands with
// compact per-client tallies. One process holds at most a few thousand
// sockets short of the 20,000 open-file cap, so big loads use several.
//
// Frames are classified by their first bytes and only parsed where a field is
// needed: 10k clients each receiving a 15 KB presence batch per second would
// otherwise spend the process parsing JSON.
//
// Commands (parent -> child), each answered by one reply of the same `cmd`:
//   open     {url, count, room, prefix, localAddress?, concurrency, total, timeoutMs}
//            -> {joinedCounts: number[], joinedAt: number[] (Date.now()), usersOk: boolean, ms,
//                joined: number, errors: string[]}  (at the deadline with what was reached)
//            (total: the room's final size, for `presence`)
//   presence {timeoutMs} waits until every client got a batch whose count is `total`
//            -> {singles: number[], batches: number[], sample: object|null, missing: number, errors}
//   send     {index, room, text}  -> {}
//   message  {timeoutMs} waits until every client got a room message
//            -> {received: number, seqs: number[], texts: string[], missing: number}
//   closed   {timeoutMs} waits until every client's socket is closed
//            -> {closed: number, codes: {[code]: count}}
//   flood    {op, reply, lanes, ms} every client sends `op` (given an id) with
//            `lanes` in flight, sending the next on each frame that starts with
//            `reply`, until `ms` have passed
//            -> {served: number, closed: number} (replies counted, clients closed meanwhile)
//   exit     -> {} then terminates what is left and exits
// Every reply also carries `bytes`: what the clients received, by frame type.
import WebSocket from 'ws';
import { BIG_ROOM_THRESHOLD } from '../../src/constants.js';

interface Command {
  cmd: 'open' | 'presence' | 'send' | 'message' | 'closed' | 'flood' | 'exit';
  [k: string]: unknown;
}

const PRESENCE_SINGLE = '{"type":"presence","room":';
const clients: WebSocket[] = [];
let joinedCounts: Int32Array = new Int32Array(0);
let joinedAt: Float64Array = new Float64Array(0);
let usersOk = true;
let singles: Uint16Array = new Uint16Array(0);
let batches: Uint16Array = new Uint16Array(0);
/** Highest `count` seen in a batch, per client. */
let batchCount: Int32Array = new Int32Array(0);
let messageSeq: Int32Array = new Int32Array(0);
let batchSample: unknown = null;
const errors: string[] = [];
/** The room's final size, and how many clients have seen a batch with it. */
let total = -1;
let atTotal = 0;
let withMessage = 0;
const messageTexts = new Set<string>();
let closedCount = 0;
const closeCodes: Record<number, number> = {};
const bytes = { joined: 0, presence: 0, batch: 0, message: 0, other: 0 };
/** Re-checked after every frame while a command waits for a condition. */
let waiting: (() => void) | null = null;
/** While a flood runs: the head of its replies and what to do on one. */
let flooding: { reply: string; onReply: (i: number) => void } | null = null;

function reply(cmd: string, body: object): void {
  process.send!({ cmd, bytes, ...body });
}

function note(error: string): void {
  if (errors.length < 20) errors.push(error);
}

function onFrame(i: number, data: Buffer): void {
  const head = data.toString('latin1', 0, Math.min(data.length, 48));
  if (flooding !== null && head.startsWith(flooding.reply)) {
    bytes.other += data.length;
    flooding.onReply(i);
  } else if (head.startsWith(PRESENCE_SINGLE)) {
    if (data.includes('"event":"batch"')) {
      bytes.batch += data.length;
      const m = /"count":(\d+)\}$/.exec(data.toString('latin1', Math.max(0, data.length - 32)));
      const count = m === null ? -1 : Number(m[1]);
      // Small rooms coalesce too, more often: only a big room's batches are held to its interval.
      if (count > BIG_ROOM_THRESHOLD) batches[i]++;
      if (count === total && batchCount[i] !== total) atTotal++;
      if (count > batchCount[i]) batchCount[i] = count;
      if (batchSample === null) batchSample = JSON.parse(data.toString());
    } else {
      singles[i]++;
      bytes.presence += data.length;
    }
  } else if (head.startsWith('{"type":"joined"')) {
    bytes.joined += data.length;
    const f = JSON.parse(data.toString()) as { users: string[]; count: number };
    joinedCounts[i] = f.count;
    joinedAt[i] = Date.now();
    if (!Array.isArray(f.users) || f.users.length !== Math.min(f.count, 1000)) usersOk = false;
  } else if (head.startsWith('{"type":"message"')) {
    bytes.message += data.length;
    const f = JSON.parse(data.toString()) as { text: string; seq: number };
    if (messageSeq[i] === 0) withMessage++;
    messageSeq[i] = f.seq;
    messageTexts.add(f.text);
  } else {
    bytes.other += data.length;
    if (head.startsWith('{"type":"error"')) note(`client ${i}: ${data.toString().slice(0, 200)}`);
  }
  waiting?.();
}

function open(c: Command): void {
  const count = c.count as number;
  total = c.total as number;
  const url = `${c.url as string}?name=`;
  const room = JSON.stringify({ op: 'join', room: c.room as string });
  joinedCounts = new Int32Array(count);
  joinedAt = new Float64Array(count);
  singles = new Uint16Array(count);
  batches = new Uint16Array(count);
  batchCount = new Int32Array(count);
  messageSeq = new Int32Array(count);
  const started = Date.now();
  let next = 0;
  /** Clients done with opening: joined, or closed before they could. */
  let settled = 0;
  let joined = 0;
  const launch = (): void => {
    const i = next++;
    const ws = new WebSocket(`${url}${c.prefix as string}${i}`, {
      perMessageDeflate: false,
      // The broker's frames are its own JSON.stringify output; validating 10k copies of each costs a core.
      skipUTF8Validation: true,
      localAddress: c.localAddress as string | undefined,
    });
    clients.push(ws);
    let isSettled = false;
    // Each client that settles lets the next one start: at most `concurrency` are opening at once.
    const settle = (): void => {
      if (isSettled) return;
      isSettled = true;
      settled++;
      if (next < count) launch();
    };
    // Sent on open: the broker holds frames that arrive before the welcome and replays them.
    ws.on('open', () => ws.send(room));
    ws.on('message', (data: Buffer) => {
      onFrame(i, data);
      if (!isSettled && joinedCounts[i] > 0) {
        joined++;
        settle();
      }
    });
    ws.on('error', (err) => note(`client ${i}: ${err.message}`));
    ws.on('close', (code) => {
      closedCount++;
      closeCodes[code] = (closeCodes[code] ?? 0) + 1;
      if (code !== 1001) note(`client ${i} closed with ${code}`);
      settle();
      waiting?.();
    });
  };
  until(() => settled === count, c.timeoutMs as number, () => reply('open', {
    joinedCounts: Array.from(joinedCounts), joinedAt: Array.from(joinedAt), usersOk,
    ms: Date.now() - started, joined, errors,
  }));
  const window = Math.min(count, c.concurrency as number);
  for (let k = 0; k < window; k++) launch();
}

/** Every open client keeps `lanes` copies of `op` in flight for `ms`; counts the replies. */
function flood(c: Command): void {
  const op = c.op as Record<string, unknown>;
  const until = Date.now() + (c.ms as number);
  const closedBefore = closedCount;
  let served = 0;
  let sent = 0;
  const fire = (i: number): void => {
    const ws = clients[i];
    if (Date.now() < until && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ ...op, id: `f${sent++}` }));
  };
  flooding = {
    reply: c.reply as string,
    onReply: (i) => {
      served++;
      fire(i);
    },
  };
  for (let i = 0; i < clients.length; i++) for (let k = 0; k < (c.lanes as number); k++) fire(i);
  setTimeout(() => {
    flooding = null;
    reply('flood', { served, closed: closedCount - closedBefore });
  }, c.ms as number);
}

/** Replies once `done()` holds, or at the deadline with whatever was reached. */
function until(done: () => boolean, timeoutMs: number, answer: () => void): void {
  const finish = (): void => {
    clearTimeout(timer);
    waiting = null;
    answer();
  };
  const timer = setTimeout(finish, timeoutMs);
  waiting = () => {
    if (done()) finish();
  };
  waiting();
}

process.on('message', (c: Command) => {
  switch (c.cmd) {
    case 'open':
      open(c);
      break;
    case 'presence':
      until(() => atTotal === clients.length, c.timeoutMs as number, () =>
        reply('presence', { singles: Array.from(singles), batches: Array.from(batches), sample: batchSample, missing: clients.length - atTotal, errors }));
      break;
    case 'send':
      clients[c.index as number].send(JSON.stringify({ op: 'send', room: c.room, text: c.text }));
      reply('send', {});
      break;
    case 'message':
      until(() => withMessage === clients.length, c.timeoutMs as number, () =>
        reply('message', { received: withMessage, seqs: [...new Set(messageSeq)], texts: [...messageTexts], missing: clients.length - withMessage }));
      break;
    case 'closed':
      until(() => closedCount === clients.length, c.timeoutMs as number, () =>
        reply('closed', { closed: closedCount, codes: closeCodes }));
      break;
    case 'flood':
      flood(c);
      break;
    case 'exit':
      for (const ws of clients) ws.terminate();
      reply('exit', {});
      // exit, not just disconnect: a profiler (--cpu-prof) writes its file on exit.
      process.disconnect();
      setImmediate(() => process.exit(0));
      break;
  }
});
