/** GET /_matrix/federation/v1/event_auth/{roomId}/{eventId}: the auth chain of an event (event_auth.yaml). */
import { Controller, Get, Param } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { GetFederationEventAuth } from '@hs/room';
import type { Pdu } from '@hs/protocol';
import { FederationOrigin } from '../auth/x-matrix.guard';
import { eventIdParam, roomIdParam } from '../params';

@Controller('_matrix/federation/v1/event_auth')
export class GetEventAuthController {
  constructor(private readonly queries: QueryBus) {}

  /** GET /_matrix/federation/v1/event_auth/{roomId}/{eventId} */
  @Get(':roomId/:eventId')
  async getEventAuth(@FederationOrigin() origin: string, @Param('roomId') roomId: string, @Param('eventId') eventId: string): Promise<{ auth_chain: Pdu[] }> {
    return { auth_chain: await this.queries.execute(new GetFederationEventAuth(origin, roomIdParam(roomId), eventIdParam(eventId))) };
  }
}
