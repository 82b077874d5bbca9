// scripts/provision.mjs, the set-up `npm test` and `npm run bench` share: it
// leaves what is there alone, installs what is missing with apt-get on Debian
// as root (saying so), and elsewhere stops with one line naming the package.
// The machine is never changed here: a PATH without redis-server makes it
// missing, HUBBUB_PROVISION_AS stands for the OS and user, and --dry-run
// prints the plan instead of running apt-get.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const SCRIPT = fileURLToPath(new URL('../../scripts/provision.mjs', import.meta.url));
const Provision = suite('provision');

function run(args: string[], env: Record<string, string>): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { env: { ...process.env, ...env }, timeout: 10_000 });
  return { code: r.status, out: r.stdout.toString(), err: r.stderr.toString() };
}

Provision('what is there is left alone, silently', () => {
  const r = run(['redis'], {});
  assert.is(r.code, 0, r.err);
  assert.is(r.out + r.err, '');
});

Provision('missing on Debian as root: it says it installs Debian\'s package (dry run)', () => {
  const empty = mkdtempSync(join(tmpdir(), 'hubbub-provision-'));
  try {
    const r = run(['redis', '--dry-run'], { PATH: empty, HUBBUB_PROVISION_AS: 'debian,root' });
    assert.is(r.code, 0, r.err);
    assert.match(r.out, /installing Debian's redis-server \(apt-get update, apt-get install -y redis-server\) \[dry run/);
    const go = run(['go', '--dry-run'], { PATH: empty, HUBBUB_PROVISION_AS: 'debian,root' });
    assert.match(go.out, /golang-go/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

Provision('missing elsewhere, or without root: one line naming what to install, exit 1', () => {
  const empty = mkdtempSync(join(tmpdir(), 'hubbub-provision-'));
  try {
    for (const as of ['other', 'debian']) {
      const r = run(['redis'], { PATH: empty, HUBBUB_PROVISION_AS: as });
      assert.is(r.code, 1);
      assert.match(r.err, /^provision: missing: redis-server \(Redis 6\.2 or later: apt-get install redis-server.*Install it and run again\.\n$/);
      assert.is(r.err.split('\n').length, 2, 'one line');
    }
    assert.is(run(['mongodb'], {}).code, 2, 'an unknown need is a usage error');
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

Provision.run();

