/**
 * The read side as a Nest module: SyncService for GET /sync (and LegacySyncService for the
 * deprecated GET /events and /initialSync), the query handlers of
 * /messages, /context, /state, /members, /joined_members, /joined_rooms, /event,
 * GET /presence, POST /search and POST /user_directory/search, the typing and presence stores and the notifier. The host provides the options with `forRootAsync` and wires
 * the projection runner's `onCheckpoint` to `SyncNotifier.checkpointAdvanced`.
 */
import { Inject, Injectable, Logger, Module, type DynamicModule, type ModuleMetadata, type OnApplicationShutdown } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import type { DatabasePool } from 'slonik';
import { SyncQueries } from '@hs/projections/sync';
import type { ReadBarrier } from '@hs/eventstore';
import { READ_BARRIER, SYNC_QUERY_HANDLERS, USER_DIRECTORY_OPTIONS } from './handlers';
import type { WireEventSource } from './event-format';
import { IgnoredUsers } from './ignored-users';
import { LegacySyncService, type RoomDirectorySource } from './legacy';
import { SyncNotifier } from './notifier';
import { PresenceStore } from './presence';
import { PresencePersistence, loadPresence } from './presence-persistence';
import { NoAccountData, type AccountDataSource, type E2eeSource, type ProfileSource } from './sources';
import { SyncService } from './sync.service';
import { TypingStore } from './typing';
import type { UserDirectoryOptions } from './user-directory';

export const SYNC_OPTIONS = 'SYNC_OPTIONS';

export interface SyncModuleOptions {
  pool: DatabasePool;
  /** Account data for /sync (wire the accounts library with `accountDataSourceFrom`); none if omitted. */
  accountData?: AccountDataSource;
  /** Milliseconds since the epoch (default Date.now). */
  now?: () => number;
  /**
   * Makes /sync and every query of the read side wait (bounded) until the read models reflect
   * the writes acknowledged before the request. The host declares the projections' read
   * models and advances them from the projection runner; the notifier declares its own.
   */
  readBarrier?: ReadBarrier;
  /** The signed wire forms of room events (the room write model), for filters asking for the federation format. */
  wireEvents?: WireEventSource;
  /** Which rooms are published in the room directory (the room write model), for the deprecated initial syncs. */
  roomDirectory?: RoomDirectorySource;
  presence?: {
    /** Config `presence.enabled` (default true). */
    enabled?: boolean;
    /** Keep each user's last presence in `presence.user_presence` (its migration applied) across restarts (default false). */
    persist?: boolean;
    /** Told when a write of the saved presence fails (default: a warning in the log). */
    onPersistError?: (error: unknown) => void;
  };
  /** Display names and avatars for m.presence events; none if omitted. */
  profiles?: ProfileSource;
  /** Device lists, to-device messages and key counts (the e2ee library); none if omitted. */
  e2ee?: E2eeSource;
  /** The user directory's settings (default: users sharing a room with the searcher or in public rooms only). */
  userDirectory?: UserDirectoryOptions;
}

export interface SyncModuleAsyncOptions {
  imports?: ModuleMetadata['imports'];
  inject?: Array<string | symbol | (abstract new (...args: never[]) => unknown)>;
  useFactory: (...args: never[]) => SyncModuleOptions | Promise<SyncModuleOptions>;
}

@Injectable()
class SyncLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(SyncNotifier) private readonly notifier: SyncNotifier,
    @Inject(TypingStore) private readonly typing: TypingStore,
    @Inject(IgnoredUsers) private readonly ignoredUsers: IgnoredUsers,
    @Inject(PresenceStore) private readonly presence: PresenceStore,
    @Inject(PresencePersistence) private readonly persistence: PresencePersistence | null,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    this.notifier.close();
    this.typing.close();
    this.presence.close();
    this.ignoredUsers.close();
    await this.persistence?.close();
  }
}

