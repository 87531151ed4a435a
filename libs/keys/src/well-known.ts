/**
 * `GET https://<hostname>/.well-known/matrix/server` (server-server-api.md "Resolving server
 * names", step 3, and wellknown.yaml): the delegation of a server name, fetched and cached.
 *
 * Fetching (HttpsWellKnownFetcher): certificates are checked like every federation request
 * (the client's agent); 30x redirects are followed to https URLs only, at most 5, never
 * twice to one URL; the answer is capped at 64 KiB; the whole fetch, redirects included, has
 * one deadline.
 *
 * Reading: a 200 answer whose body (whatever its Content-Type) is a JSON object with
 * `m.server` a valid server name delegates to it; any other answer delegates nothing.
 *
 * Caching (WellKnownCache), per hostname:
 * * a delegation: as long as the answer's `Cache-Control: max-age` (or `Expires`) says, 24 h
 *   when it says nothing, at least 5 minutes (also for `no-store`/`no-cache`) and at most 48 h;
 * * an answer without a delegation (404, bad JSON, no `m.server`, a refused redirect or size):
 *   1 h;
 * * no answer (DNS, connection, TLS, deadline) or a 5xx: 2 minutes, doubling with each
 *   failure in a row up to 1 h. A delegation that expired less than 24 h before keeps being
 *   used meanwhile, so that a server whose web server is briefly down stays reachable.
 * Concurrent lookups of one hostname share one fetch.
 */
import { request as httpsRequest, type Agent } from 'node:https';
import { isIP } from 'node:net';
import { isValidServerName } from '@hs/protocol';
import type { Logger } from 'pino';
import { BoundedCache } from './bounded-cache';

const MINUTE_MS = 60 * 1000;
const HOUR_MS = 60 * MINUTE_MS;

export const WELL_KNOWN_DEFAULT_CACHE_MS = 24 * HOUR_MS;
export const WELL_KNOWN_MIN_CACHE_MS = 5 * MINUTE_MS;
export const WELL_KNOWN_MAX_CACHE_MS = 48 * HOUR_MS;
export const WELL_KNOWN_INVALID_CACHE_MS = HOUR_MS;
export const WELL_KNOWN_FIRST_RETRY_MS = 2 * MINUTE_MS;
export const WELL_KNOWN_MAX_RETRY_MS = HOUR_MS;
/** How long after its expiry a delegation is still used while refreshing it fails. */
export const WELL_KNOWN_STALE_GRACE_MS = 24 * HOUR_MS;
export const WELL_KNOWN_MAX_BYTES = 64 * 1024;
export const WELL_KNOWN_MAX_REDIRECTS = 5;

export const WELL_KNOWN_PATH = '/.well-known/matrix/server';

/** What fetching a well-known document gave. */
export type WellKnownFetchResult =
  | {
      outcome: 'answered';
      status: number;
      body: string;
      /** The Cache-Control, Expires and Date headers, when present. */
      cacheControl?: string;
      expires?: string;
      date?: string;
    }
  /** The server answered, but not with something usable (too large, a redirect refused). */
  | { outcome: 'refused'; reason: string }
  /** No answer: DNS, connection, TLS or deadline. */
  | { outcome: 'unreachable'; reason: string };

export interface WellKnownFetcher {
  /** Never throws: failures are results. */
  fetchWellKnown(hostname: string): Promise<WellKnownFetchResult>;
}

/** The delegated server name of a well-known body, or why there is none. */
export function parseWellKnownBody(body: string): { server: string } | { invalid: string } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { invalid: 'the body is not JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { invalid: 'the body is not a JSON object' };
  const server = (json as Record<string, unknown>)['m.server'];
  if (typeof server !== 'string') return { invalid: 'm.server is missing or not a string' };
  if (!isValidServerName(server)) return { invalid: 'm.server is not a valid server name' };
  return { server };
}

