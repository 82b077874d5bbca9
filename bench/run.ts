// `npm run bench`: the orchestrator. Starts each system under test as a child
// process, drives the load-generator fleet through each scenario, kills the
// system, moves on. Runs are interleaved (every system once per run, in
// turn) so that the machine's noise falls on all of them alike; the summary
// takes medians over runs and ratios against the baselines of the same run.
//
//   npm run bench                      full: 3 runs, under 30 minutes
//   npm run bench -- --quick           1 run of small scenarios, under 3 minutes
//   options: --runs N  --only idle,fanout,rooms,storm,resume,noisy,hostile,micro,workers
//            (opt-in, not in the full run: idle100k, storm50k)
//            --systems hubbub,hubbub-batch,ws-hub,socketio,gorilla
//            --profile (CPU profiles of Hubbub's fan-out, many rooms, storm and hostile attacks, run 1)
//            --heap-snapshot (Hubbub at the largest idle N, run 1)
//            --fanout-members 1000 (only the fan-out rooms of these sizes)
//            --heartbeat-ms 120000 (Hubbub's ping interval in the idle scenarios)
//            --storm-client ws (the storm's clients on ws's client instead of LeanSocket)
//            --attacks history-flood,history-fill (only these attacks of the hostile scenario)
//            --report bench/results/X.json (no run: that run's table and chart again, by this code)
import { execFileSync, execSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchConfig, type BenchConfig } from './config.js';
import { renderChart } from './report/chart.js';
import { summarize, type MicroResult, type RunResult } from './report/summary.js';
import { renderTable } from './report/table.js';
import type { Context } from './scenarios/common.js';
import { fanout } from './scenarios/fanout.js';
import { idle, idle100k } from './scenarios/idle.js';
import { hostile } from './scenarios/hostile.js';
import { manyRooms, noisy, storm, storm50k } from './scenarios/rooms.js';
import { renderResume, resumeStorm, summarizeResume } from './scenarios/resume.js';
import { workers } from './scenarios/workers.js';
import { ALL_SYSTEMS, buildGorilla, goMissing, type SystemId } from './systems.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCENARIOS = ['micro', 'idle', 'fanout', 'rooms', 'storm', 'resume', 'noisy', 'hostile', 'workers', 'idle100k', 'storm50k'] as const;
type Scenario = (typeof SCENARIOS)[number];
/** Long scale-out scenarios run only when named with --only. */
const OPT_IN: Scenario[] = ['idle100k', 'storm50k'];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    only: { type: 'string' },
    systems: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'heap-snapshot': { type: 'boolean', default: false },
    'fanout-members': { type: 'string' },
    'heartbeat-ms': { type: 'string' },
    'storm-client': { type: 'string' },
    attacks: { type: 'string' },
    report: { type: 'string' },
  },
});

/** Summary, terminal table and HTML chart of a run: for a run just made and for --report alike. */
function report(cfg: BenchConfig, runs: RunResult[], systems: SystemId[], meta: { date: string; commit: string }) {
  const summary = summarize(cfg, runs, systems);
  const resume = summarizeResume(runs.map((r) => r.resume));
  const table = renderTable(summary.rows, systems, summary.micro, summary.scaleOut, summary.scale) + renderResume(resume);
  const html = renderChart(cfg, runs, systems, summary.rows, `Hubbub bench ${meta.date} (${meta.commit})`, table);
  return { summary: { ...summary, resume }, table, html };
}

if (values.report !== undefined) {
  // --report FILE: the table and chart of a saved run, summarized again by this
  // version's code (a row added since is filled from the steps the run kept).
  const file = resolve(values.report);
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { meta: { date: string; commit: string; systems: SystemId[] }; config: BenchConfig; runs: RunResult[] };
  const { summary, table, html } = report(saved.config, saved.runs, saved.meta.systems, saved.meta);
  writeFileSync(file, `${JSON.stringify({ ...saved, summary }, null, 1)}\n`);
  writeFileSync(file.replace(/\.json$/, '.html'), html);
  process.stdout.write(`${table}\n`);
  process.exit(0);
}

