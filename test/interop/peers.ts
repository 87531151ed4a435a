/**
 * Real Synapse and Dendrite homeservers for the interoperability suite, installed by
 * test/interop/install.sh: each runs in a temporary folder on loopback with a generated
 * configuration (SQLite, a server name `127.0.0.1:<federation port>` so that no DNS or
 * .well-known is involved, TLS on the federation listener with a certificate the test made,
 * other servers' certificates checked against the PEM bundle the test gives, users registered
 * through the shared-secret admin API), and is stopped by its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSigningKeyFile, signingKeyFromSeed, type SigningKey } from '@hs/protocol';
import { call } from '@hs/testing';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { freePort } from '@hs/testing';

export type PeerKind = 'synapse' | 'dendrite';

export interface SynapseInstallation {
  kind: 'synapse';
  installed: true;
  version: string;
  python: string;
}

export interface DendriteInstallation {
  kind: 'dendrite';
  installed: true;
  version: string;
  bin: string;
}

export type PeerInstallation = SynapseInstallation | DendriteInstallation | { kind: PeerKind; installed: false; reason: string };

/** Where install.sh puts the peers and its peers.json. */
export function interopCacheDir(): string {
  return process.env.HS_INTEROP_CACHE ?? join(homedir(), '.cache', 'hs-interop');
}

/** What install.sh recorded for each peer: where it is, or why it is not installed. */
export function readInstallation(): Record<PeerKind, PeerInstallation> {
  const file = join(interopCacheDir(), 'peers.json');
  const missing = (kind: PeerKind, reason: string): PeerInstallation => ({ kind, installed: false, reason });
  if (!existsSync(file)) {
    const reason = `test/interop/install.sh has not been run (no ${file})`;
    return { synapse: missing('synapse', reason), dendrite: missing('dendrite', reason) };
  }
  let recorded: Partial<Record<PeerKind, { missing?: string; version?: string; python?: string; bin?: string }>>;
  try {
    recorded = JSON.parse(readFileSync(file, 'utf8')) as typeof recorded;
  } catch (error) {
    const reason = `${file} cannot be read (${(error as Error).message}); run test/interop/install.sh`;
    return { synapse: missing('synapse', reason), dendrite: missing('dendrite', reason) };
  }
  const synapse = recorded.synapse ?? {};
  const dendrite = recorded.dendrite ?? {};
  return {
    synapse:
      synapse.python && synapse.version && existsSync(synapse.python)
        ? { kind: 'synapse', installed: true, version: synapse.version, python: synapse.python }
        : missing('synapse', synapse.missing ?? `${synapse.python ?? 'its Python'} is gone; run test/interop/install.sh`),
    dendrite:
      dendrite.bin && dendrite.version && existsSync(join(dendrite.bin, 'dendrite'))
        ? { kind: 'dendrite', installed: true, version: dendrite.version, bin: dendrite.bin }
        : missing('dendrite', dendrite.missing ?? `${dendrite.bin ?? 'its binaries'} are gone; run test/interop/install.sh`),
  };
}

export interface PeerUser {
  userId: string;
  accessToken: string;
}

export interface PeerOptions {
  /** The certificate and key of the peer's federation listener (PEM). */
  tls: { cert: string; key: string };
  /** The certificates the peer trusts for other servers (PEM each): ours, and other peers'. */
  trust: string[];
  /**
   * A PostgreSQL database for the peer (an empty one of its own), instead of SQLite. Synapse
   * needs psycopg2 in its virtual environment for it (`bench/compare` installs it).
   */
  databaseUrl?: string;
}

export interface Peer {
  kind: PeerKind;
  version: string;
  /** `127.0.0.1:<federation port>`. */
  serverName: string;
  federationPort: number;
  /** The client-server API, plain HTTP on loopback. */
  clientUrl: string;
  /** The peer's signing key, read from the file its own tool generated. */
  signingKey: SigningKey;
  /** The peer's temporary folder (configuration, keys, databases, log). */
  dir: string;
  /** The server's process id. */
  pid: number;
  /** Registers a user through the shared-secret admin API (`/_synapse/admin/v1/register`). */
  register(localpart: string): Promise<PeerUser>;
  /** The last lines of the peer's output, for failure messages. */
  logTail(lines?: number): string;
  /** Stops the process (SIGTERM, then SIGKILL) and removes the folder. */
  stop(): Promise<void>;
}

const REGISTRATION_SECRET = 'interop-shared-secret';
const START_TIMEOUT_MS = 120_000;

/** A child process whose output goes to a log file. */
class PeerProcess {
  private readonly child: ChildProcess;
  private exited: Promise<void>;
  exitCode: number | null = null;

