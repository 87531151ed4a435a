/**
 * Support for suites that run homeserver instances federating over HTTPS on loopback: a
 * self-signed certificate per instance (trusted through a CA file), free ports, and raw
 * requests to a federation listener (any headers, optionally signed as another server).
 */
import { writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { signRequest, type SigningKey } from '@hs/protocol';
import { startInProcess, type InProcessOptions, type InProcessServer } from './in-process-server';

const DAY = 24 * 60 * 60 * 1000;

/**
 * A self-signed certificate for 127.0.0.1 and localhost under a subject of its own: a CA file
 * is searched by subject, so certificates that share one shadow each other.
 */
export async function certificateFor(subject: string): Promise<{ cert: string; key: string }> {
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: subject }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + DAY),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Writes `<dir>/<port>.crt` and `.key` for each server (its own self-signed certificate) and
 * `<dir>/ca.pem` trusting them all; resolves with the CA file, its text and each certificate.
 */
export async function writeCertificates(dir: string, servers: readonly { name: string; port: number }[]): Promise<{ caFile: string; ca: string; pems: string[] }> {
  const pems: string[] = [];
  for (const { name, port } of servers) {
    const tls = await certificateFor(`federation test server ${name}`);
    writeFileSync(join(dir, `${port}.crt`), tls.cert);
    writeFileSync(join(dir, `${port}.key`), tls.key);
    pems.push(tls.cert);
  }
  const caFile = join(dir, 'ca.pem');
  const ca = pems.join('\n');
  writeFileSync(caFile, ca);
  return { caFile, ca, pems };
}

export interface FederationInstance {
  name: string;
  port: number;
  server: InProcessServer;
}

/**
 * A homeserver in this process named `name`, its federation listener on 127.0.0.1:`port` with
 * the certificate {@link writeCertificates} wrote in `dir`, trusting the CAs of `<dir>/ca.pem`.
 */
export async function startFederationInstance(
  dir: string,
  name: string,
  port: number,
  options: { env?: Record<string, string>; federationModules?: InProcessOptions['federationModules'] } = {},
): Promise<FederationInstance> {
  const server = await startInProcess({
    env: {
      HS_SERVER_NAME: name,
      HS_FEDERATION_LISTENER__ENABLED: 'true',
      HS_FEDERATION_LISTENER__BIND_ADDRESS: '127.0.0.1',
      HS_FEDERATION_LISTENER__PORT: String(port),
      HS_FEDERATION_LISTENER__TLS_CERTIFICATE_PATH: join(dir, `${port}.crt`),
      HS_FEDERATION_LISTENER__TLS_PRIVATE_KEY_PATH: join(dir, `${port}.key`),
      HS_FEDERATION__TLS_CA_FILE: join(dir, 'ca.pem'),
      ...options.env,
    },
    federationModules: options.federationModules,
  });
  return { name, port, server };
}

export interface RawResponse {
  status: number;
  body: Record<string, unknown>;
}

export interface RawRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
}

/** A request to a federation listener without the homeserver's client: any headers, the test CAs. */
export function rawRequest(port: number, ca: string, options: RawRequest): Promise<RawResponse> {
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path,
        ca,
        headers: { ...(payload ? { 'Content-Type': 'application/json' } : {}), ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** A request signed (X-Matrix) by `origin` with `key` for `destination`, sent raw: the status and body whatever they are. */
export function signedRawRequest(
  port: number,
  ca: string,
  from: { origin: string; key: SigningKey; destination: string },
  options: Omit<RawRequest, 'headers'>,
): Promise<RawResponse> {
  const method = options.method ?? 'GET';
  const authorization = signRequest({ method, uri: options.path, content: options.body, origin: from.origin, destination: from.destination }, from.key);
  return rawRequest(port, ca, { ...options, method, headers: { Authorization: authorization } });
}