const cfg = benchConfig(values.quick!);
if (values.runs !== undefined) cfg.runs = Number(values.runs);
if (values['fanout-members'] !== undefined) {
  // e.g. --fanout-members 1000: only the fan-out rooms of those sizes (a partial run: results go to tmp/).
  const keep = values['fanout-members'].split(',').map(Number);
  cfg.fanout.rooms = cfg.fanout.rooms.filter((r) => keep.includes(r.members));
}
// e.g. --heartbeat-ms 120000: Hubbub's ping interval in the idle scenarios (a partial run).
if (values['heartbeat-ms'] !== undefined) cfg.idleHubbubArgs = ['--heartbeat-ms', values['heartbeat-ms']];
// --storm-client ws: the storm's clients on ws's client, as before LeanSocket (a partial run).
if (values['storm-client'] !== undefined) {
  if (values['storm-client'] !== 'ws' && values['storm-client'] !== 'lean') throw new Error('--storm-client is lean or ws');
  cfg.storm.client = values['storm-client'];
}
// e.g. --attacks history-flood,history-fill: only those attacks of the hostile scenario (a partial run).
if (values.attacks !== undefined) cfg.hostile.attacks = values.attacks.split(',');
const only = new Set<Scenario>((values.only?.split(',') ?? SCENARIOS.filter((s) => !OPT_IN.includes(s))) as Scenario[]);
for (const s of only) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario "${s}"`);
let systems: SystemId[] = (values.systems?.split(',') ?? ALL_SYSTEMS) as SystemId[];
for (const s of systems) if (!ALL_SYSTEMS.includes(s)) throw new Error(`unknown system "${s}"`);

const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const name = `bench-${cfg.quick ? 'quick' : 'full'}-${stamp}`;
// Only a complete full run lands beside the committed results; quick and partial runs go to tmp/.
const complete = !cfg.quick && values.runs === undefined && values.only === undefined && values.systems === undefined && values['fanout-members'] === undefined && values['heartbeat-ms'] === undefined && values['storm-client'] === undefined && values.attacks === undefined;
const outDir = join(ROOT, 'bench', 'results', complete ? '' : 'tmp');
const artifacts = join(ROOT, 'bench', 'results', 'tmp');
mkdirSync(outDir, { recursive: true });
mkdirSync(artifacts, { recursive: true });

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const skipped: Record<string, string> = {};
if (systems.includes('gorilla')) {
  const why = goMissing();
  if (why !== null) {
    skipped.gorilla = why;
    log(`gorilla: skipped (${why}); see bench/README.md to install it`);
    systems = systems.filter((s) => s !== 'gorilla');
  } else {
    buildGorilla();
  }
}

function sh(cmd: string): string {
  try {
    return execSync(cmd, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

const meta = {
  date: new Date().toISOString(),
  commit: sh('git rev-parse --short HEAD'),
  machine: { cpu: cpus()[0]?.model ?? '?', cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), kernel: release() },
  node: process.version,
  go: skipped.gorilla === undefined && systems.includes('gorilla') ? sh('go version') : null,
  quick: cfg.quick,
  runs: cfg.runs,
  systems,
  skipped,
};

const ctx: Context = { cfg, systems, artifacts, heapSnapshot: false, profile: false, log };
const runs: RunResult[] = [];
const started = Date.now();

function save(): { json: string; html: string; table: string } {
  const { summary, table, html: page } = report(cfg, runs, systems, meta);
  const json = join(outDir, `${name}.json`);
  const html = join(outDir, `${name}.html`);
  writeFileSync(json, `${JSON.stringify({ meta, config: cfg, summary, runs }, null, 1)}\n`);
  writeFileSync(html, page);
  return { json, html, table };
}

/** Runs one (scenario, system) cell; a failure is recorded and the bench goes on. */
async function cell<T>(run: RunResult, what: string, fn: () => Promise<T>): Promise<T | undefined> {
  const t = Date.now();
  log(`[run ${run.run}] ${what}`);
  try {
    return await fn();
  } catch (err) {
    const msg = `${what}: ${err instanceof Error ? err.message : String(err)}`;
    run.errors.push(msg);
    log(`  FAILED ${msg}`);
    return undefined;
  } finally {
    log(`  (${((Date.now() - t) / 1000).toFixed(1)} s)`);
  }
}

function micro(): Promise<MicroResult> {
  const out = execFileSync(process.execPath, ['--expose-gc', join(ROOT, 'dist', 'bench', 'micro', 'scheduler-micro.js'), ...(cfg.quick ? ['--quick'] : [])], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 300_000,
  });
  return Promise.resolve(JSON.parse(out) as MicroResult);
}

for (let r = 1; r <= cfg.runs; r++) {
  const run: RunResult = { run: r, errors: [] };
  runs.push(run);
  ctx.profile = values.profile! && r === 1;
  ctx.heapSnapshot = values['heap-snapshot']! && r === 1;
  if (only.has('micro')) run.micro = await cell(run, 'scheduler micro-benchmark', micro);
  if (only.has('idle')) run.idle = await cell(run, `idle ${cfg.idle.ns.join('/')}`, () => idle(ctx));
  save();
  if (only.has('fanout')) {
    run.fanout = {};
    for (const room of cfg.fanout.rooms) {
      const per: NonNullable<RunResult['fanout']>[string] = (run.fanout[String(room.members)] = {});
      for (const s of systems) {
        const res = await cell(run, `fan-out ${s} M=${room.members}`, () => fanout(ctx, s, room.members, room.startRate, ctx.profile && s === 'hubbub'));
        if (res !== undefined) per[s] = res;
      }
      save();
    }
  }
  for (const s of systems) {
    if (only.has('rooms') && s !== 'hubbub-batch') {
      const res = await cell(run, `many rooms ${s}`, () => manyRooms(ctx, s, ctx.profile && s === 'hubbub'));
      if (res !== undefined) (run.manyRooms ??= {})[s] = res;
    }
  }
  for (const s of systems) {
    if (only.has('storm') && s !== 'hubbub-batch') {
      const res = await cell(run, `storm ${s}`, () => storm(ctx, s, ctx.profile && (s === 'hubbub' || s === 'ws-hub')));
      if (res !== undefined) (run.storm ??= {})[s] = res;
    }
  }
  // Gorilla runs on both cores; this is Hubbub on both (its own row, never the one-process figure).
  if (only.has('storm') && systems.includes('hubbub')) {
    const res = await cell(run, 'storm hubbub --workers 2', () => storm(ctx, 'hubbub', false, { hubbubArgs: ['--workers', '2'] }));
    if (res !== undefined) run.stormWorkers = res;
  }
  if (only.has('resume') && systems.includes('hubbub')) run.resume = await cell(run, 'reconnect storm with resume (hubbub alone)', () => resumeStorm(ctx));
  for (const s of systems) {
    if (only.has('noisy') && s !== 'hubbub-batch') {
      const res = await cell(run, `noisy neighbour ${s}`, () => noisy(ctx, s));
      if (res !== undefined) (run.noisy ??= {})[s] = res;
    }
  }
  for (const s of systems) {
    // The peers without rooms or history (gorilla) have nothing to attack beyond what noisy shows.
    if (only.has('hostile') && (s === 'hubbub' || s === 'ws-hub' || s === 'socketio')) {
      const res = await cell(run, `hostile clients ${s}`, () => hostile(ctx, s, ctx.profile && s === 'hubbub'));
      if (res !== undefined) (run.hostile ??= {})[s] = res;
    }
  }
  if (only.has('workers')) {
    const res = await cell(run, 'scale-out: serve vs --workers 1 vs --workers 2', () => workers(ctx, r));
    if (res !== undefined) {
      run.workers = res;
      run.errors.push(...res.errors);
    }
  }
  if (only.has('idle100k')) run.idle100k = await cell(run, `idle ${cfg.scaleIdle.conns} over --workers ${cfg.scaleIdle.workers}`, () => idle100k(ctx));
  if (only.has('storm50k')) {
    run.storm50k = await cell(run, `storm ${cfg.scaleStorm.conns} held over --workers ${cfg.scaleStorm.workers}`, () => storm50k(ctx));
    if (run.storm50k !== undefined && run.storm50k.failed > 0) run.errors.push(`storm50k: ${run.storm50k.failed} connections failed (${run.storm50k.errors.join('; ')})`);
  }
  save();
}

const { json, html, table } = save();
process.stdout.write(`\n${table}\n\n`);
const errors = runs.flatMap((r) => r.errors.map((e) => `run ${r.run}: ${e}`));
if (errors.length > 0) process.stdout.write(`errors:\n${errors.map((e) => `  ${e}`).join('\n')}\n\n`);
process.stdout.write(`results: ${json}\nchart:   ${html}\ntook ${((Date.now() - started) / 60000).toFixed(1)} min\n`);
process.exit(errors.length > 0 ? 1 : 0);
