/** GET /_matrix/federation/v1/timestamp_to_event/{roomId}?ts=&dir=: the event closest to a time (events.yaml). */
import { MatrixError } from '@hs/http';
import { GetFederationEventNearTimestamp } from '@hs/room';
import { Controller, Get, Param, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { FederationOrigin } from '../auth/x-matrix.guard';
import { integerQueryParam, queryOf, requiredQueryParam, roomIdParam } from '../params';

@Controller('_matrix/federation/v1/timestamp_to_event')
export class TimestampToEventController {
  constructor(private readonly queries: QueryBus) {}

  /** GET /_matrix/federation/v1/timestamp_to_event/{roomId} */
  @Get(':roomId')
  timestampToEvent(@FederationOrigin() origin: string, @Param('roomId') roomId: string, @Query() rawQuery: unknown): Promise<{ event_id: string; origin_server_ts: number }> {
    const query = queryOf(rawQuery);
    const ts = integerQueryParam(query, 'ts', { min: 0, max: Number.MAX_SAFE_INTEGER });
    if (ts === undefined) throw MatrixError.missingParam('Missing query parameter ts');
    const dir = requiredQueryParam(query, 'dir');
    if (dir !== 'f' && dir !== 'b') throw MatrixError.invalidParam('dir must be f or b');
    return this.queries.execute(new GetFederationEventNearTimestamp(origin, roomIdParam(roomId), ts, dir));
  }
}
