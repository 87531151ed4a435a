/** GET /_matrix/federation/v1/state/{roomId}?event_id=: the state before an event and its auth chain (events.yaml). */
import { Controller, Get, Param, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { GetFederationRoomState } from '@hs/room';
import type { Pdu } from '@hs/protocol';
import { FederationOrigin } from '../auth/x-matrix.guard';
import { eventIdParam, queryOf, requiredQueryParam, roomIdParam } from '../params';

@Controller('_matrix/federation/v1/state')
export class GetRoomStateController {
  constructor(private readonly queries: QueryBus) {}

  /** GET /_matrix/federation/v1/state/{roomId} */
  @Get(':roomId')
  async getRoomState(@FederationOrigin() origin: string, @Param('roomId') roomId: string, @Query() query: unknown): Promise<{ pdus: Pdu[]; auth_chain: Pdu[] }> {
    const eventId = eventIdParam(requiredQueryParam(queryOf(query), 'event_id'));
    const state = await this.queries.execute(new GetFederationRoomState(origin, roomIdParam(roomId), eventId));
    return { pdus: state.pdus, auth_chain: state.authChain };
  }
}
