/**
 * Outbound HTTPS requests to other servers: the server name resolved (./server-resolution.ts),
 * TLS certificates checked (system CAs, NODE_EXTRA_CA_CERTS and the configured CA file) unless
 * the configuration turns checking off, requests signed with X-Matrix when asked, a deadline
 * on the whole exchange, and a cap on the size of the answer, which must be a JSON object.
 */
import { readFileSync } from 'node:fs';
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import { checkServerIdentity, rootCertificates, type PeerCertificate } from 'node:tls';
import { signRequest, type SigningKey } from '@hs/protocol';
import type { Logger } from 'pino';
import { resolveServerName } from './server-resolution';

/** A request to another server that failed; `reason` is safe to log. */
export class FederationRequestError extends Error {
  constructor(
    readonly destination: string,
    readonly reason: string,
    /** The HTTP status, when the server answered. */
    readonly status?: number,
  ) {
    super(`Request to ${destination} failed: ${reason}`);
    this.name = 'FederationRequestError';
  }
}

export interface FederationClientOptions {
  /** Our server name: the origin of signed requests. */
  serverName: string;
  signingKey: SigningKey;
  /** Check certificates (false only for test set-ups; logged loudly). */
  verifyCertificates: boolean;
  /** A PEM file of extra CAs, or null. */
  caFile: string | null;
  /** Deadline of one request, connection included, in milliseconds. */
  timeoutMs: number;
  logger: Logger;
  /** Largest answer accepted when a request does not say (default 1 MiB). */
  maxResponseBytes?: number;
}

export interface FederationRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** The path from `/_matrix/…`, already percent-encoded, with its query string if any. */
  path: string;
  /** A JSON body (POST and PUT). */
  body?: unknown;
  /** Add an X-Matrix Authorization header (default true). */
  signed?: boolean;
  maxResponseBytes?: number;
}

export interface FederationResponse {
  status: number;
  body: Record<string, unknown>;
}

const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/** The CAs to trust when a CA file is configured: Node's bundled roots, NODE_EXTRA_CA_CERTS and the file. */
function trustedCas(caFile: string): string[] {
  const cas = [...rootCertificates];
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (extra) {
    try {
      cas.push(readFileSync(extra, 'utf8'));
    } catch {
      // Node itself warned at start-up that the file could not be read.
    }
  }
  cas.push(readFileSync(caFile, 'utf8'));
  return cas;
}

export class FederationClient {
  private readonly agent: Agent;
  private readonly maxResponseBytes: number;

  constructor(private readonly options: FederationClientOptions) {
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    // Without a CA file the agent uses Node's default store, which includes NODE_EXTRA_CA_CERTS.
    const ca = options.caFile ? trustedCas(options.caFile) : undefined;
    this.agent = new Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: options.verifyCertificates, ...(ca ? { ca } : {}) });
    if (!options.verifyCertificates) {
      options.logger.warn(
        { setting: 'federation.verify_tls_certificates' },
        'TLS CERTIFICATES OF OTHER SERVERS ARE NOT CHECKED: any server can impersonate any other. Use this only in test set-ups.',
      );
    }
  }

  /** Sends `request` to `destination` (a server name); throws FederationRequestError. */
  request(destination: string, request: FederationRequest): Promise<FederationResponse> {
    let target;
    try {
      target = resolveServerName(destination);
    } catch {
      return Promise.reject(new FederationRequestError(destination, 'not a valid server name'));
    }
    const payload = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body), 'utf8');
    const headers: Record<string, string> = { Host: target.hostHeader, Accept: 'application/json' };
    if (payload) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    if (request.signed !== false) {
      headers.Authorization = signRequest(
        { method: request.method, uri: request.path, origin: this.options.serverName, destination, content: request.body },
        this.options.signingKey,
      );
    }
    const limit = request.maxResponseBytes ?? this.maxResponseBytes;
    const options: RequestOptions = {
      host: target.host,
      port: target.port,
      method: request.method,
      path: request.path,
      headers,
      agent: this.agent,
      ...(target.tlsServerName ? { servername: target.tlsServerName } : {}),
      // The certificate must be valid for the host of the server name (or its IP literal).
      checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(target.tlsServerName ?? target.tlsIp ?? target.host, cert),
    };
    return new Promise<FederationResponse>((resolve, reject) => {
      let settled = false;
      const fail = (reason: string, status?: number) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        req.destroy();
        reject(new FederationRequestError(destination, reason, status));
      };
      const deadline = setTimeout(() => fail(`no answer within ${this.options.timeoutMs} ms`), this.options.timeoutMs);
      const req = httpsRequest(options, (res) => {
        const status = res.statusCode ?? 0;
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > limit) {
          fail(`answer of ${declared} bytes is larger than ${limit}`, status);
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > limit) fail(`answer larger than ${limit} bytes`, status);
          else chunks.push(chunk);
        });
        res.on('error', (error) => fail(`reading the answer: ${error.message}`, status));
        res.on('end', () => {
          if (settled) return;
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            fail(status >= 200 && status < 300 ? 'the answer is not JSON' : `HTTP ${status}`, status);
            return;
          }
          if (status < 200 || status >= 300) {
            const errcode = typeof (body as { errcode?: unknown })?.errcode === 'string' ? ` ${(body as { errcode: string }).errcode}` : '';
            fail(`HTTP ${status}${errcode}`, status);
            return;
          }
          if (typeof body !== 'object' || body === null || Array.isArray(body)) {
            fail('the answer is not a JSON object', status);
            return;
          }
          settled = true;
          clearTimeout(deadline);
          resolve({ status, body: body as Record<string, unknown> });
        });
      });
      req.on('error', (error: NodeJS.ErrnoException) => fail(error.code ? `${error.code}: ${error.message}` : error.message));
      req.end(payload);
    });
  }

  /** Closes idle connections. */
  close(): void {
    this.agent.destroy();
  }
}
