#!/usr/bin/env node
// What does watching cost chat? The same chat load against a broker (a child
// process running the real CLI) in four setups, interleaved over rounds:
//   off         --no-debug: no observer, no trace ring
//   on          the channel on, nobody connected to it (the default)
//   subscribed  one debug client subscribed to every topic, reading everything
//   slow        one debug client subscribed to every topic that never reads
// Reported per setup (median of the rounds): chat sends/s, frames delivered/s,
// and the broker's CPU time per 1,000 delivered frames (from /proc, so less
// sensitive to a noisy machine than wall time).
//
// Usage: npm run build && node bench/debug-overhead.mjs [--rooms 10] [--members 10] [--sends 300] [--rounds 3]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';

const { values } = parseArgs({
  options: {
    rooms: { type: 'string', default: '10' },
    members: { type: 'string', default: '10' },
    sends: { type: 'string', default: '300' },
    window: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
  },
});
const ROOMS = Number(values.rooms);
const MEMBERS = Number(values.members);
const SENDS = Number(values.sends);
const WINDOW = Number(values.window);
const ROUNDS = Number(values.rounds);
const RUN_TIMEOUT_MS = 120_000;
const CLI = fileURLToPath(new URL('../dist/src/cli.js', import.meta.url));
const TOKEN = 'bench-token';
const TICK_MS = 1000 / 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s

function startBroker(noDebug) {
  const args = [CLI, 'serve', '--port', '0', '--host', '127.0.0.1', ...(noDebug ? ['--no-debug'] : ['--debug-token', TOKEN])];
  const child = spawn(process.execPath, args, { env: { ...process.env, HUBBUB_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('broker did not start in 10 s')), 10_000);
    child.stdout.on('data', (c) => {
      buf += c;
      const m = /"url":"http:\/\/127\.0\.0\.1:(\d+)\//.exec(buf);
      if (m) {
        clearTimeout(timer);
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve({ child, port: Number(m[1]) });
      }
    });
  });
}

function stopBroker(child) {
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS; // utime + stime
}

function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function debugClient(port, { read }) {
  return open(`ws://127.0.0.1:${port}/debug?token=${TOKEN}`).then((ws) => {
    const state = { ws, frames: 0, closeCode: null };
    ws.on('message', () => state.frames++);
    ws.on('close', (code) => (state.closeCode = code));
    ws.send(JSON.stringify({ op: 'subscribe', topics: ['lifecycle', 'transitions', 'stats', 'events'] }));
    if (!read) ws.once('message', () => ws._socket.pause()); // the reply arrives, then it stops reading
    return state;
  });
}

async function chatLoad(port) {
  const clients = [];
  for (let r = 0; r < ROOMS; r++) {
    for (let m = 0; m < MEMBERS; m++) {
      const ws = await open(`ws://127.0.0.1:${port}/ws?name=b${r}-${m}`);
      const c = { ws, room: `room${r}`, acked: 0, sent: 0, frames: 0, done: null };
      ws.on('message', (data) => {
        c.frames++;
        const s = data.toString();
        if (s.startsWith('{"type":"ack"')) {
          c.acked++;
          if (c.acked === SENDS) c.done();
          else if (c.sent < SENDS) send(c);
        } else if (s.startsWith('{"type":"joined"')) {
          c.joined();
        }
      });
      await new Promise((resolve) => {
        c.joined = resolve;
        ws.send(JSON.stringify({ op: 'join', room: c.room }));
      });
      clients.push(c);
    }
  }
  return clients;
}

function send(c) {
  c.sent++;
  c.ws.send(JSON.stringify({ op: 'send', room: c.room, text: `message ${c.sent} from a benchmark client`, id: c.sent }));
}

async function runOnce(setup) {
  const { child, port } = await startBroker(setup === 'off');
  try {
    const clients = await chatLoad(port);
    const watcher = setup === 'subscribed' || setup === 'slow' ? await debugClient(port, { read: setup === 'subscribed' }) : null;
    const cpu0 = cpuMs(child.pid);
    const t0 = performance.now();
    const finished = Promise.all(clients.map((c) => new Promise((resolve) => (c.done = resolve))));
    for (const c of clients) for (let i = 0; i < WINDOW; i++) send(c);
    let timer;
    await Promise.race([finished, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${setup}: load did not finish in ${RUN_TIMEOUT_MS} ms`)), RUN_TIMEOUT_MS)))]);
    clearTimeout(timer);
    const ms = performance.now() - t0;
    const cpu = cpuMs(child.pid) - cpu0;
    const frames = clients.reduce((n, c) => n + c.frames, 0);
    let dropped = null;
    if (watcher !== null) {
      const probe = await open(`ws://127.0.0.1:${port}/debug?token=${TOKEN}`);
      const stats = await new Promise((resolve) => {
        probe.once('message', (d) => resolve(JSON.parse(d.toString())));
        probe.send(JSON.stringify({ op: 'stats' }));
      });
      dropped = stats.debug.droppedSubscribers;
      probe.close();
    }
    for (const c of clients) c.ws.terminate();
    watcher?.ws.terminate();
    return { sendsPerSec: (clients.length * SENDS) / (ms / 1000), framesPerSec: frames / (ms / 1000), cpuPer1kFrames: (cpu / frames) * 1000, debugFrames: watcher?.frames ?? 0, dropped };
  } finally {
    await stopBroker(child);
  }
}

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const setups = ['off', 'on', 'subscribed', 'slow'];
const results = Object.fromEntries(setups.map((s) => [s, []]));
console.log(`chat load: ${ROOMS} rooms x ${MEMBERS} members, ${SENDS} acked sends each (window ${WINDOW}); ${ROUNDS} rounds`);
for (let round = 1; round <= ROUNDS; round++) {
  for (const setup of setups) {
    const r = await runOnce(setup);
    results[setup].push(r);
    console.log(`round ${round} ${setup.padEnd(10)} sends/s ${r.sendsPerSec.toFixed(0).padStart(6)}  frames/s ${r.framesPerSec.toFixed(0).padStart(7)}  broker cpu ms/1k frames ${r.cpuPer1kFrames.toFixed(2)}${r.debugFrames ? `  debug frames ${r.debugFrames}` : ''}${r.dropped !== null ? `  dropped subscribers ${r.dropped}` : ''}`);
  }
}
console.log('\nmedian            sends/s   frames/s   cpu ms/1k frames   vs off');
const base = median(results.off.map((r) => r.cpuPer1kFrames));
for (const setup of setups) {
  const rs = results[setup];
  const cpu = median(rs.map((r) => r.cpuPer1kFrames));
  console.log(`${setup.padEnd(16)} ${median(rs.map((r) => r.sendsPerSec)).toFixed(0).padStart(8)} ${median(rs.map((r) => r.framesPerSec)).toFixed(0).padStart(10)} ${cpu.toFixed(2).padStart(18)}   ${(((cpu - base) / base) * 100).toFixed(1).padStart(5)}%`);
}
