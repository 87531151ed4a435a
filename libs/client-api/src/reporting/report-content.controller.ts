/**
 * Reporting content to the server's admins (client-server API, "Reporting content"): an event,
 * a room, a user. Each report is stored as a fact of the `reports` stream, which admins read
 * through GET /_synapse/admin/v1/event_reports.
 */
import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { UserService } from '@hs/accounts';
import { EventReports } from '@hs/admin';
import { MatrixError } from '@hs/http';
import { GetEvent, GetRoomVersion, IsJoined } from '@hs/room';
import { z } from 'zod';
import { AuthUser, RequireAuth, type AuthenticatedUser } from '../auth';
import { RateLimited } from '../rate-limit/rate-limit.guard';
import { clientPaths } from '../prefixes';
import { eventIdParam, roomIdParam, userIdParam } from '../rooms/params';
import { parseBody } from '../validation';

/** Longest reason kept, in characters. */
const MAX_REASON = 10_000;

const EventReportBody = z.object({ reason: z.string().max(MAX_REASON).optional(), score: z.number().int().min(-100).max(0).optional() }).passthrough();
const ReportBody = z.object({ reason: z.string().max(MAX_REASON) }).passthrough();

@Controller()
@RequireAuth()
export class ReportContentController {
  constructor(
    private readonly queryBus: QueryBus,
    private readonly users: UserService,
    @Inject(EventReports) private readonly reports: EventReports,
  ) {}

  /** POST /_matrix/client/v3/rooms/{roomId}/report/{eventId} */
  @Post(clientPaths('rooms/:roomId/report/:eventId'))
  @HttpCode(200)
  @RateLimited('message')
  async reportEvent(@AuthUser() user: AuthenticatedUser, @Param('roomId') rawRoomId: string, @Param('eventId') rawEventId: string, @Body() rawBody: unknown): Promise<Record<string, never>> {
    const roomId = roomIdParam(rawRoomId);
    const eventId = eventIdParam(rawEventId);
    const body = parseBody(EventReportBody, rawBody);
    const notFound = MatrixError.notFound('The event was not found or you are not joined to the room.');
    if (!(await this.queryBus.execute(new IsJoined(roomId, user.userId)))) throw notFound;
    const event = await this.queryBus.execute(new GetEvent(eventId)).catch(() => undefined);
    if (!event || event.event.room_id !== roomId || event.rejected || event.outlier) throw notFound;
    await this.reports.submit({ reporter: user.userId, room_id: roomId, event_id: eventId, user_id: null, reason: body.reason ?? null, score: body.score ?? null });
    return {};
  }

  /** POST /_matrix/client/v3/rooms/{roomId}/report */
  @Post(clientPaths('rooms/:roomId/report'))
  @HttpCode(200)
  @RateLimited('message')
  async reportRoom(@AuthUser() user: AuthenticatedUser, @Param('roomId') rawRoomId: string, @Body() rawBody: unknown): Promise<Record<string, never>> {
    const roomId = roomIdParam(rawRoomId);
    const body = parseBody(ReportBody, rawBody);
    await this.queryBus.execute(new GetRoomVersion(roomId)).catch(() => {
      throw MatrixError.notFound('The room was not found.');
    });
    await this.reports.submit({ reporter: user.userId, room_id: roomId, event_id: null, user_id: null, reason: body.reason, score: null });
    return {};
  }

  /** POST /_matrix/client/v3/users/{userId}/report */
  @Post(clientPaths('users/:userId/report'))
  @HttpCode(200)
  @RateLimited('message')
  async reportUser(@AuthUser() user: AuthenticatedUser, @Param('userId') rawUserId: string, @Body() rawBody: unknown): Promise<Record<string, never>> {
    const userId = userIdParam(rawUserId, 'userId');
    const body = parseBody(ReportBody, rawBody);
    // Only this server's accounts can be looked up; users of other servers are taken as given.
    if (this.users.isLocalUserId(userId) && (await this.users.getUser(userId)) === null) throw MatrixError.notFound('The user was not found.');
    await this.reports.submit({ reporter: user.userId, room_id: null, event_id: null, user_id: userId, reason: body.reason, score: null });
    return {};
  }
}
