/**
 * Account management (client-server API, "Account registration and management"):
 * POST /account/password and POST /account/deactivate, both behind user-interactive
 * authentication with the account's password.
 */
import { Body, Controller, HttpCode, Logger, Post } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { UserInteractiveAuthService, UserService, accountFlows } from '@hs/accounts';
import { z } from 'zod';
import type { AuthenticatedUser } from '../auth/authenticated-user';
import { AuthUser, RequireAuth } from '../auth/decorators';
import { clientPaths } from '../prefixes';
import { parseBody } from '../validation';
import { leaveAllRooms } from './leave-all-rooms';

const ChangePasswordBody = z.object({
  auth: z.unknown().optional(),
  new_password: z.string(),
  logout_devices: z.boolean().optional(),
});

const DeactivateBody = z.object({
  auth: z.unknown().optional(),
  id_server: z.string().optional(),
  erase: z.boolean().optional(),
});

@Controller()
export class AccountController {
  private readonly logger = new Logger('AccountController');

  constructor(
    private readonly users: UserService,
    private readonly uia: UserInteractiveAuthService,
    readonly commandBus: CommandBus,
    readonly queryBus: QueryBus,
  ) {}

  /** POST /_matrix/client/v3/account/password */
  @Post(clientPaths('account/password'))
  @HttpCode(200)
  @RequireAuth()
  async changePassword(@AuthUser() user: AuthenticatedUser, @Body() rawBody: unknown): Promise<Record<string, never>> {
    const body = parseBody(ChangePasswordBody, rawBody);
    const session = await this.uia.authenticate({
      operation: 'POST /account/password',
      userId: user.userId,
      flows: accountFlows(),
      auth: body.auth,
    });
    await this.users.changePassword(user.userId, body.new_password, {
      logoutDevices: body.logout_devices ?? true,
      exceptDeviceId: user.deviceId,
    });
    await this.uia.completeSession(session.sessionId);
    return {};
  }

  /** POST /_matrix/client/v3/account/deactivate */
  @Post(clientPaths('account/deactivate'))
  @HttpCode(200)
  @RequireAuth()
  async deactivateAccount(@AuthUser() user: AuthenticatedUser, @Body() rawBody: unknown): Promise<{ id_server_unbind_result: 'no-support' }> {
    const body = parseBody(DeactivateBody, rawBody);
    // An application service answers for the users of its namespace: it has no password to
    // give, and its token is the authentication (Synapse exempts it from UIA as well).
    const session =
      user.appServiceId === undefined
        ? await this.uia.authenticate({ operation: 'POST /account/deactivate', userId: user.userId, flows: accountFlows(), auth: body.auth })
        : undefined;
    await this.users.deactivate(user.userId, { erase: body.erase ?? false });
    if (session) await this.uia.completeSession(session.sessionId);
    await leaveAllRooms(this, this.logger, user.userId);
    // No identity server bindings are kept, so there is nothing to unbind.
    return { id_server_unbind_result: 'no-support' };
  }
}
