/** Injection tokens of the HTTP applications. */

/**
 * A readiness check of a dependency (the database); rejects when it is not usable, returns
 * `degraded` when it serves but not as it should (a read model lagging behind writes).
 */
export interface HealthCheck {
  readonly name: string;
  check(): Promise<void | { degraded: string }>;
}

export const HEALTH_CHECKS = Symbol('HEALTH_CHECKS');

/** What the discovery endpoints advertise. */
export interface DiscoveryOptions {
  /** `m.homeserver.base_url` of /.well-known/matrix/client. */
  publicBaseUrl: string;
  /** `m.server` of /.well-known/matrix/server; null answers 404 there. */
  serverDelegation: string | null;
}

export const DISCOVERY_OPTIONS = Symbol('DISCOVERY_OPTIONS');
