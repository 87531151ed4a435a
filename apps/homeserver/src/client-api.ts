/**
 * Composition of the client-server API: the accounts layer, end-to-end encryption keys and key
 * backups, the room write side and the /sync read side on the backend's database and event
 * store, the command and query buses, and the controllers.
 */
import { AccountDataService, AccountsModule, AccountsOptions, DATABASE_POOL, DeviceService, ProfileService } from '@hs/accounts';
import { AdminModule } from '@hs/admin';
import type { AppServiceClient, AppServiceRegistry } from '@hs/appservice';
import { ClientApiModule } from '@hs/client-api';
import type { HomeserverConfig } from '@hs/config';
import { DeviceKeysService, E2eeModule, KeyBackupModule, ToDeviceService } from '@hs/e2ee';
import { FilesystemMediaStorage, MediaModule, type RemoteMediaSource } from '@hs/media';
import { PushModule, PushService } from '@hs/push';
import { RoomModule, WriteModelReader, type RoomModuleDependencies } from '@hs/room';
import { SyncModule, accountDataSourceFrom } from '@hs/sync';
import { DynamicModule, Inject, Injectable, Module, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { CqrsModule } from '@nestjs/cqrs';
import type { Logger } from 'pino';
import type { Backend } from './backend';
import { packageVersion } from './federation-api';
import { allProjectors } from './projectors';

export interface ClientApiOptions {
  /** Accounts settings beyond what the configuration says (password hashing cost, token cache). */
  accounts?: Omit<AccountsOptions, 'serverName' | 'registrationSharedSecret' | 'clock'>;
  clock?: () => number;
  /** Where media of other servers comes from (over federation); none: only local media is served. */
  remoteMedia?: RemoteMediaSource;
  /** Where background work (push delivery) reports what went wrong. */
  logger?: Logger;
  /** The application services and the client that talks to them. */
  appServices?: { registry: AppServiceRegistry; client: AppServiceClient };
  /** The module pushing transactions to the application services. */
  appServiceSender?: DynamicModule;
  /** Deliver push notifications to the push gateways from this process (default true). */
  pushDelivery?: boolean;
}

/** Provides the backend's database pool to the accounts layer and key backups. */
@Module({})
class AccountsDatabaseModule {
  static forPool(pool: Backend['db']['pool']): DynamicModule {
    return { module: AccountsDatabaseModule, providers: [{ provide: DATABASE_POOL, useValue: pool }], exports: [DATABASE_POOL] };
  }
}

/**
 * Devices and their keys: creating, renaming or deleting a device records the user's device list change
 * (and drops the deleted devices' keys and messages) in the device's own transaction, and
 * announces it to /sync once committed.
 */
@Injectable()
class DeviceKeysWiring implements OnModuleInit, OnModuleDestroy {
  private subscription: Subscription | undefined;

  constructor(
    @Inject(DeviceService) private readonly devices: DeviceService,
    @Inject(DeviceKeysService) private readonly keys: DeviceKeysService,
  ) {}

  onModuleInit(): void {
    // The position each device's change took in its transaction, announced once it committed.
    const positions = new Map<string, number>();
    const key = (userId: string, deviceId: string) => `${userId}\u0000${deviceId}`;
    this.devices.setHooks({
      created: async (tx, userId, deviceId) => positions.set(key(userId, deviceId), await this.keys.deviceChanged(tx, userId, deviceId)),
      updated: async (tx, userId, deviceId) => positions.set(key(userId, deviceId), await this.keys.deviceChanged(tx, userId, deviceId)),
      deleted: async (tx, userId, deviceIds) => {
        const position = await this.keys.devicesDeleted(tx, userId, deviceIds);
        if (position !== undefined) for (const deviceId of deviceIds) positions.set(key(userId, deviceId), position);
      },
    });
    this.subscription = this.devices.changes.subscribe((change) => {
      const position = positions.get(key(change.userId, change.deviceId));
      positions.delete(key(change.userId, change.deviceId));
      if (position !== undefined) this.keys.announce({ kind: 'device_list', userIds: [change.userId], position });
    });
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
    this.devices.setHooks(undefined);
  }
}

const DEVICE_WIRING_LOGGER = Symbol('DEVICE_WIRING_LOGGER');

/** A deleted device's pushers are removed before the deletion is answered. */
@Injectable()
class DevicePushersWiring implements OnModuleInit, OnModuleDestroy {
  private remove: (() => void) | undefined;

  constructor(
    @Inject(DeviceService) private readonly devices: DeviceService,
    @Inject(PushService) private readonly push: PushService,
    @Inject(DEVICE_WIRING_LOGGER) private readonly logger: Logger | null,
  ) {}

  onModuleInit(): void {
    this.remove = this.devices.onDevicesDeleted(async (userId, deviceIds) => {
      try {
        await this.push.devicesDeleted(userId, deviceIds);
      } catch (error) {
        this.logger?.warn({ err: (error as Error).message, user_id: userId }, 'the pushers of deleted devices could not be removed');
      }
    });
  }

  onModuleDestroy(): void {
    this.remove?.();
  }
}

@Module({})
class DevicePushersWiringModule {
  static forModules(accounts: DynamicModule, push: DynamicModule, logger: Logger | undefined): DynamicModule {
    return {
      module: DevicePushersWiringModule,
      imports: [accounts, push],
      providers: [DevicePushersWiring, { provide: DEVICE_WIRING_LOGGER, useValue: logger ?? null }],
    };
  }
}

@Module({})
class DeviceKeysWiringModule {
  static forModules(accounts: DynamicModule, e2ee: DynamicModule): DynamicModule {
    return { module: DeviceKeysWiringModule, imports: [accounts, e2ee], providers: [DeviceKeysWiring] };
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
  const e2ee = E2eeModule.forRoot({ serverName: config.server_name, clock }, [database]);
  const sync = SyncModule.forRootAsync({
    imports: [accounts, room, e2ee],
    inject: [AccountDataService, WriteModelReader, ProfileService, DeviceKeysService, ToDeviceService],
    useFactory: (accountData: AccountDataService, writeModel: WriteModelReader, profiles: ProfileService, keys: DeviceKeysService, toDevice: ToDeviceService) => ({
      pool: backend.db.pool,
      accountData: accountDataSourceFrom(accountData),
      now: clock,
      readBarrier: backend.readBarrier,
      wireEvents: { wireEvents: (ids: readonly string[]) => writeModel.wireEvents(ids) },
      roomDirectory: { publishedRooms: (ids: readonly string[]) => writeModel.publishedRooms(ids) },
      presence: { enabled: config.presence.enabled, persist: true },
      profiles,
      userDirectory: { searchAllUsers: config.user_directory.search_all_users, localUsers: profiles },
      e2ee: {
        position: () => keys.position(),
        usersChanged: (after: number, upTo: number) => keys.usersChanged(after, upTo),
        inbox: (userId: string, deviceId: string, acknowledged: number, after: number, upTo: number) => toDevice.inbox(userId, deviceId, acknowledged, after, upTo),
        counts: (userId: string, deviceId: string) => keys.countsOf(userId, deviceId),
        onChange: (listener) => {
          const subscription = keys.changes.subscribe(listener);
          return () => subscription.unsubscribe();
        },
      },
    }),
  });
  const media = MediaModule.forRoot({
    serverName: config.server_name,
    settings: config.media,
    store: backend.store,
    pool: backend.db.pool,
    storage: new FilesystemMediaStorage(config.media.store_path),
    readBarrier: backend.readBarrier,
    clock,
    ...(options.remoteMedia ? { remote: options.remoteMedia } : {}),
  }, config.media.url_preview);
  const runner = backend.runner;
  const admin = AdminModule.forRoot({
    store: backend.store,
    pool: backend.db.pool,
    serverName: config.server_name,
    clock,
    serverVersion: packageVersion(),
    // Rebuilds run with instances of their own, beside the runner's.
    projections: { db: backend.db, projectors: allProjectors(config.server_name), ...(runner ? { live: () => runner.status() } : {}) },
  });
  const push = PushModule.forRoot({
    store: backend.store,
    pool: backend.db.pool,
    readBarrier: backend.readBarrier,
    clock,
    ...(options.logger ? { logger: options.logger.child({ component: 'push-delivery' }) } : {}),
    deliver: options.pushDelivery ?? true,
  });
  return ClientApiModule.forRoot({
    config,
    imports: [
      CqrsModule.forRoot(),
      accounts,
      keyBackup,
      room,
      e2ee,
      sync,
      media,
      admin,
      push,
      DeviceKeysWiringModule.forModules(accounts, e2ee),
      DevicePushersWiringModule.forModules(accounts, push, options.logger),
      ...(options.appServiceSender ? [options.appServiceSender] : []),
    ],
    clock,
    ...(options.appServices ? { appServices: options.appServices } : {}),
  });
}
