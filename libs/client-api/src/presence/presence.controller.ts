/**
 * Presence (client-server API, "Presence"): a user sets their own status; they and the users
 * who share a joined room with them read it. The in-memory presence store applies a PUT
 * before it is answered, so every later GET and /sync sees it (docs/presence.md).
 */
import { UserService } from '@hs/accounts';
import { MatrixError } from '@hs/http';
import { serverNameOf } from '@hs/protocol';
import { GetPresence, PRESENCE_STATES, PresenceStore, type PresenceState, type PresenceStatus } from '@hs/sync';
import { Body, Controller, Get, Inject, Param, Put } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { z } from 'zod';
import { AuthUser, RequireAuth, type AuthenticatedUser } from '../auth';
import { assertSameUser } from '../auth/same-user';
import { CLIENT_API_CONFIG, type ClientApiConfig } from '../config';
import { clientPaths } from '../prefixes';
import { answering, parseBody, userIdParam } from '../rooms/params';

/** `presence` is checked on its own (an unknown state is M_INVALID_PARAM); a null status message is none. */
const presenceBody = z.object({ presence: z.string(), status_msg: z.string().nullable().optional() }).passthrough();

@Controller()
@RequireAuth()
export class PresenceController {
  constructor(
    private readonly presence: PresenceStore,
    private readonly queryBus: QueryBus,
    private readonly users: UserService,
    @Inject(CLIENT_API_CONFIG) private readonly config: ClientApiConfig,
  ) {}

  /** PUT /_matrix/client/v3/presence/{userId}/status */
  @Put(clientPaths('presence/:userId/status'))
  setPresence(@AuthUser() user: AuthenticatedUser, @Param('userId') rawUserId: string, @Body() body: unknown): Record<string, never> {
    const userId = userIdParam(rawUserId, 'userId');
    assertSameUser(user, userId, 'set the presence');
    const request = parseBody(presenceBody, body);
    if (!(PRESENCE_STATES as readonly string[]).includes(request.presence)) {
      throw MatrixError.invalidParam(`presence must be one of ${PRESENCE_STATES.join(', ')}`);
    }
    // Accepted and ignored when presence is turned off (the store says so).
    this.presence.setPresence(userId, request.presence as PresenceState, request.status_msg ?? undefined);
    return {};
  }

  /** GET /_matrix/client/v3/presence/{userId}/status */
  @Get(clientPaths('presence/:userId/status'))
  async getPresence(@AuthUser() user: AuthenticatedUser, @Param('userId') rawUserId: string): Promise<PresenceStatus> {
    const userId = userIdParam(rawUserId, 'userId');
    if (serverNameOf(userId) === this.config.server_name && (await answering(() => this.users.getUser(userId))) === null) {
      throw MatrixError.notFound(`There is no user ${userId}`);
    }
    return answering(() => this.queryBus.execute(new GetPresence(user.userId, userId)));
  }
}
