/**
 * Composition of outbound federation: the sender reads the backend's event store, keeps its
 * positions in the backend's database, sends through the keys layer's HTTPS client, hears of
 * typing from the /sync side and of servers that reached us from the request authenticator.
 */
import type { HomeserverConfig } from '@hs/config';
import { FederationSenderModule, type TypingChange } from '@hs/federation-sender';
import type { FederationKeys } from '@hs/keys';
import type { DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import type { Observable } from 'rxjs';
import type { Backend } from './backend';

export function federationSenderModule(config: HomeserverConfig, backend: Backend, keys: FederationKeys, typing: Observable<TypingChange>, logger: Logger): DynamicModule {
  return FederationSenderModule.forRoot({
    serverName: config.server_name,
    store: backend.store,
    pool: backend.db.pool,
    client: keys.client,
    logger,
    backoff: { minMs: config.federation.destination_min_retry_interval_ms, maxMs: config.federation.destination_max_retry_interval_ms },
    typing,
    authenticator: keys.authenticator,
  });
}
