/**
 * `admin create-user`: registers an account on a running homeserver through the
 * shared-secret registration API (`/_synapse/admin/v1/register`), signing the request with
 * `registration.shared_secret` from the configuration.
 */
import type { HomeserverConfig } from '@hs/config';
import { sharedSecretMac } from '@hs/accounts';
import { CommandFailure } from './errors';

export interface CreateUserOptions {
  username: string;
  password: string;
  admin: boolean;
  /** Base URL of the client API; defaults to the configured client listener on loopback. */
  url?: string;
}

export interface CreatedUser {
  userId: string;
}

function defaultUrl(config: HomeserverConfig): string {
  const host = config.client_listener.bind_address;
  const loopback = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
  return `http://${loopback.includes(':') ? `[${loopback}]` : loopback}:${config.client_listener.port}`;
}

async function requestJson(url: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new CommandFailure(`cannot reach the homeserver at ${url}: ${(error as Error).message} (is it running?)`);
  }
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    // A non-JSON answer is reported with its status below.
  }
  return { status: response.status, body };
}

export async function runCreateUser(config: HomeserverConfig, options: CreateUserOptions): Promise<CreatedUser> {
  const secret = config.registration.shared_secret;
  if (!secret) throw new CommandFailure('registration.shared_secret is not set in the configuration: shared-secret registration is off');
  const base = (options.url ?? defaultUrl(config)).replace(/\/+$/, '');
  const endpoint = `${base}/_synapse/admin/v1/register`;

  const nonceAnswer = await requestJson(endpoint);
  const nonce = nonceAnswer.body.nonce;
  if (nonceAnswer.status !== 200 || typeof nonce !== 'string') {
    throw new CommandFailure(`the homeserver refused to issue a nonce (HTTP ${nonceAnswer.status}${describe(nonceAnswer.body)})`);
  }
  const mac = sharedSecretMac(secret, { nonce, username: options.username, password: options.password, admin: options.admin });
  const answer = await requestJson(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ nonce, username: options.username, password: options.password, admin: options.admin, mac }),
  });
  if (answer.status !== 200 || typeof answer.body.user_id !== 'string') {
    throw new CommandFailure(`registration failed (HTTP ${answer.status}${describe(answer.body)})`);
  }
  return { userId: answer.body.user_id };
}

function describe(body: Record<string, unknown>): string {
  return typeof body.errcode === 'string' ? `, ${body.errcode}: ${String(body.error ?? '')}` : '';
}
