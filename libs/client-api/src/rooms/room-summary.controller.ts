/** GET /_matrix/client/v1/room_summary/{roomIdOrAlias} (client-server API, "Room summary"). */
import { GetRoomSummary, type RoomSummaryChunk } from '@hs/room';
import { Controller, Get, Param, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { MaybeAuthUser, OptionalAuth, type AuthenticatedUser } from '../auth';
import { clientV1Paths } from '../prefixes';
import { answering, roomIdOrAliasParam, serverNamesQuery } from './params';

@Controller()
export class RoomSummaryController {
  constructor(private readonly queryBus: QueryBus) {}

  /** GET /_matrix/client/v1/room_summary/{roomIdOrAlias} (an access token is optional) */
  @Get(clientV1Paths('room_summary/:roomIdOrAlias'))
  @OptionalAuth()
  summary(@MaybeAuthUser() user: AuthenticatedUser | undefined, @Param('roomIdOrAlias') target: string, @Query() query: Record<string, unknown>): Promise<RoomSummaryChunk> {
    const roomIdOrAlias = roomIdOrAliasParam(target);
    const via = serverNamesQuery(query.via, 'via');
    return answering(() => this.queryBus.execute(new GetRoomSummary(user?.userId, roomIdOrAlias, via)));
  }
}
