/**
 * Which servers this server federates with (`federation.allowed_servers` and
 * `federation.denied_servers`). Each entry is a server name or a glob of them (`*`, `?`,
 * case-insensitive, as server ACLs), and matches a server when it matches the whole server
 * name or its host without the port: `example.org` covers `example.org` and
 * `example.org:8448`, `localhost:8449` only that one, `*.example.org` every subdomain on any
 * port. A server is refused when it matches a denied entry, or when there are allowed entries
 * and it matches none. An empty policy allows every server.
 *
 * Inbound requests from a refused origin are answered 403 M_FORBIDDEN by the X-Matrix guard;
 * outbound requests to a refused destination fail in FederationClient before any lookup.
 */
import { matchesGlob, serverNameHost } from '@hs/protocol';

export interface ServerPolicyLists {
  /** When not empty, the only servers allowed. */
  allowed: readonly string[];
  /** Servers refused, whatever `allowed` says. */
  denied: readonly string[];
}

export class FederationServerPolicy {
  /** A policy that allows every server. */
  static readonly OPEN = new FederationServerPolicy({ allowed: [], denied: [] });

  private readonly allowed: readonly string[];
  private readonly denied: readonly string[];

  constructor(lists: ServerPolicyLists) {
    this.allowed = [...lists.allowed];
    this.denied = [...lists.denied];
  }

  /** Whether this server may exchange requests with `serverName`. */
  allows(serverName: string): boolean {
    const host = serverNameHost(serverName);
    const matches = (pattern: string) => matchesGlob(pattern, serverName) || matchesGlob(pattern, host);
    if (this.denied.some(matches)) return false;
    return this.allowed.length === 0 || this.allowed.some(matches);
  }
}
