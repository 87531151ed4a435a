/** GET /_matrix/federation/v1/backfill/{roomId}?v=&limit=: the given events and those before them (backfill.yaml). */
import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { MatrixError } from '@hs/http';
import { GetFederationBackfill } from '@hs/room';
import { FederationOrigin } from '../auth/x-matrix.guard';
import { eventIdParam, integerQueryParam, queryOf, repeatedQueryParam, roomIdParam } from '../params';
import { FEDERATION_READ_OPTIONS, transactionOf, type FederationReadOptions, type PduTransaction } from '../read-api.options';

/** Most events one backfill answers, whatever `limit` asks. */
export const MAX_BACKFILL_LIMIT = 100;
/** Most events one backfill may start from. */
export const MAX_BACKFILL_FROM = 50;

@Controller('_matrix/federation/v1/backfill')
export class BackfillRoomController {
  constructor(
    private readonly queries: QueryBus,
    @Inject(FEDERATION_READ_OPTIONS) private readonly options: FederationReadOptions,
  ) {}

  /** GET /_matrix/federation/v1/backfill/{roomId} */
  @Get(':roomId')
  async backfillRoom(@FederationOrigin() origin: string, @Param('roomId') roomId: string, @Query() rawQuery: unknown): Promise<PduTransaction> {
    const query = queryOf(rawQuery);
    const from = repeatedQueryParam(query, 'v', MAX_BACKFILL_FROM).map(eventIdParam);
    const limit = integerQueryParam(query, 'limit', { min: 0, max: Number.MAX_SAFE_INTEGER });
    if (limit === undefined) throw MatrixError.missingParam('Missing query parameter limit');
    const pdus = await this.queries.execute(new GetFederationBackfill(origin, roomIdParam(roomId), from, Math.min(limit, MAX_BACKFILL_LIMIT)));
    return transactionOf(this.options, pdus);
  }
}
