/**
 * Pushers (client-server API, "Push notifications", pusher.yaml): listing the user's pushers
 * and adding, replacing or removing one. Delivery to the push gateways runs in the background
 * (libs/push).
 */
import { Body, Controller, Get, HttpCode, Inject, Post } from '@nestjs/common';
import { PushService, type PusherView } from '@hs/push';
import { AuthUser, RequireAuth, type AuthenticatedUser } from '../auth';
import { clientPaths } from '../prefixes';

@Controller()
@RequireAuth()
export class PushersController {
  constructor(@Inject(PushService) private readonly push: PushService) {}

  /** GET /_matrix/client/v3/pushers */
  @Get(clientPaths('pushers'))
  async getPushers(@AuthUser() user: AuthenticatedUser): Promise<{ pushers: PusherView[] }> {
    return { pushers: await this.push.pushers(user.userId) };
  }

  /** POST /_matrix/client/v3/pushers/set */
  @Post(clientPaths('pushers/set'))
  @HttpCode(200)
  async postPusher(@AuthUser() user: AuthenticatedUser, @Body() body: unknown): Promise<Record<string, never>> {
    await this.push.setPusher(user.userId, body, user.deviceId);
    return {};
  }
}
