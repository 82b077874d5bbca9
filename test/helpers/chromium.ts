// The one headless Chromium every browser test launches: the build shipped
// inside the @sparticuz/chromium npm package, driven by playwright-core, so
// `npm ci && npm test` needs no system browser.
//
// The package inflates its brotli-packed binary (and the libraries and fonts
// beside it) into os.tmpdir() on first use, and then trusts whatever sits at
// /tmp/chromium: a half-written file from a concurrent run, or another
// version's. So the inflation goes into a private directory that is renamed,
// whole, to a name keyed by the package's version.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import sparticuz from '@sparticuz/chromium';
import { chromium, type Browser } from 'playwright-core';

// The package's own args suit AWS Lambda (single process, web security and site
// isolation off). A test browser should enforce what a user's browser does
// (the origin test depends on it), so it gets only these: no sandbox (tests may
// run as root), no GPU, and nothing that reaches the network by itself.
const FONTS_CONF = 'hubbub-fonts.conf';
const ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--no-default-browser-check',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-domain-reliability',
];

function packageVersion(): string {
  const entry = createRequire(import.meta.url).resolve('@sparticuz/chromium'); // .../build/cjs/index.cjs
  const pkg = join(dirname(entry), '..', '..', 'package.json');
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

async function inflate(): Promise<string> {
  const dir = join(tmpdir(), `hubbub-chromium-${packageVersion()}`);
  const executable = join(dir, 'chromium');
  if (existsSync(executable)) return executable;
  const staging = await mkdtemp(`${dir}.part-`);
  // The package takes its destination from os.tmpdir(), which reads TMPDIR;
  // every path it uses is computed before its first await.
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = staging;
  let inflated: Promise<string>;
  try {
    inflated = sparticuz.executablePath();
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
  const path = await inflated;
  if (path !== join(staging, 'chromium')) {
    throw new Error(`@sparticuz/chromium put its binary at ${path}, not in ${staging}: test/helpers/chromium.ts needs updating`);
  }
  // The package's fonts.conf names /tmp/fonts; this one adds its fonts to the system's, if any.
  await writeFile(join(staging, FONTS_CONF), [
    '<?xml version="1.0"?>',
    '<fontconfig>',
    '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>',
    `  <dir>${join(dir, 'fonts')}</dir>`,
    `  <cachedir>${join(dir, 'fonts-cache')}</cachedir>`,
    '</fontconfig>',
    '',
  ].join('\n'));
  try {
    await rename(staging, dir);
  } catch (err) {
    // Another run got there first; its copy is complete (rename is atomic).
    await rm(staging, { recursive: true, force: true });
    if (!existsSync(executable)) throw err;
  }
  return executable;
}

let executable: Promise<string> | null = null;

/** The path of the inflated Chromium binary (inflated once, about 6 s, then reused). */
export function chromiumExecutable(): Promise<string> {
  executable ??= inflate();
  return executable;
}

/** A fresh headless browser; playwright gives each launch and each context a profile of its own. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = await chromiumExecutable();
  return chromium.launch({
    executablePath,
    args: ARGS,
    timeout: 30_000,
    env: { ...process.env, FONTCONFIG_FILE: join(dirname(executablePath), FONTS_CONF) },
  });
}