  constructor(
    readonly command: string,
    args: string[],
    readonly logFile: string,
    env: NodeJS.ProcessEnv,
    cwd: string,
  ) {
    const fd = openSync(logFile, 'a');
    try {
      this.child = spawn(command, args, { cwd, env, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? 128 : 1);
        resolve();
      });
      this.child.once('error', () => {
        this.exitCode = this.exitCode ?? 127;
        resolve();
      });
    });
  }

  get running(): boolean {
    return this.exitCode === null;
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  tail(lines = 40): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Runs to the end (for one-shot tools); rejects with the output when it fails. */
  async finished(): Promise<void> {
    await this.exited;
    if (this.exitCode !== 0) throw new Error(`${this.command} exited with ${this.exitCode}:\n${this.tail()}`);
  }

  async stop(): Promise<void> {
    if (!this.running || this.child.pid === undefined) return;
    process.kill(this.child.pid, 'SIGTERM');
    const stopped = await Promise.race([this.exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 15_000).unref())]);
    if (!stopped && this.running) {
      process.kill(this.child.pid, 'SIGKILL');
      await this.exited;
    }
  }
}

/** Runs a one-shot tool to completion, its output in `logFile`. */
function runTool(command: string, args: string[], logFile: string, cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new PeerProcess(command, args, logFile, env, cwd).finished();
}

/** GET over HTTPS trusting only `ca`: the status, or the error's message. */
function httpsStatus(port: number, path: string, ca: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, ca, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve(error.message));
    req.end();
  });
}

