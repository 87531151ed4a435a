/**
 * Composition of the client-server API: the accounts layer, key backups, the room write side
 * and the /sync read side on the backend's database and event store, the command and query
 * buses, and the controllers.
 */
import { AccountDataService, AccountsModule, AccountsOptions, DATABASE_POOL, ProfileService } from '@hs/accounts';
import { ClientApiModule } from '@hs/client-api';
import type { HomeserverConfig } from '@hs/config';
import { KeyBackupModule } from '@hs/e2ee';
import { RoomModule, WriteModelReader, type RoomModuleDependencies } from '@hs/room';
import { SyncModule, accountDataSourceFrom } from '@hs/sync';
import { DynamicModule, Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import type { Backend } from './backend';

export interface ClientApiOptions {
  /** Accounts settings beyond what the configuration says (password hashing cost, token cache). */
  accounts?: Omit<AccountsOptions, 'serverName' | 'registrationSharedSecret' | 'clock'>;
  clock?: () => number;
}

/** Provides the backend's database pool to the accounts layer and key backups. */
@Module({})
class AccountsDatabaseModule {
  static forPool(pool: Backend['db']['pool']): DynamicModule {
    return { module: AccountsDatabaseModule, providers: [{ provide: DATABASE_POOL, useValue: pool }], exports: [DATABASE_POOL] };
  }
}

/** The client-server API module of the client listener. */
export function clientApiModule(
  config: HomeserverConfig,
  backend: Backend,
  roomDependencies: RoomModuleDependencies,
  options: ClientApiOptions = {},
): DynamicModule {
  const clock = options.clock ?? Date.now;
  const database = AccountsDatabaseModule.forPool(backend.db.pool);
  const accounts = AccountsModule.forRoot(
    {
      ...options.accounts,
      serverName: config.server_name,
      registrationSharedSecret: config.registration.shared_secret,
      registrationToken: config.registration.registration_token,
      clock,
    },
    [database],
  );
  const keyBackup = KeyBackupModule.forRoot([database], clock);
  const room = RoomModule.forRoot({ dependencies: roomDependencies });
  const sync = SyncModule.forRootAsync({
    imports: [accounts, room],
    inject: [AccountDataService, WriteModelReader, ProfileService],
    useFactory: (accountData: AccountDataService, writeModel: WriteModelReader, profiles: ProfileService) => ({
      pool: backend.db.pool,
      accountData: accountDataSourceFrom(accountData),
      now: clock,
      readBarrier: backend.readBarrier,
      wireEvents: { wireEvents: (ids: readonly string[]) => writeModel.wireEvents(ids) },
      roomDirectory: { publishedRooms: (ids: readonly string[]) => writeModel.publishedRooms(ids) },
      presence: { enabled: config.presence.enabled, persist: true },
      profiles,
    }),
  });
  return ClientApiModule.forRoot({ config, imports: [CqrsModule.forRoot(), accounts, keyBackup, room, sync], clock });
}
