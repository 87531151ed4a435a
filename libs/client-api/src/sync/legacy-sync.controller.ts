/**
 * Deprecated endpoints of the client-server API (r0.6.1, "Deprecated: events" and
 * "Deprecated: initial sync") that clients and bridges still call, answered by the /sync
 * read side: GET /events, GET /initialSync and GET /rooms/{roomId}/initialSync.
 */
import { LegacySyncService, type EventStreamResponse, type InitialSyncResponse, type RoomInitialSync } from '@hs/sync';
import { MatrixError } from '@hs/http';
import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { AuthUser, RequireAuth, type AuthenticatedUser, GuestAllowed } from '../auth';
import { clientPaths } from '../prefixes';
import { answering, intQuery, roomIdParam, stringQuery } from '../rooms/params';
import { MAX_SYNC_TIMEOUT_MS, untilClientLeaves } from './sync.controller';

/** Default wait of GET /events with nothing new (Synapse's), in milliseconds. */
const DEFAULT_EVENTS_TIMEOUT_MS = 30_000;
const MAX_LIMIT = 1000;

function archivedQuery(value: unknown): boolean {
  const text = stringQuery(value, 'archived');
  if (text === undefined || text === 'false') return false;
  if (text === 'true') return true;
  throw MatrixError.invalidParam('archived must be true or false');
}

@Controller()
@RequireAuth()
export class LegacySyncController {
  constructor(private readonly legacy: LegacySyncService) {}

  /** GET /_matrix/client/v3/events */
  @GuestAllowed()
  @Get(clientPaths('events'))
  async events(@AuthUser() user: AuthenticatedUser, @Query() query: Record<string, unknown>, @Res({ passthrough: true }) reply: FastifyReply): Promise<EventStreamResponse> {
    // Guests read the event stream of one room only (as used for room previews).
    if (user.isGuest && query.room_id === undefined) throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guests may only read the events of a room (room_id)');
    const from = stringQuery(query.from, 'from');
    const roomId = query.room_id === undefined ? undefined : roomIdParam(stringQuery(query.room_id, 'room_id'));
    const timeoutMs = intQuery(query.timeout, 'timeout', 0, MAX_SYNC_TIMEOUT_MS) ?? DEFAULT_EVENTS_TIMEOUT_MS;
    // `limit` is not a parameter of this endpoint in the spec (r0.6.1), but older clients send
    // it: a malformed one is refused, a valid one changes nothing (every event after `from`
    // is returned, so that `end` never skips any).
    intQuery(query.limit, 'limit', 0, Number.MAX_SAFE_INTEGER);
    return untilClientLeaves(reply, (signal) =>
      answering(() => this.legacy.events({ userId: user.userId, deviceId: user.deviceId, from: from === '' ? undefined : from, ...(roomId ? { roomId } : {}), timeoutMs, signal })),
    );
  }

  /** GET /_matrix/client/v3/initialSync */
  @Get(clientPaths('initialSync'))
  async initialSync(@AuthUser() user: AuthenticatedUser, @Query() query: Record<string, unknown>): Promise<InitialSyncResponse> {
    const limit = intQuery(query.limit, 'limit', 0, MAX_LIMIT);
    const archived = archivedQuery(query.archived);
    return answering(() => this.legacy.initialSync({ userId: user.userId, deviceId: user.deviceId, archived, ...(limit !== undefined ? { limit } : {}) }));
  }

  /** GET /_matrix/client/v3/rooms/{roomId}/initialSync */
  @GuestAllowed()
  @Get(clientPaths('rooms/:roomId/initialSync'))
  async roomInitialSync(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomId') roomIdRaw: string,
    @Query() query: Record<string, unknown>,
  ): Promise<RoomInitialSync> {
    const roomId = roomIdParam(roomIdRaw);
    const limit = intQuery(query.limit, 'limit', 0, MAX_LIMIT);
    return answering(() => this.legacy.roomInitialSync({ userId: user.userId, deviceId: user.deviceId, roomId, ...(limit !== undefined ? { limit } : {}) }));
  }
}
