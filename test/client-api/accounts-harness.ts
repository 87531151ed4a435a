/**
 * The homeserver in this process for the accounts suites: a free port, a temporary embedded
 * database, registration open, cheap password hashing, rate limits as asked; and a small JSON
 * client that records nothing but status and body.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateConfigFiles, loadConfig, type HomeserverConfig } from '@hs/config';
import pino from 'pino';
import { startHomeserver, type RunningHomeserver } from '../../apps/homeserver/src/homeserver';

export interface TestServer {
  url: string;
  config: HomeserverConfig;
  server: RunningHomeserver;
  close(): Promise<void>;
}

export async function startTestServer(env: Record<string, string> = {}, clock?: () => number): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'hs-accounts-api-'));
  try {
    const file = join(dir, 'homeserver.yaml');
    await generateConfigFiles({ serverName: 'localhost', out: file, clientPort: 0 });
    const config = loadConfig(file, {
      HS_CLIENT_LISTENER__BIND_ADDRESS: '127.0.0.1',
      HS_FEDERATION_LISTENER__ENABLED: 'false',
      HS_REGISTRATION__ENABLED: 'true',
      HS_RATE_LIMITS__ENABLED: 'false',
      HS_LOGGING__LEVEL: 'silent',
      ...env,
    });
    const server = await startHomeserver(config, pino({ level: 'silent' }), {
      accounts: { passwordHashing: { memoryCost: 1024, timeCost: 1, parallelism: 1 } },
      clock,
    });
    return {
      url: server.clientUrl,
      config,
      server,
      async close() {
        await server.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

export interface Reply<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  /** A body sent as it is (for malformed JSON). */
  raw?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
}

/** One HTTP call; `path` without a leading slash is under /_matrix/client/v3/. */
export async function call<T = Record<string, unknown>>(base: string, method: string, path: string, options: CallOptions = {}): Promise<Reply<T>> {
  const url = new URL(path.startsWith('/') ? path : `/_matrix/client/v3/${path}`, base);
  for (const [name, value] of Object.entries(options.query ?? {})) url.searchParams.set(name, value);
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
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
    // not JSON: kept as text so that the assertion shows it
  }
  return { status: response.status, headers: response.headers, body: parsed as T };
}

export interface TestUser {
  userId: string;
  deviceId: string;
  token: string;
  password: string;
  username: string;
}

let counter = 0;

/** A fresh username for this run. */
export function uniqueName(prefix = 'user'): string {
  counter += 1;
  return `${prefix}${counter}${Math.random().toString(36).slice(2, 6)}`;
}

/** Registers a user through user-interactive auth (m.login.dummy). */
export async function registerUser(base: string, prefix = 'user', extra: Record<string, unknown> = {}): Promise<TestUser> {
  const username = uniqueName(prefix);
  const password = `${username}-secret`;
  const request = { username, password, ...extra };
  const first = await call<{ session?: string }>(base, 'POST', 'register', { body: request });
  if (first.status !== 401 || typeof first.body.session !== 'string') throw new Error(`register: ${first.status} ${JSON.stringify(first.body)}`);
  const done = await call<{ user_id: string; device_id: string; access_token: string }>(base, 'POST', 'register', {
    body: { ...request, auth: { type: 'm.login.dummy', session: first.body.session } },
  });
  if (done.status !== 200) throw new Error(`register: ${done.status} ${JSON.stringify(done.body)}`);
  return { userId: done.body.user_id, deviceId: done.body.device_id, token: done.body.access_token, password, username };
}

/** The `auth` object of the m.login.password stage for `user`. */
export function passwordAuth(user: TestUser, session: string, password = user.password): Record<string, unknown> {
  return { type: 'm.login.password', identifier: { type: 'm.id.user', user: user.userId }, password, session };
}
