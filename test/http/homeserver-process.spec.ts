/**
 * The homeserver as a process: first run in an empty folder, both listeners (the federation
 * one over TLS with the generated certificate), graceful shutdown with a request in flight,
 * and exit code 2 for an invalid configuration. The TypeScript entry point runs through the
 * SWC require hook in test/support/register-ts.cjs, so no build step is needed.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../../apps/homeserver/src/main';

const ROOT = resolve(__dirname, '../..');
const HOOK = join(__dirname, '..', 'support', 'register-ts.cjs');
const ENTRY = join(ROOT, 'apps/homeserver/src/main.ts');

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('HS_')) env[name] = value;
  return { ...env, ...extra };
}

interface Server {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: string[];
  exit: Promise<number | null>;
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

function startProcess(args: string[], cwd: string, env: Record<string, string>): Server {
  const child = spawn(process.execPath, ['-r', HOOK, ENTRY, ...args], { cwd, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const listeners = new Set<() => void>();
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ raw: line });
      }
      for (const listener of listeners) listener();
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
  const exit = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  return {
    child,
    lines,
    stderr,
    exit,
    waitForLog(predicate, timeoutMs = 60000) {
      return new Promise((resolveLine, reject) => {
        const check = () => {
          const found = lines.find(predicate);
          if (found) {
            listeners.delete(check);
            clearTimeout(timer);
            resolveLine(found);
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`log line not seen; stdout: ${JSON.stringify(lines)}; stderr: ${stderr.join('')}`));
        }, timeoutMs);
        listeners.add(check);
        void exit.then(() => {
          if (listeners.has(check)) {
            listeners.delete(check);
            clearTimeout(timer);
            reject(new Error(`process exited; stdout: ${JSON.stringify(lines)}; stderr: ${stderr.join('')}`));
          }
        });
        check();
      });
    },
  };
}

describe('homeserver process', () => {
  let dir: string;
  let server: Server;
  let clientUrl: string;
  let federationUrl: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hs-process-'));
    // First run: no homeserver.yaml in the folder. Ports come from the environment (0 = any free port).
    server = startProcess([], dir, { HS_CLIENT_LISTENER__PORT: '0', HS_FEDERATION_LISTENER__PORT: '0', HS_CLIENT_LISTENER__BIND_ADDRESS: '127.0.0.1', HS_FEDERATION_LISTENER__BIND_ADDRESS: '127.0.0.1' });
    clientUrl = String((await server.waitForLog((line) => line.msg === 'client listener ready')).url);
    federationUrl = String((await server.waitForLog((line) => line.msg === 'federation listener ready')).url);
  }, 120000);

  afterAll(async () => {
    if (server.child.exitCode === null) {
      server.child.kill('SIGKILL');
      await server.exit;
    }
  });

  it('generates homeserver.yaml, the signing key and the TLS certificate on first run, and says so', async () => {
    expect(server.lines.some((line) => line.msg === 'no configuration found: generated one for server name localhost')).toBe(true);
    const config = readFileSync(join(dir, 'homeserver.yaml'), 'utf8');
    expect(config).toMatch(/^server_name: localhost$/m);
    expect(config).toMatch(/^ {2}data_dir: data$/m);
    expect(readFileSync(join(dir, 'signing.key'), 'utf8')).toMatch(/^ed25519 a_[A-Za-z0-9]{4} [A-Za-z0-9+/]{43}\n$/);
    expect(existsSync(join(dir, 'tls.crt'))).toBe(true);
    expect(existsSync(join(dir, 'data'))).toBe(true);
  });

  it('answers /_matrix/client/versions and /health on the client listener', async () => {
    const versions = await fetch(`${clientUrl}/_matrix/client/versions`);
    expect(versions.status).toBe(200);
    expect(await versions.json()).toEqual({ versions: expect.any(Array), unstable_features: expect.any(Object) });
    const health = await fetch(`${clientUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', checks: { database: 'ok', read_models: 'ok' } });
    const wellKnown = await fetch(`${clientUrl}/.well-known/matrix/client`);
    expect(await wellKnown.json()).toEqual({ 'm.homeserver': { base_url: 'http://localhost:8008/' } });
  });

  it('serves the federation listener over TLS with the generated certificate', async () => {
    const ca = readFileSync(join(dir, 'tls.crt'));
    const get = (path: string) =>
      new Promise<{ status: number; body: string }>((resolveGet, reject) => {
        const req = httpsRequest(`${federationUrl}${path}`, { ca, servername: 'localhost' }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
          res.on('end', () => resolveGet({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    const health = await get('/health');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: 'ok', checks: { database: 'ok', read_models: 'ok' } });
    const unknown = await get('/_matrix/federation/v1/nothing');
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body)).toEqual({ errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
  });

  it('on SIGTERM finishes the request in flight, then exits 0', async () => {
    const url = new URL(`${clientUrl}/_matrix/client/versions`);
    const response = new Promise<{ status: number; body: string }>((resolveResponse, reject) => {
      const req = httpRequest(
        { host: url.hostname, port: url.port, path: url.pathname, method: 'PUT', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
        (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
          res.on('end', () => resolveResponse({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      // Half the body now; the rest only after the server was told to stop.
      req.write('{"in_flight":');
      void server.waitForLog((line) => line.msg === 'shutdown requested').then(() => {
        setTimeout(() => req.end('true}'), 300);
      });
    });
    await new Promise((resolveWait) => setTimeout(resolveWait, 300));
    server.child.kill('SIGTERM');
    const answered = await response;
    expect(answered.status).toBe(405);
    expect(JSON.parse(answered.body)).toEqual({ errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
    expect(await server.exit).toBe(0);
    expect(server.lines.some((line) => line.msg === 'shut down')).toBe(true);
  }, 60000);
});

describe('homeserver start-up with a bad configuration', () => {
  async function run(args: string[]): Promise<{ code: number; stderr: string }> {
    const stderr: string[] = [];
    const code = await main(args, { env: {}, stderr: (text) => stderr.push(text), shutdownSignal: Promise.resolve('test') });
    return { code, stderr: stderr.join('') };
  }

  it('exits 2 naming each invalid key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hs-badconfig-'));
    const file = join(dir, 'homeserver.yaml');
    writeFileSync(file, 'server_name: bad_name!\nclient_listener: { port: 123456 }\n');
    const result = await run(['--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`Invalid configuration in ${file}`);
    expect(result.stderr).toContain('server_name: must be a server name');
    expect(result.stderr).toContain('client_listener.port: must be between 0 and 65535');
  });

  it('exits 2 when --config names a missing file (it is only generated without --config)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hs-badconfig-'));
    const result = await run(['--config', join(dir, 'missing.yaml')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('does not exist');
    expect(existsSync(join(dir, 'missing.yaml'))).toBe(false);
  });

  it('exits 2 naming signing_key_path and the TLS keys when their files are missing or broken', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hs-badconfig-'));
    const file = join(dir, 'homeserver.yaml');
    writeFileSync(file, 'server_name: a.example\n');
    writeFileSync(join(dir, 'signing.key'), 'ed25519 a_x not-base64\n');
    const result = await run(['--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('signing_key_path:');
    expect(result.stderr).toContain('federation_listener.tls_certificate_path:');
    expect(result.stderr).toContain('generate-keys');
  });

  it('rejects unknown arguments as a usage error', async () => {
    const result = await run(['--bogus']);
    expect(result.code).toBe(64);
    expect(result.stderr).toContain('unknown argument --bogus');
  });

  it('runs the exit-code-2 path as a real process too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hs-badconfig-'));
    writeFileSync(join(dir, 'homeserver.yaml'), 'server_name: a.example\nlogging: { level: chatty }\n');
    const child = startProcess(['--config', 'homeserver.yaml'], dir, {});
    expect(await child.exit).toBe(2);
    expect(child.stderr.join('')).toContain('logging.level: must be one of');
  }, 60000);
});

