/**
 * Starts the homeserver the way the README does (its `main` entry point, a generated
 * homeserver.yaml in an empty folder, the embedded database in ./data) as a child process on
 * free ports, with registration open. With `databaseUrl` it runs on that PostgreSQL database.
 * The TypeScript entry point runs through the SWC require hook of test/http/support, unless
 * `entry: 'dist'` runs the built `dist/apps/homeserver/src/main.js` (`npm run build`).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { freePort } from '@hs/testing';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../../..');
const HOOK = join(ROOT, 'test/support/register-ts.cjs');
const TS_ENTRY = join(ROOT, 'apps/homeserver/src/main.ts');
const DIST_ENTRY = join(ROOT, 'dist/apps/homeserver/src/main.js');

/**
 * The node options the homeserver is started with by `npm start` and the Docker image (a
 * test checks both): a larger young generation, so that fewer scavenges run under load.
 */
export const HOMESERVER_NODE_ARGS: readonly string[] = ['--max-semi-space-size=32', '--expose-gc'];

export interface StartServerOptions {
  /** PostgreSQL connection URL; the embedded database when absent. */
  databaseUrl?: string;
  /** Run the TypeScript sources (default) or the build in dist/. */
  entry?: 'ts' | 'dist';
  /** Extra HS_* configuration overrides. */
  env?: Record<string, string>;
  /** Keep rate limits on (they are off by default so that clients are not throttled). */
  rateLimits?: boolean;
  /** Extra arguments for node, e.g. `--cpu-prof` (after HOMESERVER_NODE_ARGS). */
  nodeArgs?: string[];
  /**
   * `logging.level` of the server (default info, which logs every request). Above info the
   * "listener ready" line is not written: the port is then chosen here and /health polled.
   */
  logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  /** How many of the last log lines `lines` keeps (default 500). */
  keepLines?: number;
  /**
   * Start-up is done when the server logs a line with this message (its url is then empty):
   * for a process without the client listener (scale-out roles). Default: the client
   * listener's ready line.
   */
  readyMessage?: string;
  /**
   * The folder the server runs in (its generated configuration, keys and embedded database),
   * kept by stop(): a second start in it is a restart. A new temporary one when absent.
   */
  dir?: string;
}

/** Resolves once GET /health answers 200. */
async function pollHealth(url: string, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && !exited()) {
    try {
      if ((await fetch(`${url}/health`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
  throw new Error(`${url}/health did not answer`);
}

export interface TestServer {
  /** Base URL of the client listener, e.g. http://127.0.0.1:40123 */
  url: string;
  serverName: string;
  pid: number;
  dir: string;
  /** The last log lines (JSON) the server wrote, 500 unless `keepLines` says otherwise. */
  lines: Record<string, unknown>[];
  stderr: string[];
  /** SIGTERM, wait for a graceful exit (SIGKILL after 20 s), remove the folder. */
  stop(): Promise<number | null>;
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('HS_')) env[name] = value;
  return { ...env, ...extra };
}

export async function startServer(options: StartServerOptions = {}): Promise<TestServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'hs-e2e-'));
  const entry = options.entry ?? 'ts';
  if (entry === 'dist' && !existsSync(DIST_ENTRY)) throw new Error(`${DIST_ENTRY} is missing: run \`npm run build\` first`);
  const args = [...HOMESERVER_NODE_ARGS, ...(options.nodeArgs ?? []), ...(entry === 'dist' ? [DIST_ENTRY] : ['-r', HOOK, TS_ENTRY])];
  const quiet = options.logLevel === 'warn' || options.logLevel === 'error';
  const port = quiet ? await freePort() : 0;
  const env: Record<string, string> = {
    HS_CLIENT_LISTENER__PORT: String(port),
    ...(options.logLevel ? { HS_LOGGING__LEVEL: options.logLevel } : {}),
    HS_CLIENT_LISTENER__BIND_ADDRESS: '127.0.0.1',
    HS_FEDERATION_LISTENER__ENABLED: 'false',
    HS_REGISTRATION__ENABLED: 'true',
    ...(options.rateLimits ? {} : { HS_RATE_LIMITS__ENABLED: 'false' }),
    ...(options.databaseUrl ? { HS_DATABASE__URL: options.databaseUrl } : {}),
    ...options.env,
  };
  const child: ChildProcess = spawn(process.execPath, args, { cwd: dir, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  const keepLines = options.keepLines ?? 500;
  const stderr: string[] = [];
  const exit = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  const ready = new Promise<string>((resolveReady, reject) => {
    if (quiet && options.readyMessage === undefined) {
      const url = `http://127.0.0.1:${port}`;
      pollHealth(url, () => child.exitCode !== null).then(() => resolveReady(url), reject);
    }
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`the server did not start within 120 s; stderr: ${stderr.join('')}`)), 120_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const text = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text) as Record<string, unknown>;
        } catch {
          line = { raw: text };
        }
        lines.push(line);
        if (lines.length > keepLines) lines.splice(0, lines.length - keepLines);
        if (options.readyMessage === undefined && line.msg === 'client listener ready' && typeof line.url === 'string') {
          clearTimeout(timer);
          resolveReady(line.url);
        } else if (options.readyMessage !== undefined && line.msg === options.readyMessage) {
          clearTimeout(timer);
          resolveReady('');
        }
      }
    });
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with ${code}; stdout: ${JSON.stringify(lines.slice(-20))}; stderr: ${stderr.join('')}`));
    });
  });
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
  let url: string;
  try {
    url = await ready;
  } catch (error) {
    if (child.exitCode === null) child.kill('SIGKILL');
    if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const config = readFileSync(join(dir, 'homeserver.yaml'), 'utf8');
  const serverName = /^server_name: (.+)$/m.exec(config)?.[1]?.trim() ?? 'localhost';
  let stopping: Promise<number | null> | undefined;
  return {
    url,
    serverName,
    pid: child.pid ?? -1,
    dir,
    lines,
    stderr,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        const code = await exit;
        clearTimeout(killer);
        if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
        return code;
      })();
      return stopping;
    },
  };
}

/** Resident memory of a process in kB (VmRSS of /proc/<pid>/status). */
export function residentKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]);
}
