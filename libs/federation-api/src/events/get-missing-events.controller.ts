/** POST /_matrix/federation/v1/get_missing_events/{roomId}: the events between what a server has and what it saw (backfill.yaml). */
import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { isValidEventId, type Pdu } from '@hs/protocol';
import { GetFederationMissingEvents } from '@hs/room';
import { z } from 'zod';
import { FederationOrigin } from '../auth/x-matrix.guard';
import { parseBody, roomIdParam } from '../params';

/** The events one answer holds when the request names no limit. */
export const DEFAULT_MISSING_EVENTS_LIMIT = 10;
/** Most events one answer holds, whatever `limit` asks. */
export const MAX_MISSING_EVENTS_LIMIT = 50;
/** Most event ids `earliest_events` and `latest_events` may each list. */
export const MAX_MISSING_EVENTS_IDS = 100;

const eventIds = z.array(z.string().refine((id) => isValidEventId(id), 'not a valid event id')).max(MAX_MISSING_EVENTS_IDS);
const request = z.object({
  earliest_events: eventIds,
  latest_events: eventIds,
  limit: z.number().int().min(0).safe().optional(),
  min_depth: z.number().int().safe().optional(),
});

@Controller('_matrix/federation/v1/get_missing_events')
export class GetMissingPreviousEventsController {
  constructor(private readonly queries: QueryBus) {}

  /** POST /_matrix/federation/v1/get_missing_events/{roomId} */
  @Post(':roomId')
  @HttpCode(200)
  async getMissingPreviousEvents(@FederationOrigin() origin: string, @Param('roomId') roomId: string, @Body() body: unknown): Promise<{ events: Pdu[] }> {
    const room = roomIdParam(roomId);
    const asked = parseBody(request, body);
    const limit = Math.min(asked.limit ?? DEFAULT_MISSING_EVENTS_LIMIT, MAX_MISSING_EVENTS_LIMIT);
    const minDepth = Math.max(asked.min_depth ?? 0, 0);
    const events = await this.queries.execute(new GetFederationMissingEvents(origin, room, asked.earliest_events, asked.latest_events, limit, minDepth));
    return { events };
  }
}
