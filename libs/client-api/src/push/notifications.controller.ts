/**
 * The user's notifications (client-server API, notifications.yaml): the events the user's push
 * rules made notify, newest first, paginated with `from` and `limit`, `only=highlight` for the
 * highlights alone.
 */
import { Controller, Get, Inject, Query } from '@nestjs/common';
import { PushService, type NotificationView } from '@hs/push';
import { AuthUser, RequireAuth, type AuthenticatedUser } from '../auth';
import { clientPaths } from '../prefixes';
import { queryParam } from '../validation';

@Controller()
@RequireAuth()
export class NotificationsController {
  constructor(@Inject(PushService) private readonly push: PushService) {}

  /** GET /_matrix/client/v3/notifications */
  @Get(clientPaths('notifications'))
  getNotifications(@AuthUser() user: AuthenticatedUser, @Query() query: unknown): Promise<{ notifications: NotificationView[]; next_token?: string }> {
    return this.push.notifications(user.userId, {
      from: queryParam(query, 'from'),
      limit: queryParam(query, 'limit'),
      only: queryParam(query, 'only'),
    });
  }
}