@Module({})
export class SyncModule {
  static forRoot(options: SyncModuleOptions): DynamicModule {
    return SyncModule.forRootAsync({ useFactory: () => options });
  }

  static forRootAsync(options: SyncModuleAsyncOptions): DynamicModule {
    return {
      module: SyncModule,
      imports: [CqrsModule, ...(options.imports ?? [])],
      providers: [
        { provide: SYNC_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] },
        {
          provide: SyncQueries,
          useFactory: (o: SyncModuleOptions) => new SyncQueries(o.pool, { ...(o.now ? { now: o.now } : {}) }),
          inject: [SYNC_OPTIONS],
        },
        { provide: TypingStore, useFactory: (o: SyncModuleOptions) => new TypingStore(o.now), inject: [SYNC_OPTIONS] },
        {
          provide: PresenceStore,
          useFactory: async (o: SyncModuleOptions) => {
            const store = new PresenceStore({ enabled: o.presence?.enabled ?? true, ...(o.now ? { now: o.now } : {}) });
            if (store.enabled && o.presence?.persist) store.restore(await loadPresence(o.pool));
            return store;
          },
          inject: [SYNC_OPTIONS],
        },
        {
          provide: PresencePersistence,
          useFactory: (o: SyncModuleOptions, store: PresenceStore) =>
            store.enabled && o.presence?.persist
              ? new PresencePersistence(
                  o.pool,
                  store,
                  o.presence.onPersistError ?? ((error) => new Logger('PresencePersistence').warn(`saving presence failed: ${error instanceof Error ? error.message : String(error)}`)),
                  o.now,
                ).start()
              : null,
          inject: [SYNC_OPTIONS, PresenceStore],
        },
        { provide: READ_BARRIER, useFactory: (o: SyncModuleOptions) => o.readBarrier ?? null, inject: [SYNC_OPTIONS] },
        { provide: USER_DIRECTORY_OPTIONS, useFactory: (o: SyncModuleOptions) => o.userDirectory ?? { searchAllUsers: false }, inject: [SYNC_OPTIONS] },
        {
          provide: SyncNotifier,
          useFactory: (o: SyncModuleOptions, typing: TypingStore, queries: SyncQueries, presence: PresenceStore) =>
            new SyncNotifier(o.pool, typing, o.accountData ?? new NoAccountData(), queries, o.readBarrier, presence, o.e2ee),
          inject: [SYNC_OPTIONS, TypingStore, SyncQueries, PresenceStore],
        },
        { provide: IgnoredUsers, useFactory: (o: SyncModuleOptions) => new IgnoredUsers(o.accountData ?? new NoAccountData()), inject: [SYNC_OPTIONS] },
        {
          provide: SyncService,
          useFactory: (o: SyncModuleOptions, queries: SyncQueries, typing: TypingStore, notifier: SyncNotifier, ignoredUsers: IgnoredUsers, presence: PresenceStore) =>
            new SyncService(queries, {
              typing,
              presence,
              ...(o.profiles ? { profiles: o.profiles } : {}),
              ...(o.e2ee ? { e2ee: o.e2ee } : {}),
              notifier,
              accountData: o.accountData ?? new NoAccountData(),
              ignoredUsers,
              ...(o.now ? { now: o.now } : {}),
              ...(o.readBarrier ? { barrier: o.readBarrier } : {}),
              ...(o.wireEvents ? { wireEvents: o.wireEvents } : {}),
            }),
          inject: [SYNC_OPTIONS, SyncQueries, TypingStore, SyncNotifier, IgnoredUsers, PresenceStore],
        },
        {
          provide: LegacySyncService,
          useFactory: (o: SyncModuleOptions, sync: SyncService) => new LegacySyncService(sync, o.roomDirectory),
          inject: [SYNC_OPTIONS, SyncService],
        },
        ...SYNC_QUERY_HANDLERS,
        SyncLifecycle,
      ],
      exports: [SyncService, LegacySyncService, SyncQueries, TypingStore, PresenceStore, SyncNotifier],
    };
  }
}
