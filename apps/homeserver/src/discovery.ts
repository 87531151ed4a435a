/** What the discovery documents say, derived from the configuration. */
import type { HomeserverConfig } from '@hs/config';
import type { DiscoveryOptions } from '@hs/http';

/** The host part of a server name (without its port). */
export function serverNameHost(serverName: string): string {
  if (serverName.startsWith('[')) return serverName.slice(0, serverName.indexOf(']') + 1);
  return serverName.replace(/:\d+$/, '');
}

export function discoveryOptions(config: HomeserverConfig): DiscoveryOptions {
  return {
    publicBaseUrl: config.public_baseurl,
    serverDelegation:
      config.serve_server_wellknown && config.federation_listener.enabled
        ? `${serverNameHost(config.server_name)}:${config.federation_listener.port}`
        : null,
  };
}
