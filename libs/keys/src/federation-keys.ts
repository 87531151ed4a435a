/**
 * Builds the keys layer of a homeserver process from its configuration: our keys, the HTTPS
 * client for other servers, the key fetcher, the key ring on the PostgreSQL key store, and the
 * authenticator of inbound requests. One instance serves the whole process.
 */
import type { HomeserverConfig } from '@hs/config';
import type { OldVerifyKey, SigningKey } from '@hs/protocol';
import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import { FederationClient } from './federation-client';
import { KeyFetcher, type TrustedNotary } from './key-fetcher';
import { KeyRing } from './key-ring';
import { PostgresKeyStore, type KeyStore } from './key-store';
import { OurKeys } from './our-keys';
import { RequestAuthenticator } from './request-authenticator';
import { FederationServerPolicy } from './server-policy';

export type KeysConfig = Pick<HomeserverConfig, 'server_name' | 'old_signing_keys' | 'trusted_key_servers' | 'federation'>;

export interface FederationKeys {
  ourKeys: OurKeys;
  client: FederationClient;
  fetcher: KeyFetcher;
  keyRing: KeyRing;
  /** Where the key ring keeps other servers' keys. */
  store: KeyStore;
  authenticator: RequestAuthenticator;
  /** Which servers we federate with (federation.allowed_servers, federation.denied_servers). */
  policy: FederationServerPolicy;
  /** Closes the outbound connections. */
  close(): void;
}

export interface FederationKeysOptions {
  config: KeysConfig;
  signingKey: SigningKey;
  /** The pool of the key store; `store` takes its place in tests. */
  pool?: DatabasePool;
  store?: KeyStore;
  logger: Logger;
  clock?: () => number;
}

export function createFederationKeys(options: FederationKeysOptions): FederationKeys {
  const { config, signingKey } = options;
  const clock = options.clock ?? Date.now;
  const logger = options.logger.child({ component: 'keys' });
  const store = options.store ?? (options.pool ? new PostgresKeyStore(options.pool) : undefined);
  if (!store) throw new Error('createFederationKeys needs a pool or a store');
  const oldKeys = new Map<string, OldVerifyKey>(
    Object.entries(config.old_signing_keys).map(([keyId, old]) => [keyId, { key: old.key, expiredTs: old.expired_ts }]),
  );
  const ourKeys = new OurKeys({ serverName: config.server_name, signingKey, oldKeys, validityMs: config.federation.key_response_validity_ms, clock });
  const policy = new FederationServerPolicy({ allowed: config.federation.allowed_servers, denied: config.federation.denied_servers });
  const client = new FederationClient({
    serverName: config.server_name,
    signingKey,
    verifyCertificates: config.federation.verify_tls_certificates,
    caFile: config.federation.tls_ca_file,
    timeoutMs: config.federation.request_timeout_ms,
    logger,
    policy,
  });
  const fetcher = new KeyFetcher(client);
  const notaries: TrustedNotary[] = config.trusted_key_servers.map((notary) => ({ serverName: notary.server_name, verifyKeys: notary.verify_keys }));
  const keyRing = new KeyRing({ ourKeys, store, fetcher, notaries, clock, logger });
  const authenticator = new RequestAuthenticator(keyRing, clock);
  return { ourKeys, client, fetcher, keyRing, store, authenticator, policy, close: () => client.close() };
}
