/**
 * Where to connect for a server name (server-server-api.md "Resolving server names"):
 *
 * 1. an IP literal: that address, with its port or 8448; `Host` is the server name and the
 *    certificate must be valid for the IP (no SNI);
 * 2. a DNS name with an explicit port: that host and port (A/AAAA looked up on connect);
 *    `Host` is the server name, the certificate must be valid for the host;
 * 3. otherwise `https://<hostname>/.well-known/matrix/server` (./well-known.ts) may delegate
 *    to `m.server` = `<delegated_hostname>[:<delegated_port>]`, resolved like 1 and 2 with that
 *    name (and `Host` that name) when it is an IP literal or has a port; else the SRV records
 *    `_matrix-fed._tcp.<delegated_hostname>`, then the deprecated `_matrix._tcp.…`, then
 *    port 8448, `Host` and certificate being the delegated hostname;
 * 4. without a valid delegation: the same SRV records and port 8448 for the hostname itself,
 *    `Host` and certificate being the hostname.
 *
 * Names of the first two kinds (every in-process test set-up: `127.0.0.1:PORT`,
 * `localhost:PORT`) are answered without any lookup. Well-known answers are cached per
 * hostname (./well-known.ts says for how long); SRV answers, found or not, for 5 minutes
 * (Node's resolver does not give their TTL); a DNS failure other than "no such record" is not
 * cached and counts as the last answer, or as no record. Concurrent resolutions of one name share one lookup. The
 * SRV resolver, the well-known fetcher, the clock and the random source are injectable.
 */
import { parseServerName, type ServerName } from '@hs/protocol';
import type { Logger } from 'pino';
import { BoundedCache } from './bounded-cache';
import { WellKnownCache, type WellKnownFetcher } from './well-known';

export const DEFAULT_FEDERATION_PORT = 8448;

/** How long SRV answers (records or their absence) are kept. */
export const SRV_CACHE_MS = 5 * 60 * 1000;

/** Most names kept in each cache; the oldest entries go first. */
const MAX_CACHED_NAMES = 10_000;

export interface ResolvedAddress {
  /** A DNS name (looked up on connect) or an IP address (IPv6 without brackets). */
  host: string;
  port: number;
}

export interface ResolvedServer {
  /** Where to connect, best first: one address, or SRV targets in RFC 2782 order (the next is tried when a connection cannot be made). */
  addresses: ResolvedAddress[];
  /** The Host header. */
  hostHeader: string;
  /** The TLS SNI name, and the name the certificate must be valid for; absent for an IP literal (SNI takes no IP). */
  tlsServerName?: string;
  /** The IP the certificate must be valid for, for an IP literal. */
  tlsIp?: string;
  /** How the addresses were found, for logs. */
  via: string;
}

/** A server name that cannot be resolved; `reason` is safe to log. */
export class ServerResolutionError extends Error {
  constructor(
    readonly serverName: string,
    readonly reason: string,
  ) {
    super(`Cannot resolve ${serverName}: ${reason}`);
    this.name = 'ServerResolutionError';
  }
}

/** An SRV record as `node:dns` answers it. */
export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/** SRV lookups; `node:dns/promises` `Resolver` is one. */
export interface SrvResolver {
  resolveSrv(hostname: string): Promise<SrvRecord[]>;
}

/** Resolves server names; ServerNameResolver in production, anything else in tests. */
export interface ServerResolver {
  /** Throws ServerResolutionError. */
  resolve(serverName: string): Promise<ResolvedServer>;
}

/** DNS error codes meaning "there is no such record" (`node:dns` NOTFOUND, NODATA). */
const NO_RECORD_CODES = new Set(['ENOTFOUND', 'ENODATA']);

function fromIpOrPort(name: ServerName, via: string): ResolvedServer {
  const port = name.port ?? DEFAULT_FEDERATION_PORT;
  if (name.hostKind === 'dns') return { addresses: [{ host: name.host, port }], hostHeader: name.value, tlsServerName: name.host, via };
  const ip = name.hostKind === 'ipv6' ? name.host.slice(1, -1) : name.host;
  return { addresses: [{ host: ip, port }], hostHeader: name.value, tlsIp: ip, via };
}

function parse(serverName: string): ServerName {
  try {
    return parseServerName(serverName);
  } catch {
    throw new ServerResolutionError(serverName, 'not a valid server name');
  }
}

/**
 * Steps 1 and 2, which need no lookup: the resolution of an IP literal or a name with an
 * explicit port, or undefined for a DNS name without port. Throws ServerResolutionError for
 * a name that is not a server name.
 */
export function resolveWithoutLookup(serverName: string): ResolvedServer | undefined {
  const name = parse(serverName);
  if (name.hostKind !== 'dns') return fromIpOrPort(name, 'IP literal');
  if (name.port !== undefined) return fromIpOrPort(name, 'explicit port');
  return undefined;
}

