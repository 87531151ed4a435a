/**
 * The room write side as a Nest module: the command and query handlers, the room writer (with
 * its per-room queue) and the write-model reader. The host provides ROOM_DATABASE_POOL,
 * ROOM_EVENT_STORE, ROOM_SERVER_NAME, ROOM_SIGNING_KEY and ROOM_CLOCK (and optionally
 * ROOM_OPTIONS), through `imports` or with `RoomModule.forRoot({ dependencies })`.
 */
import type { PublishedRoomsSource } from './federation-queries/handlers';
import { type DynamicModule, Module, type ModuleMetadata, type Provider } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { DEFAULT_ROOM_VERSION, type SigningKey } from '@hs/protocol';
import { BanFromRoomHandler } from './commands/ban-from-room/handler';
import { SetRoomBlockedHandler } from './commands/block-room/handler';
import { ShutDownRoomHandler } from './commands/shut-down-room/handler';
import { CreateRoomHandler } from './commands/create-room/handler';
import { DeleteRoomAliasHandler } from './commands/delete-room-alias/handler';
import { ForgetRoomHandler } from './commands/forget-room/handler';
import { InviteToRoomHandler } from './commands/invite-to-room/handler';
import { JoinRoomHandler } from './commands/join-room/handler';
import { KickFromRoomHandler } from './commands/kick-from-room/handler';
import { KnockOnRoomHandler } from './commands/knock-room/handler';
import { LeaveRoomHandler } from './commands/leave-room/handler';
import { RecordReceiptHandler } from './commands/record-receipt/handler';
import { RedactEventHandler } from './commands/redact-event/handler';
import { SendRoomEventHandler } from './commands/send-room-event/handler';
import { SetRoomAliasHandler } from './commands/set-room-alias/handler';
import { SetRoomVisibilityHandler } from './commands/set-room-visibility/handler';
import { SetRoomNetworkVisibilityHandler } from './commands/set-network-visibility/handler';
import { UnbanFromRoomHandler } from './commands/unban-from-room/handler';
import { UpdateMembershipProfileHandler } from './commands/update-membership-profile/handler';
import { UpgradeRoomHandler } from './commands/upgrade-room/handler';
import { ADMIN_ROOM_QUERY_HANDLERS } from './queries/admin-rooms';
import { QUERY_HANDLERS } from './queries/handlers';
import { GetRoomSummaryHandler } from './queries/room-summary';
import { FEDERATION_COMMAND_HANDLERS } from './federation/commands';
import { FederationRooms, type FederationRoomsOptions } from './federation/federation-rooms';
import { ROOM_REMOTE_SERVERS, type RemoteServers } from './federation/remote';
import { RoomWriter } from './room-writer';
import {
  ROOM_CLOCK,
  ROOM_DATABASE_POOL,
  ROOM_EVENT_STORE,
  ROOM_FEDERATION_OPTIONS,
  ROOM_OPTIONS,
  ROOM_PUBLISHED_ROOMS,
  ROOM_SERVER_NAME,
  ROOM_SIGNING_KEY,
  type Clock,
  type RoomModuleOptions,
  type TransactionalEventStore,
} from './tokens';
import { WriteModelReader } from './write-model/repository';
import type { DatabasePool } from './write-model/sql';

export const COMMAND_HANDLERS = [
  CreateRoomHandler,
  JoinRoomHandler,
  InviteToRoomHandler,
  LeaveRoomHandler,
  KnockOnRoomHandler,
  KickFromRoomHandler,
  BanFromRoomHandler,
  UnbanFromRoomHandler,
  ForgetRoomHandler,
  SendRoomEventHandler,
  RedactEventHandler,
  SetRoomAliasHandler,
  DeleteRoomAliasHandler,
  SetRoomVisibilityHandler,
  SetRoomNetworkVisibilityHandler,
  UpgradeRoomHandler,
  UpdateMembershipProfileHandler,
  RecordReceiptHandler,
  SetRoomBlockedHandler,
  ShutDownRoomHandler,
];

