/** GET /_matrix/federation/v1/query/directory?room_alias=: a local alias's room and the servers in it (query.yaml). */
import { Controller, Get, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { QueryFederationRoomAlias } from '@hs/room';
import { queryOf, requiredQueryParam, roomAliasParam } from '../params';

@Controller('_matrix/federation/v1/query/directory')
export class QueryRoomDirectoryController {
  constructor(private readonly queries: QueryBus) {}

  /** GET /_matrix/federation/v1/query/directory */
  @Get()
  async queryRoomDirectory(@Query() query: unknown): Promise<{ room_id: string; servers: string[] }> {
    const alias = roomAliasParam(requiredQueryParam(queryOf(query), 'room_alias'));
    const { roomId, servers } = await this.queries.execute(new QueryFederationRoomAlias(alias));
    return { room_id: roomId, servers };
  }
}
