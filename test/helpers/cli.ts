// Runs the `hubbub` command to its end and collects what it printed: for tests
// of what a person at a terminal sees (exit status, stdout, stderr).
import { spawn } from 'node:child_process';
import { CLI_PATH } from './broker.js';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 10_000): Promise<CliRun> {
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    env: { ...process.env, HUBBUB_DEBUG_TOKEN: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hubbub ${args.join(' ')} did not finish within ${timeoutMs} ms: ${stdout}${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
