/** GET /_matrix/federation/v1/state_ids/{roomId}?event_id=: the ids of the state before an event and of its auth chain (events.yaml). */
import { Controller, Get, Param, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { GetFederationRoomStateIds } from '@hs/room';
import { FederationOrigin } from '../auth/x-matrix.guard';
import { eventIdParam, queryOf, requiredQueryParam, roomIdParam } from '../params';

@Controller('_matrix/federation/v1/state_ids')
export class GetRoomStateIdsController {
  constructor(private readonly queries: QueryBus) {}

  /** GET /_matrix/federation/v1/state_ids/{roomId} */
  @Get(':roomId')
  async getRoomStateIds(
    @FederationOrigin() origin: string,
    @Param('roomId') roomId: string,
    @Query() query: unknown,
  ): Promise<{ pdu_ids: string[]; auth_chain_ids: string[] }> {
    const eventId = eventIdParam(requiredQueryParam(queryOf(query), 'event_id'));
    const state = await this.queries.execute(new GetFederationRoomStateIds(origin, roomIdParam(roomId), eventId));
    return { pdu_ids: state.pduIds, auth_chain_ids: state.authChainIds };
  }
}
