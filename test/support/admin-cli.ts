/** Runs the admin CLI in this process with its output captured. */
import { PassThrough } from 'node:stream';
import { runAdmin } from '../../apps/admin/src/cli';

export interface AdminRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `admin <argv>` with `env` as its environment; resolves with the exit code and what it wrote. */
export async function runAdminCaptured(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<AdminRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const code = await runAdmin(argv, { stdout, stderr, env });
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}
