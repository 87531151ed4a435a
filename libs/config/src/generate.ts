/**
 * Generates what a new homeserver needs on disk: a working configuration file, an Ed25519
 * signing key (Synapse's key file format) and a self-signed TLS certificate for the
 * federation listener.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { formatSigningKeyFile, generateSigningKey } from '@hs/protocol';
import { parseConfig } from './load';
import { ConfigValues, renderConfigYaml } from './sample';
import type { HomeserverConfig } from './types';

/** Some of the files to write already exist and overwriting was not asked for. */
export class FilesExistError extends Error {
  constructor(readonly files: readonly string[]) {
    super(`Refusing to overwrite existing file${files.length > 1 ? 's' : ''}: ${files.join(', ')} (use --force to overwrite)`);
    this.name = 'FilesExistError';
  }
}

const ALPHANUMERIC = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A fresh key version of the form `a_XXXX` (four random letters or digits). */
export function newKeyVersion(): string {
  return `a_${Array.from(randomBytes(4), (byte) => ALPHANUMERIC[byte % ALPHANUMERIC.length]).join('')}`;
}

export interface TlsCertificate {
  cert: string;
  key: string;
}

/** A self-signed certificate for the host part of the server name (and localhost), valid ten years. */
export async function generateTlsCertificate(serverName: string): Promise<TlsCertificate> {
  const host = serverName.startsWith('[') ? serverName.slice(1, serverName.indexOf(']')) : serverName.replace(/:\d+$/, '');
  const isIp = /^[0-9.]+$/.test(host) || host.includes(':');
  const altNames = [
    isIp ? { type: 7 as const, ip: host } : { type: 2 as const, value: host },
    ...(host === 'localhost' ? [] : [{ type: 2 as const, value: 'localhost' }]),
    ...(host === '127.0.0.1' ? [] : [{ type: 7 as const, ip: '127.0.0.1' }]),
  ];
  const notBeforeDate = new Date();
  const notAfterDate = new Date(notBeforeDate.getTime() + 10 * 365 * 24 * 3600 * 1000);
  // Loaded on use: the certificate library (and its ASN.1 and X.509 dependencies) is only
  // needed while generating files, never by a running server.
  const { generate: generateCertificate } = await import('selfsigned');
  const pems = await generateCertificate([{ name: 'commonName', value: host }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

function refuseExisting(files: readonly string[], force: boolean): void {
  const existing = files.filter((file) => existsSync(file));
  if (existing.length > 0 && !force) throw new FilesExistError(existing);
}

function writeFile(file: string, content: string, secret: boolean): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content, { mode: secret ? 0o600 : 0o644 });
}

export interface KeyFiles {
  signingKeyPath: string;
  tlsCertificatePath: string;
  tlsPrivateKeyPath: string;
  /** The key id of the new signing key, e.g. `ed25519:a_AbCd`. */
  keyId: string;
}

/** Writes a new signing key and TLS certificate at the paths a configuration names. */
export async function generateKeyFiles(config: HomeserverConfig, options: { force?: boolean } = {}): Promise<KeyFiles> {
  const files = {
    signingKeyPath: config.signing_key_path,
    tlsCertificatePath: config.federation_listener.tls_certificate_path,
    tlsPrivateKeyPath: config.federation_listener.tls_private_key_path,
  };
  refuseExisting(Object.values(files), options.force === true);
  const signingKey = generateSigningKey(newKeyVersion());
  const tls = await generateTlsCertificate(config.server_name);
  writeFile(files.signingKeyPath, formatSigningKeyFile([signingKey]), true);
  writeFile(files.tlsCertificatePath, tls.cert, false);
  writeFile(files.tlsPrivateKeyPath, tls.key, true);
  return { ...files, keyId: signingKey.keyId };
}

export interface GenerateConfigOptions {
  serverName: string;
  /** Where to write the configuration; keys and data go beside it. */
  out: string;
  clientPort?: number;
  federationPort?: number;
  /** Folder of the embedded database (relative to the config file's folder). */
  dataDir?: string;
  /** PostgreSQL URL; when given, the config uses PostgreSQL instead of the embedded database. */
  databaseUrl?: string;
  force?: boolean;
}

export interface GeneratedConfig extends KeyFiles {
  configPath: string;
  config: HomeserverConfig;
}

/**
 * Writes a working configuration (validated before anything is written), a signing key and
 * a TLS certificate beside it. Throws {@link FilesExistError} when any of the files exists
 * and `force` is not set, and ConfigError for invalid values.
 */
export async function generateConfigFiles(options: GenerateConfigOptions): Promise<GeneratedConfig> {
  const configPath = resolve(options.out);
  const clientPort = options.clientPort ?? 8008;
  const host = options.serverName.replace(/:\d+$/, '');
  const local = host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
  const values: ConfigValues = {
    server_name: options.serverName,
    public_baseurl: local ? `http://${host}:${clientPort}/` : `https://${host}/`,
    client_listener: { port: clientPort },
    federation_listener: { port: options.federationPort ?? 8448 },
    database: { data_dir: options.dataDir ?? 'data', ...(options.databaseUrl ? { url: options.databaseUrl } : {}) },
    registration: { shared_secret: randomBytes(24).toString('base64url') },
  };
  const text = renderConfigYaml(values);
  const config = parseConfig(text, { baseDir: dirname(configPath), env: {}, source: configPath });
  refuseExisting(
    [configPath, config.signing_key_path, config.federation_listener.tls_certificate_path, config.federation_listener.tls_private_key_path],
    options.force === true,
  );
  mkdirSync(dirname(configPath), { recursive: true });
  writeFile(configPath, text, true);
  const keys = await generateKeyFiles(config, { force: true });
  return { configPath, config, ...keys };
}
