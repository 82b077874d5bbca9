// `npm start` builds first when dist/ is missing or older than any source file,
// so a newcomer's first `npm start` on a fresh clone just works.
import { statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}
let built = 0;
try { built = statSync('dist/src/cli.js').mtimeMs; } catch { /* never built */ }
if (built < Math.max(newest('src'), statSync('tsconfig.json').mtimeMs)) {
  // tsgo, TypeScript's native compiler: about 3 s here where tsc took 20 s (README, "Building").
  // Both programs: the browser build of the client (served to the chat page) is in the second.
  const started = Date.now();
  for (const [i, config] of ['tsconfig.json', 'tsconfig.browser.json'].entries()) {
    console.error(`hubbub: building ${i === 0 ? 'the broker' : 'the browser client'} (tsgo -p ${config})…`);
    execFileSync(process.execPath, ['node_modules/@typescript/native-preview/bin/tsgo', '-p', config], { stdio: 'inherit' });
  }
  console.error(`hubbub: built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
