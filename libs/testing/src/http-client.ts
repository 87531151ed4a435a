/**
 * A small JSON client for HTTP tests against a running homeserver: one call records the
 * status, headers and parsed body; users are registered through user-interactive auth.
 */

/**
 * What a call got back. `headers` is not enumerable, so a reply compares equal to a plain
 * `{ status, body }` in assertions.
 */
export interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
  readonly headers: Headers;
}

export interface CallOptions {
  /** Access token sent as `Authorization: Bearer`. */
  token?: string;
  /** A body sent as JSON. */
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
  const reply = { status: response.status, body: parsed as T };
  return Object.defineProperty(reply, 'headers', { value: response.headers, enumerable: false }) as Reply<T>;
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

/** Registers a user through user-interactive auth (m.login.dummy); `extra` joins the request body. */
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
