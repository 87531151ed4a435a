/**
 * The read endpoints of the server-server API: events, state, auth chains, backfill and
 * missing events, the alias and profile queries, the published room directory, device lists
 * and keys, and the OpenID userinfo exchange. They send queries through the CQRS buses; the
 * host imports the modules with their handlers (`RoomFederationQueriesModule`,
 * `AccountsFederationQueriesModule`) and passes this module to `FederationApiModule.forRoot`
 * in `imports`, so that the X-Matrix guard covers it.
 */
import { DynamicModule, Module, Type } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { BackfillRoomController } from './events/backfill-room.controller';
import { GetEventAuthController } from './events/get-event-auth.controller';
import { GetEventController } from './events/get-event.controller';
import { GetMissingPreviousEventsController } from './events/get-missing-events.controller';
import { GetRoomStateIdsController } from './events/get-room-state-ids.controller';
import { TimestampToEventController } from './events/timestamp-to-event.controller';
import { FederationHierarchyController } from './rooms/hierarchy.controller';
import { GetRoomStateController } from './events/get-room-state.controller';
import { ExchangeOpenIdTokenController } from './openid/exchange-openid-token.controller';
import { GetPublicRoomsController } from './public-rooms/get-public-rooms.controller';
import { QueryPublicRoomsController } from './public-rooms/query-public-rooms.controller';
import { QueryProfileController } from './query/query-profile.controller';
import { QueryRoomDirectoryController } from './query/query-room-directory.controller';
import { FEDERATION_READ_OPTIONS } from './read-api.options';
import { ClaimUserEncryptionKeysController } from './user/claim-user-encryption-keys.controller';
import { GetUserDevicesController } from './user/get-user-devices.controller';
import { QueryUserEncryptionKeysController } from './user/query-user-encryption-keys.controller';

export interface FederationReadApiModuleOptions {
  /** This server's name. */
  serverName: string;
  clock?: () => number;
  /** The modules with the query and command handlers. */
  imports: Array<Type<unknown> | DynamicModule>;
}

@Module({})
export class FederationReadApiModule {
  static forRoot(options: FederationReadApiModuleOptions): DynamicModule {
    return {
      module: FederationReadApiModule,
      imports: [CqrsModule, ...options.imports],
      controllers: [
        GetEventController,
        GetRoomStateController,
        GetRoomStateIdsController,
        TimestampToEventController,
        FederationHierarchyController,
        GetEventAuthController,
        BackfillRoomController,
        GetMissingPreviousEventsController,
        QueryRoomDirectoryController,
        QueryProfileController,
        GetPublicRoomsController,
        QueryPublicRoomsController,
        GetUserDevicesController,
        QueryUserEncryptionKeysController,
        ClaimUserEncryptionKeysController,
        ExchangeOpenIdTokenController,
      ],
      providers: [{ provide: FEDERATION_READ_OPTIONS, useValue: { serverName: options.serverName, clock: options.clock ?? Date.now } }],
    };
  }
}
