/** GET /_matrix/federation/v1/event/{eventId}: one event, as a transaction of one PDU (events.yaml). */
import { Controller, Get, Inject, Param } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { GetFederationEvent } from '@hs/room';
import { FederationOrigin } from '../auth/x-matrix.guard';
import { eventIdParam } from '../params';
import { FEDERATION_READ_OPTIONS, transactionOf, type FederationReadOptions, type PduTransaction } from '../read-api.options';

@Controller('_matrix/federation/v1/event')
export class GetEventController {
  constructor(
    private readonly queries: QueryBus,
    @Inject(FEDERATION_READ_OPTIONS) private readonly options: FederationReadOptions,
  ) {}

  /** GET /_matrix/federation/v1/event/{eventId} */
  @Get(':eventId')
  async getEvent(@FederationOrigin() origin: string, @Param('eventId') eventId: string): Promise<PduTransaction> {
    const { pdu } = await this.queries.execute(new GetFederationEvent(origin, eventIdParam(eventId)));
    return transactionOf(this.options, [pdu]);
  }
}