/** Waits until both listeners answer (the federation one over TLS with the given certificate). */
async function waitUntilReady(process_: PeerProcess, clientUrl: string, federationPort: number, cert: string, what: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last: unknown = 'not tried';
  while (Date.now() < deadline) {
    if (!process_.running) throw new Error(`${what} exited with ${process_.exitCode} while starting:\n${process_.tail()}`);
    try {
      const client = await fetch(new URL('/_matrix/client/versions', clientUrl));
      const federation = await httpsStatus(federationPort, '/_matrix/federation/v1/version', cert);
      if (client.status === 200 && federation === 200) return;
      last = `client ${client.status}, federation ${federation}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await process_.stop();
  throw new Error(`${what} was not ready after ${START_TIMEOUT_MS} ms (${String(last)}):\n${process_.tail()}`);
}

/** Registration through the shared-secret admin API, which Synapse and Dendrite both serve. */
async function registerWithSharedSecret(clientUrl: string, localpart: string): Promise<PeerUser> {
  const nonce = await call<{ nonce?: string }>(clientUrl, 'GET', '/_synapse/admin/v1/register');
  if (nonce.status !== 200 || typeof nonce.body.nonce !== 'string') throw new Error(`register nonce: ${nonce.status} ${JSON.stringify(nonce.body)}`);
  const password = `${localpart}-interop-password`;
  const mac = createHmac('sha1', REGISTRATION_SECRET).update(`${nonce.body.nonce}\0${localpart}\0${password}\0notadmin`).digest('hex');
  const reply = await call<{ user_id?: string; access_token?: string }>(clientUrl, 'POST', '/_synapse/admin/v1/register', {
    body: { nonce: nonce.body.nonce, username: localpart, password, admin: false, mac },
  });
  if (reply.status !== 200 || typeof reply.body.user_id !== 'string' || typeof reply.body.access_token !== 'string') {
    throw new Error(`register ${localpart}: ${reply.status} ${JSON.stringify(reply.body)}`);
  }
  return { userId: reply.body.user_id, accessToken: reply.body.access_token };
}

interface Launch {
  kind: PeerKind;
  version: string;
  dir: string;
  federationPort: number;
  clientPort: number;
  signingKey: SigningKey;
  process: PeerProcess;
  cert: string;
}

async function launched(launch: Launch): Promise<Peer> {
  const serverName = `127.0.0.1:${launch.federationPort}`;
  const clientUrl = `http://127.0.0.1:${launch.clientPort}`;
  try {
    await waitUntilReady(launch.process, clientUrl, launch.federationPort, launch.cert, `${launch.kind} ${launch.version}`);
  } catch (error) {
    rmSync(launch.dir, { recursive: true, force: true });
    throw error;
  }
  return {
    kind: launch.kind,
    version: launch.version,
    serverName,
    federationPort: launch.federationPort,
    clientUrl,
    signingKey: launch.signingKey,
    dir: launch.dir,
    pid: launch.process.pid,
    register: (localpart) => registerWithSharedSecret(clientUrl, localpart),
    logTail: (lines) => launch.process.tail(lines),
    async stop() {
      await launch.process.stop();
      if (process.env.INTEROP_KEEP_PEER_DIRS === '1') return;
      rmSync(launch.dir, { recursive: true, force: true });
    },
  };
}

/** psycopg2's connection arguments for a PostgreSQL URL. */
function postgresArgs(url: string): Record<string, string | number> {
  const parsed = new URL(url);
  return {
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    host: parsed.hostname,
    port: Number(parsed.port || 5432),
    database: decodeURIComponent(parsed.pathname.slice(1)),
  };
}

/** Generous rate limits: the suite sends bursts from one address. */
const SYNAPSE_UNLIMITED = { per_second: 1000, burst_count: 1000 };

/** Starts Synapse (installed by install.sh) with a generated configuration. */
export async function startSynapse(installation: SynapseInstallation, options: PeerOptions): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), 'hs-interop-synapse-'));
  const [federationPort, clientPort] = [await freePort(), await freePort()];
  const file = (name: string) => join(dir, name);
  writeFileSync(file('federation.crt'), options.tls.cert);
  writeFileSync(file('federation.key'), options.tls.key);
  const trusted = options.trust.map((pem, i) => {
    writeFileSync(file(`trusted-${i}.pem`), pem);
    return file(`trusted-${i}.pem`);
  });
  const config = {
    server_name: `127.0.0.1:${federationPort}`,
    pid_file: file('homeserver.pid'),
    report_stats: false,
    listeners: [
      { port: federationPort, bind_addresses: ['127.0.0.1'], type: 'http', tls: true, resources: [{ names: ['federation'], compress: false }] },
      { port: clientPort, bind_addresses: ['127.0.0.1'], type: 'http', tls: false, x_forwarded: false, resources: [{ names: ['client'], compress: false }] },
    ],
    tls_certificate_path: file('federation.crt'),
    tls_private_key_path: file('federation.key'),
    // Certificates of other servers are checked, against the given ones only (one per file:
    // Synapse reads the first certificate of each).
    federation_verify_certificates: true,
    federation_custom_ca_list: trusted,
    // Loopback is refused by default (the default list holds the private ranges).
    ip_range_blacklist: [],
    database: options.databaseUrl ? { name: 'psycopg2', args: { ...postgresArgs(options.databaseUrl), cp_min: 5, cp_max: 10 } } : { name: 'sqlite3', args: { database: file('homeserver.db') } },
    media_store_path: file('media'),
    signing_key_path: file('signing.key'),
    trusted_key_servers: [],
    suppress_key_server_warning: true,
    registration_shared_secret: REGISTRATION_SECRET,
    enable_registration: false,
    bcrypt_rounds: 4,
    presence: { enabled: false },
    enable_metrics: false,
    url_preview_enabled: false,
    rc_message: SYNAPSE_UNLIMITED,
    rc_registration: SYNAPSE_UNLIMITED,
    rc_login: { address: SYNAPSE_UNLIMITED, account: SYNAPSE_UNLIMITED, failed_attempts: SYNAPSE_UNLIMITED },
    rc_joins: { local: SYNAPSE_UNLIMITED, remote: SYNAPSE_UNLIMITED },
    rc_invites: { per_room: SYNAPSE_UNLIMITED, per_user: SYNAPSE_UNLIMITED, per_issuer: SYNAPSE_UNLIMITED },
    rc_federation: { window_size: 1000, sleep_limit: 1000, sleep_delay: 1, reject_limit: 1000, concurrent: 100 },
  };
  writeFileSync(file('homeserver.yaml'), toYaml(config));
  const python = installation.python;
  try {
    await runTool(python, ['-m', 'synapse.app.homeserver', '-c', file('homeserver.yaml'), '--generate-keys'], file('generate-keys.log'), dir);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const signingKey = parseSigningKeyFile(readFileSync(file('signing.key'), 'utf8'))[0];
  const child = new PeerProcess(python, ['-m', 'synapse.app.homeserver', '-c', file('homeserver.yaml')], file('homeserver.log'), { ...process.env, PYTHONUNBUFFERED: '1' }, dir);
  return launched({ kind: 'synapse', version: installation.version, dir, federationPort, clientPort, signingKey, process: child, cert: options.tls.cert });
}

/** Starts the peer that `installation` describes. */
export function startPeer(installation: SynapseInstallation | DendriteInstallation, options: PeerOptions): Promise<Peer> {
  return installation.kind === 'synapse' ? startSynapse(installation, options) : startDendrite(installation, options);
}

/** Dendrite's key file: a PEM block "MATRIX PRIVATE KEY" with a Key-ID header over the 32-byte seed. */
export function parseDendriteKeyFile(text: string): SigningKey {
  const match = /-----BEGIN MATRIX PRIVATE KEY-----\r?\n([\s\S]*?)-----END MATRIX PRIVATE KEY-----/.exec(text);
  if (!match) throw new Error('no MATRIX PRIVATE KEY block');
  const [headers, body] = match[1].split(/\r?\n\r?\n/);
  const keyId = /^Key-ID:\s*(\S+)/m.exec(headers)?.[1];
  if (!keyId || body === undefined) throw new Error('no Key-ID header');
  return signingKeyFromSeed(Buffer.from(body.replace(/\s+/g, ''), 'base64'), keyId);
}

