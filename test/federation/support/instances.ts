/**
 * Instances of the homeserver federating over HTTPS on loopback, for the federation suites:
 * each with its own server name (`127.0.0.1:<port>` or `localhost:<port>`), signing key and
 * self-signed TLS certificate, all trusting one another through one CA file (certificate
 * checking on). And a small client-server API client for their users.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@hs/testing';
import { startFederationInstance, writeFederationTls } from '../../support/federation-instances';
import type { InProcessServer } from '../../support/in-process-server';

export interface FederatedInstance {
  name: string;
  port: number;
  server: InProcessServer;
}

/** A set of instances that trust one another's certificates; `start` (re)starts one on its port. */
export class Federation {
  readonly dir = mkdtempSync(join(tmpdir(), 'hs-federation-'));
  caFile = '';
  private names: string[] = [];
  private ports: number[] = [];

  /** Prepares `count` server names (`127.0.0.1:<port>` and `localhost:<port>` in turn) and their certificates. */
  async prepare(count: number): Promise<string[]> {
    this.ports = await Promise.all(Array.from({ length: count }, () => freePort()));
    this.names = this.ports.map((port, i) => (i % 2 === 0 ? `127.0.0.1:${port}` : `localhost:${port}`));
    this.caFile = (await writeFederationTls(this.dir, this.ports, (i) => `federation test server ${this.names[i]}`)).caFile;
    return [...this.names];
  }

  /** Starts instance `i`; with `keepData`, its data lives in a folder of its own that a restart reuses. */
  async start(i: number, env: Record<string, string> = {}, keepData = false): Promise<FederatedInstance> {
    const name = this.names[i];
    const port = this.ports[i];
    const server = await startFederationInstance({
      dir: this.dir,
      caFile: this.caFile,
      name,
      port,
      env: { HS_FEDERATION__REQUEST_TIMEOUT_MS: '5000', ...env },
      dataDir: keepData ? this.dataDirOf(i) : undefined,
    });
    return { name, port, server };
  }

  private dataDirOf(i: number): string {
    const dir = join(this.dir, `data-${i}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface ClientResponse {
  status: number;
  body: Record<string, unknown>;
}

/** A user of an instance, through the client-server API. */
export class TestUser {
  private txn = 0;
  private since: string | undefined;

  private constructor(
    public baseUrl: string,
    readonly userId: string,
    private readonly token: string,
  ) {}

  static async register(instance: FederatedInstance, localpart: string): Promise<TestUser> {
    const url = instance.server.url;
    const response = await fetch(`${url}/_matrix/client/v3/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: localpart, password: 'correct horse battery', auth: { type: 'm.login.dummy' }, inhibit_login: false }),
    });
    const body = (await response.json()) as { user_id: string; access_token: string };
    if (response.status !== 200) throw new Error(`register ${localpart}: ${response.status} ${JSON.stringify(body)}`);
    return new TestUser(url, body.user_id, body.access_token);
  }

  /** A guest account of `instance` (which must allow guests). */
  static async registerGuest(instance: FederatedInstance): Promise<TestUser> {
    const url = instance.server.url;
    const response = await fetch(`${url}/_matrix/client/v3/register?kind=guest`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    const body = (await response.json()) as { user_id: string; access_token: string };
    if (response.status !== 200) throw new Error(`register a guest: ${response.status} ${JSON.stringify(body)}`);
    return new TestUser(url, body.user_id, body.access_token);
  }

  /** The user's access token (for requests the helpers here do not make). */
  get accessToken(): string {
    return this.token;
  }

  /** Talks to `instance` from now on (its client port after a restart). */
  moveTo(instance: FederatedInstance): void {
    this.baseUrl = instance.server.url;
  }

  async call(method: string, path: string, body?: unknown): Promise<ClientResponse> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { Authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  async ok(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const answer = await this.call(method, path, body);
    if (answer.status !== 200) throw new Error(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  }

  async createRoom(body: Record<string, unknown> = {}): Promise<string> {
    return (await this.ok('POST', '/_matrix/client/v3/createRoom', body)).room_id as string;
  }

  async join(roomIdOrAlias: string, via: readonly string[] = []): Promise<string> {
    const query = via.map((s) => `server_name=${encodeURIComponent(s)}`).join('&');
    return (await this.ok('POST', `/_matrix/client/v3/join/${encodeURIComponent(roomIdOrAlias)}${query ? `?${query}` : ''}`, {})).room_id as string;
  }

  async send(roomId: string, body: string): Promise<string> {
    const txn = `t${++this.txn}-${Date.now()}`;
    return (await this.ok('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${txn}`, { msgtype: 'm.text', body })).event_id as string;
  }

  async state(roomId: string, type: string, key = ''): Promise<ClientResponse> {
    return this.call('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/${encodeURIComponent(type)}/${encodeURIComponent(key)}`);
  }

  /** Syncs until `found` finds what it looks for in an answer (or the deadline passes). */
  async syncUntil<T>(found: (sync: Record<string, unknown>) => T | undefined, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: Record<string, unknown> = {};
    while (Date.now() < deadline) {
      const query = `timeout=1000${this.since ? `&since=${encodeURIComponent(this.since)}` : ''}`;
      last = await this.ok('GET', `/_matrix/client/v3/sync?${query}`);
      this.since = last.next_batch as string;
      const value = found(last);
      if (value !== undefined) return value;
    }
    throw new Error(`${this.userId}: not found in /sync within ${timeoutMs} ms; last answer ${JSON.stringify(last).slice(0, 2000)}`);
  }

  /** Waits until a message with `body` shows in a joined room's timeline; answers its event. */
  async waitForMessage(roomId: string, body: string, timeoutMs?: number): Promise<Record<string, unknown>> {
    return this.syncUntil((sync) => {
      const rooms = (sync.rooms as { join?: Record<string, { timeline?: { events?: Record<string, unknown>[] } }> } | undefined)?.join;
      return rooms?.[roomId]?.timeline?.events?.find((e) => (e.content as { body?: unknown } | undefined)?.body === body);
    }, timeoutMs);
  }

  /** Waits until the user is invited to a room; answers the room id. */
  async waitForInvite(roomId?: string, timeoutMs?: number): Promise<string> {
    return this.syncUntil((sync) => {
      const invites = (sync.rooms as { invite?: Record<string, unknown> } | undefined)?.invite ?? {};
      return Object.keys(invites).find((id) => roomId === undefined || id === roomId);
    }, timeoutMs);
  }
}

/**
 * Two federating instances started before the tests of the enclosing `describe` and stopped
 * after them; `pair.a` and `pair.b` are set once they run.
 */
export function useFederatedPair(): { a: FederatedInstance; b: FederatedInstance } {
  const federation = new Federation();
  const pair = {} as { a: FederatedInstance; b: FederatedInstance };
  beforeAll(async () => {
    await federation.prepare(2);
    pair.a = await federation.start(0);
    pair.b = await federation.start(1);
  }, 120_000);
  afterAll(async () => {
    await Promise.allSettled([pair.a, pair.b].filter(Boolean).map((instance) => instance.server.close()));
    federation.dispose();
  }, 60_000);
  return pair;
}
