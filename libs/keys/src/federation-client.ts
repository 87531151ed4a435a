/**
 * Outbound HTTPS requests to other servers: refused at once when the federation allow and deny
 * lists refuse the destination (./server-policy.ts), the server name resolved
 * (./server-resolution.ts: well-known delegation, SRV records), TLS certificates checked
 * (system CAs, NODE_EXTRA_CA_CERTS and the configured CA file) unless the configuration turns
 * checking off, requests signed with X-Matrix when asked, a deadline on the whole exchange,
 * and a cap on the size of the answer, which must be a JSON object.
 */
import { readFileSync } from 'node:fs';
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import { Resolver } from 'node:dns/promises';
import { checkServerIdentity, rootCertificates, type PeerCertificate } from 'node:tls';
import { signRequest, type SigningKey } from '@hs/protocol';
import type { Logger } from 'pino';
import { FederationServerPolicy } from './server-policy';
import { ServerNameResolver, ServerResolutionError, type ResolvedAddress, type ResolvedServer, type ServerResolver, type SrvResolver } from './server-resolution';
import { HttpsWellKnownFetcher, type WellKnownFetcher } from './well-known';

/** A request to another server that failed; `reason` is safe to log. */
export class FederationRequestError extends Error {
  constructor(
    readonly destination: string,
    readonly reason: string,
    /** The HTTP status, when the server answered. */
    readonly status?: number,
    /** The error answer (`errcode`, `error` and any other fields), when the server answered an error status with a JSON object. */
    readonly answer?: Readonly<Record<string, unknown>>,
  ) {
    super(`Request to ${destination} failed: ${reason}`);
    this.name = 'FederationRequestError';
  }
}

/** The federation allow and deny lists refuse the destination: nothing was sent. */
export class FederationDestinationRefusedError extends FederationRequestError {
  constructor(destination: string) {
    super(destination, 'federation with this server is not allowed (federation.allowed_servers, federation.denied_servers)');
    this.name = 'FederationDestinationRefusedError';
  }
}

/** What server name resolution uses instead of the network (tests). */
export interface FederationResolutionOptions {
  /** SRV lookups (default: a `node:dns` Resolver). */
  srv?: SrvResolver;
  /** Well-known fetches (default: HTTPS with the client's certificate checking). */
  wellKnown?: WellKnownFetcher;
  /** The port of `https://<hostname>/.well-known/matrix/server` for the default fetcher (443). */
  wellKnownPort?: number;
  clock?: () => number;
  random?: () => number;
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
  /** Which servers may be talked to (default: all). */
  policy?: FederationServerPolicy;
  /** Replaces the whole server name resolution (default: ServerNameResolver). */
  resolver?: ServerResolver;
  /** Replaces parts of the default resolution. */
  resolution?: FederationResolutionOptions;
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
  /**
   * `bytes`: a successful answer is handed over as it is (`bytes`, `contentType`) instead of
   * being parsed as JSON (media downloads); error answers are read as JSON all the same.
   */
  responseType?: 'json' | 'bytes';
  /**
   * Deadline of this request in milliseconds, connection included, instead of the client's
   * `timeoutMs` (a send_join of a large room takes longer to answer). Resolving the server
   * name keeps the client's deadline.
   */
  timeoutMs?: number;
  /**
   * The answer is in the form of the deprecated v1 endpoints (`send_join`, `send_leave`,
   * `invite`): `[200, {…}]`. A 2xx answer must be exactly that pair; its object is the body.
   */
  v1Pair?: boolean;
}

export interface FederationResponse {
  status: number;
  /** The JSON answer (empty for a `bytes` request). */
  body: Record<string, unknown>;
  /** The answer's bytes and Content-Type, for a `bytes` request. */
  bytes?: Buffer;
  contentType?: string;
}

