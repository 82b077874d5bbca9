// How far a one-thread Node server can go in the storm, layer by layer: the
// bench's storm (25,000 connections, LeanSocket clients, each closed once
// welcomed) against the floors of baselines/storm-floor.ts (a raw net.Server,
// then node:http, then ws's WebSocket object on the socket), the ws hub,
// Hubbub and, when Go is installed, gorilla; the systems in turn within each
// run, so that each run's figures share the machine's moment.
//
//   npm run bench -- --only micro --systems hubbub   # once: compiles bench/ (or: npx tsgo -p bench/tsconfig.json)
//   node dist/bench/analyze/storm-floor.js [--runs 3] [--conns 25000] [--no-gorilla]
//
// Prints per run and as medians: accepted/s, the server's CPU per accepted
// connection (all its threads, /proc) and the generator's. The server's CPU
// per connection is the figure that does not move with the machine's load;
// the rate is what two cores shared with the generator allow.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchConfig } from '../config.js';
import { median, type Context } from '../scenarios/common.js';
import { storm, type StormResult } from '../scenarios/rooms.js';
import { buildGorilla, goMissing, type ServerOptions, type SystemId } from '../systems.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, conns: { type: 'string', default: '25000' }, 'no-gorilla': { type: 'boolean', default: false } } });
const FLOOR = join(fileURLToPath(new URL('..', import.meta.url)), 'baselines', 'storm-floor.js');

interface Row {
  label: string;
  system: SystemId;
  options: ServerOptions;
}
const rows: Row[] = [
  { label: 'floor: net', system: 'ws-hub', options: { wsHubScript: [FLOOR, '--kind', 'net'] } },
  { label: 'floor: node:http', system: 'ws-hub', options: { wsHubScript: [FLOOR, '--kind', 'http'] } },
  { label: "floor: + ws's objects", system: 'ws-hub', options: { wsHubScript: [FLOOR, '--kind', 'ws-objects'] } },
  { label: 'ws hub', system: 'ws-hub', options: {} },
  { label: 'hubbub', system: 'hubbub', options: {} },
];
const goWhy = values['no-gorilla'] ? '--no-gorilla' : goMissing();
if (goWhy === null) {
  buildGorilla();
  rows.push({ label: 'gorilla (Go, 2 cores)', system: 'gorilla', options: {} });
} else {
  process.stderr.write(`gorilla: skipped (${goWhy})\n`);
}

const cfg = benchConfig(false);
cfg.storm.conns = Number(values.conns);
const ctx: Context = { cfg, systems: rows.map((r) => r.system), artifacts: '', heapSnapshot: false, profile: false, log: (line) => process.stderr.write(`${line}\n`) };

const results = new Map<string, StormResult[]>(rows.map((r) => [r.label, []]));
const runs = Number(values.runs);
for (let run = 1; run <= runs; run++) {
  for (const row of rows) {
    process.stderr.write(`[run ${run}] ${row.label}\n`);
    results.get(row.label)!.push(await storm(ctx, row.system, false, row.options));
  }
}

const pad = (s: string | number, n: number): string => String(s).padStart(n);
console.log(`\nstorm of ${cfg.storm.conns} (LeanSocket clients), medians of ${runs} run(s); per run in brackets`);
console.log(`${'server'.padEnd(24)}${pad('accepted/s', 12)}${pad('server µs/conn', 16)}${pad('generator µs/conn', 19)}${pad('failed', 8)}   per-run accepted/s`);
for (const row of rows) {
  const rs = results.get(row.label)!;
  const of = (f: (r: StormResult) => number | undefined): number => median(rs.map((r) => f(r) ?? NaN));
  console.log(`${row.label.padEnd(24)}${pad(of((r) => r.acceptedPerSec), 12)}${pad(of((r) => r.serverUsPerConn), 16)}${pad(of((r) => r.genUsPerConn), 19)}${pad(rs.reduce((n, r) => n + r.failed, 0), 8)}   ${rs.map((r) => r.acceptedPerSec).join(' / ')}`);
}
