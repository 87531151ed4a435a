/**
 * The homeserver in this process (`startHomeserver`), listening on a free port with a
 * temporary embedded database (or a temporary PostgreSQL database when TEST_DATABASE_URL is
 * set), registration open, rate limits as asked, cheap password hashing. Plus a small JSON
 * client for the tests: register users through user-interactive auth, call endpoints.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateConfigFiles, loadConfig } from '@hs/config';
import { createTemporaryDatabase, type TemporaryDatabase } from '@hs/persistence';
import pino from 'pino';
import { startHomeserver, type RunningHomeserver } from '../../../apps/homeserver/src/homeserver';

export interface InProcessServer {
  url: string;
  serverName: string;
  server: RunningHomeserver;
  close(): Promise<void>;
}

export async function startInProcess(options: { rateLimits?: boolean; env?: Record<string, string> } = {}): Promise<InProcessServer> {
  const dir = mkdtempSync(join(tmpdir(), 'hs-cs-api-'));
  let database: TemporaryDatabase | undefined;
  try {
    if (process.env.TEST_DATABASE_URL) database = await createTemporaryDatabase(process.env.TEST_DATABASE_URL, 'hs_cs_api');
    const file = join(dir, 'homeserver.yaml');
    await generateConfigFiles({ serverName: 'localhost', out: file, clientPort: 0, databaseUrl: database?.url });
    const config = loadConfig(file, {
      HS_CLIENT_LISTENER__BIND_ADDRESS: '127.0.0.1',
      HS_FEDERATION_LISTENER__ENABLED: 'false',
      HS_REGISTRATION__ENABLED: 'true',
      HS_RATE_LIMITS__ENABLED: options.rateLimits ? 'true' : 'false',
      ...options.env,
    });
    const server = await startHomeserver(config, pino({ level: 'silent' }), {
      accounts: { passwordHashing: { memoryCost: 1024, timeCost: 1, parallelism: 1 } },
    });
    return {
      url: server.clientUrl,
      serverName: config.server_name,
      server,
      async close() {
        await server.close();
        await database?.drop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

export interface Response<T = Record<string, unknown>> {
  status: number;
  body: T;
}

/** One HTTP call with a JSON body (or raw text when `raw` is set). */
export async function call<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; raw?: string; query?: Record<string, string> } = {},
): Promise<Response<T>> {
  const url = new URL(path.startsWith('/') ? path : `/_matrix/client/v3/${path}`, base);
  for (const [name, value] of Object.entries(options.query ?? {})) url.searchParams.set(name, value);
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : {};
  } catch {
    // left as text
  }
  return { status: response.status, body: parsed as T };
}

export interface TestUser {
  userId: string;
  deviceId: string;
  token: string;
}

let counter = 0;

/** Registers a user through user-interactive auth (m.login.dummy). */
export async function registerUser(base: string, name = 'user'): Promise<TestUser> {
  counter += 1;
  const username = `${name}${counter}${Math.random().toString(36).slice(2, 6)}`;
  const request = { username, password: `${username}-password` };
  const first = await call<{ session?: string }>(base, 'POST', 'register', { body: request });
  if (first.status !== 401 || typeof first.body.session !== 'string') throw new Error(`register: ${first.status} ${JSON.stringify(first.body)}`);
  const done = await call<{ user_id: string; device_id: string; access_token: string }>(base, 'POST', 'register', {
    body: { ...request, auth: { type: 'm.login.dummy', session: first.body.session } },
  });
  if (done.status !== 200) throw new Error(`register: ${done.status} ${JSON.stringify(done.body)}`);
  return { userId: done.body.user_id, deviceId: done.body.device_id, token: done.body.access_token };
}
