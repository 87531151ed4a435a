/**
 * Homeserver instances that federate over HTTPS on loopback, for the test/federation suites:
 * each listens on its own port of 127.0.0.1 with its own self-signed certificate (valid for
 * 127.0.0.1 and localhost, under a subject of its own), and all trust one another through one
 * CA file (certificate checking on).
 */
import { writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { signRequest, type SigningKey } from '@hs/protocol';
import { testCertificate } from '@hs/testing';
import { startInProcess, type InProcessOptions, type InProcessServer } from './in-process-server';

export interface FederationTls {
  /** The CA file that trusts every certificate. */
  caFile: string;
  /** Its content. */
  ca: string;
  /** The certificate of each port, in the order given. */
  certificates: string[];
}

/** Writes `<port>.crt` and `<port>.key` for each port, and `ca.pem`, into `dir`. */
export async function writeFederationTls(dir: string, ports: readonly number[], subjectOf: (index: number) => string): Promise<FederationTls> {
  const certificates: string[] = [];
  for (const [index, port] of ports.entries()) {
    const tls = await testCertificate({ subject: subjectOf(index) });
    writeFileSync(join(dir, `${port}.crt`), tls.cert);
    writeFileSync(join(dir, `${port}.key`), tls.key);
    certificates.push(tls.cert);
  }
  const caFile = join(dir, 'ca.pem');
  const ca = certificates.join('\n');
  writeFileSync(caFile, ca);
  return { caFile, ca, certificates };
}

export interface FederationInstanceOptions {
  /** The folder of writeFederationTls. */
  dir: string;
  caFile: string;
  name: string;
  port: number;
  /** Further `HS_*` configuration. */
  env?: Record<string, string>;
  federationModules?: InProcessOptions['federationModules'];
  /** The instance's folder (configuration and embedded database), kept across restarts. */
  dataDir?: string;
}

/** A homeserver named `name` with its federation listener on 127.0.0.1:`port`. */
export function startFederationInstance(options: FederationInstanceOptions): Promise<InProcessServer> {
  return startInProcess({
    env: {
      HS_SERVER_NAME: options.name,
      HS_FEDERATION_LISTENER__ENABLED: 'true',
      HS_FEDERATION_LISTENER__BIND_ADDRESS: '127.0.0.1',
      HS_FEDERATION_LISTENER__PORT: String(options.port),
      HS_FEDERATION_LISTENER__TLS_CERTIFICATE_PATH: join(options.dir, `${options.port}.crt`),
      HS_FEDERATION_LISTENER__TLS_PRIVATE_KEY_PATH: join(options.dir, `${options.port}.key`),
      HS_FEDERATION__TLS_CA_FILE: options.caFile,
      ...options.env,
    },
    federationModules: options.federationModules,
    dir: options.dataDir,
  });
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