/** How long a delegation may be cached, from the answer's headers (bounded to [5 min, 48 h]). */
export function wellKnownCacheMs(headers: { cacheControl?: string; expires?: string; date?: string }, now: number): number {
  const clamp = (ms: number) => Math.min(WELL_KNOWN_MAX_CACHE_MS, Math.max(WELL_KNOWN_MIN_CACHE_MS, ms));
  if (headers.cacheControl !== undefined) {
    const directives = headers.cacheControl
      .toLowerCase()
      .split(',')
      .map((directive) => directive.trim());
    if (directives.some((directive) => directive === 'no-store' || directive === 'no-cache')) return WELL_KNOWN_MIN_CACHE_MS;
    for (const directive of directives) {
      const maxAge = /^max-age\s*=\s*"?(\d+)"?$/.exec(directive);
      if (maxAge) return clamp(Number(maxAge[1]) * 1000);
    }
  }
  if (headers.expires !== undefined) {
    const expires = Date.parse(headers.expires);
    // An invalid Expires means "already expired" (RFC 9111 §5.3).
    if (Number.isNaN(expires)) return WELL_KNOWN_MIN_CACHE_MS;
    const date = headers.date === undefined ? Number.NaN : Date.parse(headers.date);
    return clamp(expires - (Number.isNaN(date) ? now : date));
  }
  return WELL_KNOWN_DEFAULT_CACHE_MS;
}

interface WellKnownEntry {
  /** The delegated server name, or null for none. */
  server: string | null;
  expiresAt: number;
  /** When the last delegation received expires(d), if there was one. */
  delegationExpiresAt?: number;
  /** The last delegation received, kept through failures to refresh it. */
  lastDelegation?: string;
  /** Failures to get an answer in a row. */
  failures: number;
}

export interface WellKnownCacheOptions {
  fetcher: WellKnownFetcher;
  clock: () => number;
  maxEntries: number;
  logger?: Logger;
}

/** The delegations of hostnames, fetched when not cached. */
export class WellKnownCache {
  private readonly entries: BoundedCache<string, WellKnownEntry>;
  private readonly inFlight = new Map<string, Promise<string | null>>();

  constructor(private readonly options: WellKnownCacheOptions) {
    this.entries = new BoundedCache(options.maxEntries);
  }

  /** The server name `hostname` delegates to, or null when it does not. */
  delegationOf(hostname: string): Promise<string | null> {
    const cached = this.entries.get(hostname);
    if (cached && cached.expiresAt > this.options.clock()) return Promise.resolve(cached.server);
    let pending = this.inFlight.get(hostname);
    if (!pending) {
      pending = this.refresh(hostname, cached).finally(() => this.inFlight.delete(hostname));
      this.inFlight.set(hostname, pending);
    }
    return pending;
  }

  private async refresh(hostname: string, previous: WellKnownEntry | undefined): Promise<string | null> {
    let result: WellKnownFetchResult;
    try {
      result = await this.options.fetcher.fetchWellKnown(hostname);
    } catch (error) {
      // A fetcher is not to throw; if one does, it counts as no answer.
      result = { outcome: 'unreachable', reason: error instanceof Error ? error.message : String(error) };
    }
    const now = this.options.clock();
    const entry = this.entryFor(result, previous, now);
    this.entries.set(hostname, entry);
    if (entry.server === null || entry.failures > 0) {
      const reason = result.outcome === 'answered' ? `HTTP ${result.status}` : result.reason;
      this.options.logger?.debug({ hostname, reason, delegation: entry.server, retryInMs: entry.expiresAt - now }, 'no .well-known delegation');
    }
    return entry.server;
  }

  private entryFor(result: WellKnownFetchResult, previous: WellKnownEntry | undefined, now: number): WellKnownEntry {
    const kept = { lastDelegation: previous?.lastDelegation, delegationExpiresAt: previous?.delegationExpiresAt };
    if (result.outcome === 'unreachable' || (result.outcome === 'answered' && result.status >= 500)) {
      const failures = (previous?.failures ?? 0) + 1;
      const retryMs = Math.min(WELL_KNOWN_MAX_RETRY_MS, WELL_KNOWN_FIRST_RETRY_MS * 2 ** Math.min(failures - 1, 20));
      const stale = kept.lastDelegation !== undefined && (kept.delegationExpiresAt ?? 0) + WELL_KNOWN_STALE_GRACE_MS > now;
      return { server: stale ? (kept.lastDelegation ?? null) : null, expiresAt: now + retryMs, failures, ...kept };
    }
    if (result.outcome === 'refused') return { server: null, expiresAt: now + WELL_KNOWN_INVALID_CACHE_MS, failures: 0 };
    const parsed = result.status === 200 ? parseWellKnownBody(result.body) : { invalid: `HTTP ${result.status}` };
    if ('invalid' in parsed) return { server: null, expiresAt: now + WELL_KNOWN_INVALID_CACHE_MS, failures: 0 };
    const expiresAt = now + wellKnownCacheMs(result, now);
    return { server: parsed.server, expiresAt, failures: 0, lastDelegation: parsed.server, delegationExpiresAt: expiresAt };
  }
}

