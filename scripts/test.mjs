// Runs uvu over dist/test and fails unless every test it counted ran.
// uvu 0.5 swallows an exception thrown by a suite's before/after hook: the
// suite reports "(0 / N)" and uvu exits 0. Here Total must equal Passed +
// Skipped, or the run fails naming the gap.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// uvu's package exports do not include its bin; it sits at a fixed place.
const bin = fileURLToPath(new URL('../node_modules/uvu/bin.js', import.meta.url));
const args = [bin, 'dist/test', process.argv[2] ?? '\\.test\\.js$', ...process.argv.slice(3)];
const child = spawn(process.execPath, args, { stdio: ['inherit', 'pipe', 'inherit'] });
let out = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  out += chunk.toString();
  if (out.length > 1 << 20) out = out.slice(-(1 << 16)); // only the summary at the end matters
});
child.on('close', (code, signal) => {
  const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
  const count = (label) => Number((plain.match(new RegExp(`${label}:\\s+(\\d+)`)) ?? [])[1]);
  const [total, passed, skipped] = [count('Total'), count('Passed'), count('Skipped')];
  if (code !== 0 || signal !== null) process.exit(code ?? 1);
  if (!(total > 0) || passed + skipped !== total) {
    console.error(`\ntest runner: ${total - passed - skipped} of ${total} tests did not run ` +
      '(a suite\'s before/after hook threw: uvu swallows that). Failing the run.');
    process.exit(1);
  }
});