/** Starts Dendrite (built by install.sh) with a configuration from its own generate-config. */
export async function startDendrite(installation: DendriteInstallation, options: PeerOptions): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), 'hs-interop-dendrite-'));
  const [federationPort, clientPort] = [await freePort(), await freePort()];
  const file = (name: string) => join(dir, name);
  const bin = (name: string) => join(installation.bin, name);
  writeFileSync(file('federation.crt'), options.tls.cert);
  writeFileSync(file('federation.key'), options.tls.key);
  writeFileSync(file('trusted.pem'), options.trust.join('\n'));
  // Go reads the roots it trusts from SSL_CERT_FILE: the given certificates only.
  const env = { ...process.env, SSL_CERT_FILE: file('trusted.pem') };
  const serverName = `127.0.0.1:${federationPort}`;
  try {
    await runTool(bin('generate-keys'), ['-private-key', file('matrix_key.pem')], file('generate-keys.log'), dir);
    await runTool(bin('generate-config'), ['-dir', dir, '-server', serverName, ...(options.databaseUrl ? ['-db', options.databaseUrl] : [])], file('generate-config.yaml'), dir);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const signingKey = parseDendriteKeyFile(readFileSync(file('matrix_key.pem'), 'utf8'));
  const config = parseYaml(readFileSync(file('generate-config.yaml'), 'utf8')) as DendriteConfig;
  config.global.private_key = file('matrix_key.pem');
  config.global.key_id = signingKey.keyId;
  config.global.jetstream = { ...config.global.jetstream, in_memory: true, storage_path: dir };
  config.global.server_notices = { ...config.global.server_notices, enabled: false };
  // Its PostgreSQL pool beside other servers' on one database server (generate-config gives 90).
  if (options.databaseUrl) config.global.database = { ...(config.global.database as Record<string, unknown>), max_open_conns: 20, max_idle_conns: 5 };
  config.global.trusted_third_party_id_servers = [];
  config.client_api.registration_disabled = true;
  config.client_api.registration_shared_secret = REGISTRATION_SECRET;
  config.client_api.rate_limiting = { ...config.client_api.rate_limiting, enabled: false };
  config.federation_api.key_perspectives = [];
  config.federation_api.prefer_direct_fetch = true;
  // Certificates are checked (against SSL_CERT_FILE above).
  config.federation_api.disable_tls_validation = false;
  config.user_api.bcrypt_cost = 4;
  config.logging = [{ type: 'file', level: 'info', params: { path: file('logs') } }];
  writeFileSync(file('dendrite.yaml'), toYaml(config));
  const args = [
    '-config',
    file('dendrite.yaml'),
    '-http-bind-address',
    `127.0.0.1:${clientPort}`,
    '-https-bind-address',
    `127.0.0.1:${federationPort}`,
    '-tls-cert',
    file('federation.crt'),
    '-tls-key',
    file('federation.key'),
  ];
  const child = new PeerProcess(bin('dendrite'), args, file('dendrite.log'), env, dir);
  return launched({ kind: 'dendrite', version: installation.version, dir, federationPort, clientPort, signingKey, process: child, cert: options.tls.cert });
}

/** The parts of Dendrite's configuration the harness sets; the rest stays as generate-config wrote it. */
interface DendriteConfig {
  global: Record<string, unknown> & { jetstream: Record<string, unknown>; server_notices: Record<string, unknown> };
  client_api: Record<string, unknown> & { rate_limiting: Record<string, unknown> };
  federation_api: Record<string, unknown>;
  user_api: Record<string, unknown>;
  logging: unknown[];
}

/**
 * Sends a request signed by Dendrite's own federation library (its `furl` tool, as the given
 * Dendrite server) and answers what came back: the JSON body on success.
 */
export async function furl(installation: DendriteInstallation, peer: Peer, url: string): Promise<unknown> {
  const logFile = join(peer.dir, `furl-${Date.now()}-${Math.random().toString(36).slice(2, 6)}.log`);
  const env = { ...process.env, SSL_CERT_FILE: join(peer.dir, 'trusted.pem') };
  await runTool(join(installation.bin, 'furl'), ['-from', peer.serverName, '-key', join(peer.dir, 'matrix_key.pem'), url], logFile, peer.dir, env);
  const output = readFileSync(logFile, 'utf8');
  const start = output.indexOf('{');
  if (start < 0) throw new Error(`furl printed no JSON: ${output}`);
  return JSON.parse(output.slice(start)) as unknown;
}