/** Everything the module needs, when given as values. */
export interface RoomModuleDependencies {
  pool: DatabasePool;
  store: TransactionalEventStore;
  serverName: string;
  signingKey: SigningKey;
  clock?: Clock;
  options?: RoomModuleOptions;
  /** Other servers (signed requests, verify keys): without it, rooms do not federate. */
  remote?: RemoteServers;
  /**
   * The process's room writer, when several applications of one process (the client and
   * federation listeners) share it: one writer per room per process.
   */
  writer?: RoomWriter;
  federation?: FederationRoomsOptions;
  /** Where the published room directory is read from (the directory projection); the write model without it. */
  publishedRooms?: PublishedRoomsSource;
}

@Module({})
export class RoomModule {
  /**
   * With `dependencies`, the module provides the tokens itself; otherwise one of `imports`
   * (or a global module) must provide them.
   */
  static forRoot(config: { imports?: ModuleMetadata['imports']; dependencies?: RoomModuleDependencies } = {}): DynamicModule {
    const deps = config.dependencies;
    const values: Provider[] = deps
      ? [
          { provide: ROOM_DATABASE_POOL, useValue: deps.pool },
          { provide: ROOM_EVENT_STORE, useValue: deps.store },
          { provide: ROOM_SERVER_NAME, useValue: deps.serverName },
          { provide: ROOM_SIGNING_KEY, useValue: deps.signingKey },
          { provide: ROOM_CLOCK, useValue: deps.clock ?? Date.now },
          { provide: ROOM_OPTIONS, useValue: deps.options ?? {} },
          { provide: ROOM_REMOTE_SERVERS, useValue: deps.remote ?? null },
          { provide: ROOM_FEDERATION_OPTIONS, useValue: deps.federation ?? {} },
          { provide: ROOM_PUBLISHED_ROOMS, useValue: deps.publishedRooms ?? null },
        ]
      : [];
    const writer: Provider = deps?.writer
      ? { provide: RoomWriter, useValue: deps.writer }
      : {
          provide: RoomWriter,
          useFactory: (
            pool: DatabasePool,
            store: TransactionalEventStore,
            serverName: string,
            signingKey: SigningKey,
            clock: Clock,
            options: RoomModuleOptions | undefined,
          ) =>
            new RoomWriter({
              pool,
              store,
              serverName,
              signingKey,
              clock,
              defaultRoomVersion: options?.defaultRoomVersion ?? DEFAULT_ROOM_VERSION,
              maxAttempts: options?.maxAttempts,
            }),
          inject: [ROOM_DATABASE_POOL, ROOM_EVENT_STORE, ROOM_SERVER_NAME, ROOM_SIGNING_KEY, ROOM_CLOCK, { token: ROOM_OPTIONS, optional: true }],
        };
    return {
      module: RoomModule,
      imports: [CqrsModule, ...(config.imports ?? [])],
      providers: [
        ...values,
        writer,
        {
          provide: FederationRooms,
          useFactory: (writer: RoomWriter, remote: RemoteServers | null, signingKey: SigningKey, options: FederationRoomsOptions | undefined) =>
            remote ? new FederationRooms(writer, remote, signingKey, options ?? {}) : null,
          inject: [RoomWriter, { token: ROOM_REMOTE_SERVERS, optional: true }, ROOM_SIGNING_KEY, { token: ROOM_FEDERATION_OPTIONS, optional: true }],
        },
        { provide: WriteModelReader, useFactory: (writer: RoomWriter) => writer.reader, inject: [RoomWriter] },
        ...COMMAND_HANDLERS,
        ...FEDERATION_COMMAND_HANDLERS,
        ...QUERY_HANDLERS,
        ...ADMIN_ROOM_QUERY_HANDLERS,
        GetRoomSummaryHandler,
      ],
      exports: [RoomWriter, WriteModelReader, FederationRooms],
    };
  }
}
