/**
 * The federation queries of the accounts tables as a Nest module, for the federation listener:
 * read-only handlers (and the one-time key claim) on the host's database pool.
 */
import { type DynamicModule, Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import type { DatabasePool } from '../db';
import { OpenIdTokenService } from '../openid-tokens.service';
import type { Clock } from '../options';
import { ProfileService } from '../profiles.service';
import { ACCOUNTS_FEDERATION_HANDLERS, ACCOUNTS_FEDERATION_POOL, ACCOUNTS_FEDERATION_SERVER_NAME, FederationUsers } from './handlers';

export interface AccountsFederationQueriesDependencies {
  pool: DatabasePool;
  serverName: string;
  clock?: Clock;
}

@Module({})
export class AccountsFederationQueriesModule {
  static forRoot(deps: AccountsFederationQueriesDependencies): DynamicModule {
    return {
      module: AccountsFederationQueriesModule,
      imports: [CqrsModule],
      providers: [
        { provide: ACCOUNTS_FEDERATION_POOL, useValue: deps.pool },
        { provide: ACCOUNTS_FEDERATION_SERVER_NAME, useValue: deps.serverName },
        { provide: ProfileService, useFactory: () => new ProfileService(deps.pool) },
        { provide: OpenIdTokenService, useFactory: () => new OpenIdTokenService(deps.pool, deps.clock ?? Date.now) },
        FederationUsers,
        ...ACCOUNTS_FEDERATION_HANDLERS,
      ],
    };
  }
}
