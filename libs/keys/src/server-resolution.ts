/**
 * Where to connect for a server name (server-server-api.md "Resolving server names"), in its
 * first, minimal form: an IP literal or a name with an explicit port is used as it is; any
 * other name is its host on port 8448. `.well-known/matrix/server` delegation and SRV records
 * are not looked up yet (docs/federation.md).
 */
import { parseServerName } from '@hs/protocol';

export const DEFAULT_FEDERATION_PORT = 8448;

export interface ResolvedServer {
  /** The host to connect to: a DNS name or an IP address (IPv6 without brackets). */
  host: string;
  port: number;
  /** The Host header: the server name as given. */
  hostHeader: string;
  /** The TLS SNI name, and the name the certificate must be valid for; absent for an IP literal (SNI takes no IP). */
  tlsServerName?: string;
  /** The IP the certificate must be valid for, for an IP literal. */
  tlsIp?: string;
}

/** Throws InvalidIdentifierError for a name that is not a server name. */
export function resolveServerName(serverName: string): ResolvedServer {
  const parsed = parseServerName(serverName);
  const port = parsed.port ?? DEFAULT_FEDERATION_PORT;
  if (parsed.hostKind === 'dns') return { host: parsed.host, port, hostHeader: serverName, tlsServerName: parsed.host };
  const ip = parsed.hostKind === 'ipv6' ? parsed.host.slice(1, -1) : parsed.host;
  return { host: ip, port, hostHeader: serverName, tlsIp: ip };
}
