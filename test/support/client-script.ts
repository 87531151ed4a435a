/**
 * Runs a client script (matrix-js-sdk, matrix-nio) in its own process: `command ...args
 * ...urls <result file>`; resolves with the JSON report it wrote, its output appended to
 * `error` when it failed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

export interface ClientReport {
  ok: boolean;
  error?: string;
  steps: string[];
}

export function runClientScript<R extends ClientReport>(command: string, args: readonly string[], urls: readonly string[], timeoutMs = 240_000): Promise<R> {
  const dir = mkdtempSync(join(tmpdir(), 'hs-client-'));
  const resultFile = join(dir, 'result.json');
  return new Promise<R>((resolvePromise, reject) => {
    const child = spawn(command, [...args, ...urls, resultFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      try {
        const report = JSON.parse(readFileSync(resultFile, 'utf8')) as R;
        if (!report.ok) report.error = `${report.error ?? `exit code ${code}`}\n--- client output ---\n${output.join('').slice(-4000)}`;
        resolvePromise(report);
      } catch {
        reject(new Error(`the client wrote no report (exit code ${code}):\n${output.join('').slice(-4000)}`));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