const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/** Connection errors after which nothing was sent, so that the next address may be tried. */
const NOT_CONNECTED_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/** One attempt's failure; `notConnected` when no byte reached the server. */
class AttemptError extends Error {
  constructor(
    readonly reason: string,
    readonly status?: number,
    readonly notConnected = false,
    readonly answer?: Readonly<Record<string, unknown>>,
  ) {
    super(reason);
  }
}

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
  private readonly policy: FederationServerPolicy;
  /** How server names are resolved. */
  readonly resolver: ServerResolver;

  constructor(private readonly options: FederationClientOptions) {
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.policy = options.policy ?? FederationServerPolicy.OPEN;
    // Without a CA file the agent uses Node's default store, which includes NODE_EXTRA_CA_CERTS.
    const ca = options.caFile ? trustedCas(options.caFile) : undefined;
    this.agent = new Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: options.verifyCertificates, ...(ca ? { ca } : {}) });
    this.resolver = options.resolver ?? this.defaultResolver(options.resolution ?? {});
    if (!options.verifyCertificates) {
      options.logger.warn(
        { setting: 'federation.verify_tls_certificates' },
        'TLS CERTIFICATES OF OTHER SERVERS ARE NOT CHECKED: any server can impersonate any other. Use this only in test set-ups.',
      );
    }
  }

  private defaultResolver(resolution: FederationResolutionOptions): ServerResolver {
    return new ServerNameResolver({
      srv: resolution.srv ?? new Resolver({ timeout: Math.min(this.options.timeoutMs, 2000), tries: 2 }),
      wellKnown: resolution.wellKnown ?? new HttpsWellKnownFetcher({ agent: this.agent, timeoutMs: this.options.timeoutMs, port: resolution.wellKnownPort }),
      clock: resolution.clock,
      random: resolution.random,
      logger: this.options.logger,
    });
  }

  /** Whether the allow and deny lists let this server talk to `serverName`. */
  allows(serverName: string): boolean {
    return this.policy.allows(serverName);
  }

  /**
   * Sends `request` to `destination` (a server name); throws FederationRequestError
   * (FederationDestinationRefusedError when the allow and deny lists refuse it). Resolving
   * a name not cached has a deadline of its own (the same length); the deadline of the
   * request covers every address tried.
   */
  async request(destination: string, request: FederationRequest): Promise<FederationResponse> {
    if (!this.policy.allows(destination)) throw new FederationDestinationRefusedError(destination);
    const target = await this.resolve(destination);
    const payload = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body), 'utf8');
    const headers: Record<string, string> = { Host: target.hostHeader, Accept: request.responseType === 'bytes' ? '*/*' : 'application/json' };
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
    const timeoutMs = request.timeoutMs ?? this.options.timeoutMs;
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; ; i++) {
      const address = target.addresses[i];
      try {
        return await this.attempt(target, address, request, headers, payload, deadline - Date.now(), timeoutMs);
      } catch (error) {
        if (!(error instanceof AttemptError)) throw error;
        const more = i + 1 < target.addresses.length && Date.now() < deadline;
        if (error.notConnected && more) continue;
        const where = target.addresses.length > 1 ? ` (${address.host}:${address.port}, ${target.via})` : '';
        throw new FederationRequestError(destination, `${error.reason}${where}`, error.status, error.answer);
      }
    }
  }

  /**
   * The resolution of `destination`, within the request timeout: a lookup that takes longer
   * goes on (and fills the caches for the next request) but this request fails.
   */
  private async resolve(destination: string): Promise<ResolvedServer> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new FederationRequestError(destination, `resolving the server name took longer than ${this.options.timeoutMs} ms`)),
        this.options.timeoutMs,
      );
    });
    try {
      return await Promise.race([this.resolver.resolve(destination), timeout]);
    } catch (error) {
      if (error instanceof ServerResolutionError) throw new FederationRequestError(destination, error.reason);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** One exchange with one address; throws AttemptError. */
  private attempt(
    target: ResolvedServer,
    address: ResolvedAddress,
    request: FederationRequest,
    headers: Record<string, string>,
    payload: Buffer | undefined,
    timeoutMs: number,
    deadlineMs: number,
  ): Promise<FederationResponse> {
    const limit = request.maxResponseBytes ?? this.maxResponseBytes;
    const options: RequestOptions = {
      host: address.host,
      port: address.port,
      method: request.method,
      path: request.path,
      headers,
      agent: this.agent,
      ...(target.tlsServerName ? { servername: target.tlsServerName } : {}),
      // The certificate must be valid for the name resolution says (or the IP literal), not for the address connected to.
      checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(target.tlsServerName ?? target.tlsIp ?? address.host, cert),
    };
    return new Promise<FederationResponse>((resolve, reject) => {
      let settled = false;
      const fail = (reason: string, status?: number, notConnected = false, answer?: Record<string, unknown>) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        req.destroy();
        reject(new AttemptError(reason, status, notConnected, answer));
      };
      const deadline = setTimeout(() => fail(`no answer within ${deadlineMs} ms`), Math.max(timeoutMs, 0));
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
          if (request.responseType === 'bytes' && status >= 200 && status < 300) {
            settled = true;
            clearTimeout(deadline);
            resolve({ status, body: {}, bytes: Buffer.concat(chunks), contentType: String(res.headers['content-type'] ?? 'application/octet-stream') });
            return;
          }
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
            const answer = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
            fail(`HTTP ${status}${errcode}`, status, false, answer);
            return;
          }
          if (request.v1Pair) {
            const pair = Array.isArray(body) && body.length === 2 && body[0] === 200 ? (body[1] as unknown) : undefined;
            if (typeof pair !== 'object' || pair === null || Array.isArray(pair)) {
              fail('the answer is not a [200, {…}] pair', status);
              return;
            }
            body = pair;
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
      req.on('error', (error: NodeJS.ErrnoException) =>
        fail(error.code ? `${error.code}: ${error.message}` : error.message, undefined, error.code !== undefined && NOT_CONNECTED_CODES.has(error.code)),
      );
      req.end(payload);
    });
  }

  /** Closes idle connections. */
  close(): void {
    this.agent.destroy();
  }
}
