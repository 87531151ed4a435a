/**
 * Relationships between events (client-server API, "Forming relationships between events"):
 * the child events of an event (/relations, optionally filtered by relation type and event
 * type, optionally recursive) and a room's threads (/threads), answered by the sync read side
 * with history visibility applied there and bundled aggregations on every event.
 */
import { MatrixError } from '@hs/http';
import { GetRelations, GetThreads, type RelationsRequest, type RelationsResponse, type ThreadsResponse } from '@hs/sync';
import { Controller, Get, Param, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { AuthUser, RequireAuth, type AuthenticatedUser } from '../auth';
import { clientV1Paths } from '../prefixes';
import { answering, eventIdParam, eventTypeParam, intQuery, roomIdParam, stringQuery } from '../rooms/params';

const MAX_LIMIT = 1000;

/** A `from`/`to` token (its form is checked by the read side: M_INVALID_PARAM). */
function tokenQuery(value: unknown, name: string): string | undefined {
  const text = stringQuery(value, name);
  return text === '' ? undefined : text;
}

/** `limit`: a positive integer (larger values are capped). */
const limitQuery = (value: unknown): number | undefined => intQuery(value, 'limit', 1, MAX_LIMIT);

@Controller()
@RequireAuth()
export class RelationsController {
  constructor(private readonly queryBus: QueryBus) {}

  /** GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId} */
  @Get(clientV1Paths('rooms/:roomId/relations/:eventId'))
  getRelatingEvents(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomId') roomId: string,
    @Param('eventId') eventId: string,
    @Query() query: Record<string, unknown>,
  ): Promise<RelationsResponse> {
    return this.relations(user, roomId, eventId, undefined, undefined, query);
  }

  /** GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType} */
  @Get(clientV1Paths('rooms/:roomId/relations/:eventId/:relType'))
  getRelatingEventsWithRelType(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomId') roomId: string,
    @Param('eventId') eventId: string,
    @Param('relType') relType: string,
    @Query() query: Record<string, unknown>,
  ): Promise<RelationsResponse> {
    return this.relations(user, roomId, eventId, relType, undefined, query);
  }

  /** GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType}/{eventType} */
  @Get(clientV1Paths('rooms/:roomId/relations/:eventId/:relType/:eventType'))
  getRelatingEventsWithRelTypeAndEventType(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomId') roomId: string,
    @Param('eventId') eventId: string,
    @Param('relType') relType: string,
    @Param('eventType') eventType: string,
    @Query() query: Record<string, unknown>,
  ): Promise<RelationsResponse> {
    return this.relations(user, roomId, eventId, relType, eventType, query);
  }

  /** GET /_matrix/client/v1/rooms/{roomId}/threads */
  @Get(clientV1Paths('rooms/:roomId/threads'))
  getThreadRoots(@AuthUser() user: AuthenticatedUser, @Param('roomId') rawRoomId: string, @Query() query: Record<string, unknown>): Promise<ThreadsResponse> {
    const roomId = roomIdParam(rawRoomId);
    const include = stringQuery(query.include, 'include') ?? 'all';
    if (include !== 'all' && include !== 'participated') throw MatrixError.invalidParam('include must be "all" or "participated"');
    const from = tokenQuery(query.from, 'from');
    const limit = limitQuery(query.limit);
    return answering(() => this.queryBus.execute(new GetThreads({ roomId, viewer: { userId: user.userId, deviceId: user.deviceId }, include, from, limit })));
  }

  private relations(
    user: AuthenticatedUser,
    rawRoomId: string,
    rawEventId: string,
    rawRelType: string | undefined,
    rawEventType: string | undefined,
    query: Record<string, unknown>,
  ): Promise<RelationsResponse> {
    const request: RelationsRequest = {
      roomId: roomIdParam(rawRoomId),
      eventId: eventIdParam(rawEventId),
      viewer: { userId: user.userId, deviceId: user.deviceId },
      relType: rawRelType === undefined ? undefined : eventTypeParam(rawRelType),
      eventType: rawEventType === undefined ? undefined : eventTypeParam(rawEventType),
      from: tokenQuery(query.from, 'from'),
      to: tokenQuery(query.to, 'to'),
      limit: limitQuery(query.limit),
    };
    const dir = stringQuery(query.dir, 'dir');
    if (dir !== undefined && dir !== 'b' && dir !== 'f') throw MatrixError.invalidParam('dir must be "b" or "f"');
    request.dir = dir;
    const recurse = stringQuery(query.recurse, 'recurse');
    if (recurse !== undefined && recurse !== 'true' && recurse !== 'false') throw MatrixError.invalidParam('recurse must be true or false');
    if (recurse !== undefined) request.recurse = recurse === 'true';
    return answering(() => this.queryBus.execute(new GetRelations(request)));
  }
}