export interface HttpsWellKnownFetcherOptions {
  /** The agent of federation requests: its CAs and certificate checking apply. */
  agent: Agent;
  /** Deadline of the whole fetch, redirects included. */
  timeoutMs: number;
  /** The port of `https://<hostname>/` (443; tests use another). */
  port?: number;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

type Hop = { kind: 'answer'; result: WellKnownFetchResult } | { kind: 'redirect'; location: string };

/** Fetches well-known documents over HTTPS. */
export class HttpsWellKnownFetcher implements WellKnownFetcher {
  constructor(private readonly options: HttpsWellKnownFetcherOptions) {}

  async fetchWellKnown(hostname: string): Promise<WellKnownFetchResult> {
    const port = this.options.port ?? 443;
    let url = new URL(`https://${hostname}${port === 443 ? '' : `:${port}`}${WELL_KNOWN_PATH}`);
    const deadline = Date.now() + this.options.timeoutMs;
    const visited = new Set<string>();
    for (let hop = 0; ; hop++) {
      visited.add(url.href);
      const answer = await this.get(url, deadline - Date.now());
      if (answer.kind === 'answer') return answer.result;
      let next: URL;
      try {
        next = new URL(answer.location, url);
      } catch {
        return { outcome: 'refused', reason: 'a redirect to an invalid URL' };
      }
      if (next.protocol !== 'https:') return { outcome: 'refused', reason: `a redirect to ${next.protocol} (only https is followed)` };
      if (visited.has(next.href)) return { outcome: 'refused', reason: 'a redirect loop' };
      if (hop + 1 > WELL_KNOWN_MAX_REDIRECTS) return { outcome: 'refused', reason: `more than ${WELL_KNOWN_MAX_REDIRECTS} redirects` };
      url = next;
    }
  }

  /** One GET: the answer, or where it redirects to. */
  private get(url: URL, timeoutMs: number): Promise<Hop> {
    if (timeoutMs <= 0) return Promise.resolve({ kind: 'answer', result: { outcome: 'unreachable', reason: `no answer within ${this.options.timeoutMs} ms` } });
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    return new Promise<Hop>((resolve) => {
      let settled = false;
      /** Settles once; `done` keeps the connection (the answer was read to its end). */
      const finish = (hop: Hop, done = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!done) req.destroy();
        resolve(hop);
      };
      const unreachable = (reason: string) => finish({ kind: 'answer', result: { outcome: 'unreachable', reason } });
      const timer = setTimeout(() => unreachable(`no answer within ${this.options.timeoutMs} ms`), timeoutMs);
      const req = httpsRequest(
        {
          host,
          port: url.port === '' ? 443 : Number(url.port),
          path: `${url.pathname}${url.search}`,
          method: 'GET',
          headers: { Accept: 'application/json', Host: url.host },
          agent: this.options.agent,
          // SNI takes no IP address; the certificate is then checked for the IP.
          ...(isIP(host) === 0 ? { servername: host } : {}),
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const location = res.headers.location;
          if (REDIRECT_STATUSES.has(status) && typeof location === 'string') {
            finish({ kind: 'redirect', location });
            return;
          }
          const declared = Number(res.headers['content-length']);
          const tooLarge: Hop = { kind: 'answer', result: { outcome: 'refused', reason: `an answer larger than ${WELL_KNOWN_MAX_BYTES} bytes` } };
          if (Number.isFinite(declared) && declared > WELL_KNOWN_MAX_BYTES) {
            finish(tooLarge);
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > WELL_KNOWN_MAX_BYTES) finish(tooLarge);
            else chunks.push(chunk);
          });
          res.on('error', (error) => unreachable(`reading the answer: ${error.message}`));
          res.on('end', () => {
            const header = (name: string) => {
              const value = res.headers[name];
              return typeof value === 'string' ? value : undefined;
            };
            const result: WellKnownFetchResult = { outcome: 'answered', status, body: Buffer.concat(chunks).toString('utf8') };
            const cacheControl = header('cache-control');
            const expires = header('expires');
            const date = header('date');
            finish({ kind: 'answer', result: { ...result, ...(cacheControl ? { cacheControl } : {}), ...(expires ? { expires } : {}), ...(date ? { date } : {}) } }, true);
          });
        },
      );
      req.on('error', (error: NodeJS.ErrnoException) => unreachable(error.code ? `${error.code}: ${error.message}` : error.message));
      req.end();
    });
  }
}
