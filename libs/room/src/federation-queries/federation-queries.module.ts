/**
 * The federation queries of the room write model as a Nest module: read-only handlers on the
 * write model's tables (no room writer), for the federation listener. The host gives the
 * database pool and this server's name.
 */
import { type DynamicModule, Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { ROOM_SERVER_NAME } from '../tokens';
import { WriteModelReader } from '../write-model/repository';
import type { DatabasePool } from '../write-model/sql';
import { FederationReads } from './federation-reads';
import { FEDERATION_QUERY_HANDLERS, FederationRoomEvents, ServerEventAccess } from './handlers';

export interface RoomFederationQueriesDependencies {
  pool: DatabasePool;
  serverName: string;
}

@Module({})
export class RoomFederationQueriesModule {
  static forRoot(deps: RoomFederationQueriesDependencies): DynamicModule {
    return {
      module: RoomFederationQueriesModule,
      imports: [CqrsModule],
      providers: [
        { provide: ROOM_SERVER_NAME, useValue: deps.serverName },
        { provide: WriteModelReader, useFactory: () => new WriteModelReader(deps.pool) },
        { provide: FederationReads, useFactory: () => new FederationReads(deps.pool) },
        FederationRoomEvents,
        ServerEventAccess,
        ...FEDERATION_QUERY_HANDLERS,
      ],
    };
  }
}