/**
 * SRV records in the order RFC 2782 says to try them: by priority, and within a priority a
 * weighted random order (records of weight 0 have a small chance to come first).
 */
export function orderSrvRecords(records: readonly SrvRecord[], random: () => number = Math.random): SrvRecord[] {
  const priorities = [...new Set(records.map((record) => record.priority))].sort((a, b) => a - b);
  const ordered: SrvRecord[] = [];
  for (const priority of priorities) {
    const group = records.filter((record) => record.priority === priority);
    const remaining = [...group.filter((record) => record.weight === 0), ...group.filter((record) => record.weight > 0)];
    while (remaining.length > 0) {
      const total = remaining.reduce((sum, record) => sum + record.weight, 0);
      const threshold = random() * total;
      let running = 0;
      let index = remaining.findIndex((record) => (running += record.weight) >= threshold);
      if (index < 0) index = remaining.length - 1;
      ordered.push(...remaining.splice(index, 1));
    }
  }
  return ordered;
}

/** The SRV services of the spec, the current one first, then the deprecated one. */
const SRV_SERVICES = ['_matrix-fed._tcp', '_matrix._tcp'] as const;

export interface ServerNameResolverOptions {
  srv: SrvResolver;
  wellKnown: WellKnownFetcher;
  clock?: () => number;
  /** For the weighted order of SRV records (default Math.random). */
  random?: () => number;
  logger?: Logger;
}

export class ServerNameResolver implements ServerResolver {
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly wellKnown: WellKnownCache;
  private readonly srvCache = new BoundedCache<string, { records: SrvRecord[]; expiresAt: number }>(MAX_CACHED_NAMES);
  private readonly inFlight = new Map<string, Promise<ResolvedServer>>();

  constructor(private readonly options: ServerNameResolverOptions) {
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? Math.random;
    this.wellKnown = new WellKnownCache({ fetcher: options.wellKnown, clock: this.clock, maxEntries: MAX_CACHED_NAMES, logger: options.logger });
  }

  resolve(serverName: string): Promise<ResolvedServer> {
    let direct: ResolvedServer | undefined;
    try {
      direct = resolveWithoutLookup(serverName);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (direct) return Promise.resolve(direct);
    let pending = this.inFlight.get(serverName);
    if (!pending) {
      pending = this.lookUp(serverName).finally(() => this.inFlight.delete(serverName));
      this.inFlight.set(serverName, pending);
    }
    return pending;
  }

  private async lookUp(hostname: string): Promise<ResolvedServer> {
    const delegated = await this.wellKnown.delegationOf(hostname);
    let resolved: ResolvedServer;
    if (delegated === null) {
      resolved = await this.srvOrDefaultPort(hostname, '');
    } else {
      const name = parseServerName(delegated);
      const via = `.well-known delegation to ${delegated}`;
      resolved = name.hostKind !== 'dns' || name.port !== undefined ? fromIpOrPort(name, via) : await this.srvOrDefaultPort(name.host, `${via}, `);
    }
    this.options.logger?.debug({ serverName: hostname, addresses: resolved.addresses, via: resolved.via }, 'server name resolved');
    return resolved;
  }

  /** Steps 3.3 to 3.5 (for a delegated hostname) and 4 to 6 (for the server's own hostname). */
  private async srvOrDefaultPort(hostname: string, viaPrefix: string): Promise<ResolvedServer> {
    const named = { hostHeader: hostname, tlsServerName: hostname };
    for (const service of SRV_SERVICES) {
      const name = `${service}.${hostname}`;
      const records = await this.srvRecords(name);
      if (records.length === 0) continue;
      const targets = records.filter((record) => record.name !== '' && record.name !== '.');
      if (targets.length === 0) throw new ServerResolutionError(hostname, `the SRV record ${name} says the service is not available`);
      const addresses = orderSrvRecords(targets, this.random).map((record) => ({ host: record.name.replace(/\.$/, ''), port: record.port }));
      return { addresses, ...named, via: `${viaPrefix}SRV ${name}` };
    }
    return { addresses: [{ host: hostname, port: DEFAULT_FEDERATION_PORT }], ...named, via: `${viaPrefix}default port ${DEFAULT_FEDERATION_PORT}` };
  }

  private async srvRecords(name: string): Promise<SrvRecord[]> {
    const now = this.clock();
    const cached = this.srvCache.get(name);
    if (cached && cached.expiresAt > now) return cached.records;
    try {
      const records = await this.options.srv.resolveSrv(name);
      this.srvCache.set(name, { records, expiresAt: now + SRV_CACHE_MS });
      return records;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== undefined && NO_RECORD_CODES.has(code)) {
        this.srvCache.set(name, { records: [], expiresAt: now + SRV_CACHE_MS });
        return [];
      }
      // A failing DNS server: the last answer if there is one, else no record.
      this.options.logger?.debug({ name, code, reason: (error as Error).message }, 'SRV lookup failed');
      return cached?.records ?? [];
    }
  }
}
