// Provisions what the tests and the bench need beyond npm: the system
// packages no npm package ships. `npm test` runs it for Redis (the Redis
// backplane and fault tests start a real redis-server), `npm run bench` for
// Redis and the Go baseline (Go and Debian's gorilla/websocket source).
//
//   node scripts/provision.mjs redis [go] [--dry-run]
//
// What is there is left alone. What is missing is installed with apt-get when
// this is Debian (or derived) and we are root, saying what it does; anywhere
// else the run stops with one line naming the package to install. Never a
// silent skip: a test that needs Redis must run. --dry-run prints the plan.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Each need: how to tell it is there, and the Debian package that brings it. */
const NEEDS = {
  redis: { has: () => onPath('redis-server'), deb: 'redis-server', elsewhere: 'redis-server (Redis 6.2 or later: apt-get install redis-server, dnf install redis, brew install redis)' },
  go: { has: () => onPath('go'), deb: 'golang-go', elsewhere: 'Go (https://go.dev/dl/ or your package manager)' },
  gorilla: {
    has: () => existsSync('/usr/share/gocode/src/github.com/gorilla/websocket/conn.go'),
    deb: 'golang-github-gorilla-websocket-dev',
    elsewhere: "Debian's golang-github-gorilla-websocket-dev (the bench builds its Go baseline offline against it)",
  },
};

function onPath(cmd) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch { /* not in this dir */ }
  }
  return false;
}

/** What to do, from what is missing and where we are. Exported through --dry-run for tests. */
function plan(wanted, env) {
  const missing = wanted.filter((n) => !NEEDS[n].has());
  if (missing.length === 0) return { kind: 'ok' };
  if (env.debian && env.root) return { kind: 'install', packages: missing.map((n) => NEEDS[n].deb) };
  return { kind: 'error', message: `missing: ${missing.map((n) => NEEDS[n].elsewhere).join('; ')}` };
}

const args = process.argv.slice(2);
const dryRun = args.includes('--dry-run');
const wanted = args.filter((a) => !a.startsWith('--')).flatMap((a) => (a === 'go' ? ['go', 'gorilla'] : [a]));
for (const w of wanted) {
  if (!(w in NEEDS)) {
    console.error(`provision: unknown need "${w}" (known: redis, go)`);
    process.exit(2);
  }
}
// HUBBUB_PROVISION_AS lets the tests see the other branches without changing the machine.
const as = process.env.HUBBUB_PROVISION_AS;
const env = {
  debian: as === undefined ? existsSync('/etc/debian_version') && onPath('apt-get') : as.includes('debian'),
  root: as === undefined ? process.getuid?.() === 0 : as.includes('root'),
};
const p = plan(wanted, env);
if (p.kind === 'ok') process.exit(0);
if (p.kind === 'error') {
  console.error(`provision: ${p.message}. Install it and run again.`);
  process.exit(1);
}
console.log(`provision: installing Debian's ${p.packages.join(' ')} (apt-get update, apt-get install -y ${p.packages.join(' ')})${dryRun ? ' [dry run: nothing done]' : ''}`);
if (dryRun) process.exit(0);
const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
for (const step of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', ...p.packages]]) {
  const r = spawnSync('apt-get', step, { stdio: 'inherit', env: aptEnv });
  if (r.status !== 0) {
    console.error(`provision: apt-get ${step[0]} failed (${r.status ?? r.signal}); install ${p.packages.join(' ')} by hand and run again.`);
    process.exit(1);
  }
}
const still = wanted.filter((n) => !NEEDS[n].has());
if (still.length > 0) {
  console.error(`provision: still missing after apt-get: ${still.join(', ')}`);
  process.exit(1);
}
if (wanted.includes('redis')) console.log(`provision: ${execFileSync('redis-server', ['--version']).toString().trim()}`);
