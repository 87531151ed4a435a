/**
 * Login and logout (client-server API, "Login"): GET/POST /login with `m.login.password`,
 * POST /logout, POST /logout/all and GET /account/whoami.
 */
import { Body, Controller, Get, HttpCode, Post, Req } from '@nestjs/common';
import { DeviceService, LOGIN_PASSWORD, UserService } from '@hs/accounts';
import { MatrixError } from '@hs/http';
import { z } from 'zod';
import type { AuthenticatedUser } from '../auth/authenticated-user';
import { AuthUser, RequireAuth, GuestAllowed } from '../auth/decorators';
import { requestIp, requestUserAgent } from '../auth/request-ip';
import { clientPaths } from '../prefixes';
import { RateLimited } from '../rate-limit/rate-limit.guard';
import { RateLimiter } from '../rate-limit/rate-limiter';
import { parseBody } from '../validation';

const Identifier = z.object({ type: z.string() }).passthrough();

const LoginBody = z.object({
  type: z.string(),
  identifier: Identifier.optional(),
  /** Deprecated in favour of `identifier` with `m.id.user`, still sent by older clients. */
  user: z.string().optional(),
  /** Deprecated third-party identifier fields. */
  medium: z.string().optional(),
  address: z.string().optional(),
  password: z.string().optional(),
  token: z.string().optional(),
  device_id: z.string().optional(),
  initial_device_display_name: z.string().optional(),
  refresh_token: z.boolean().optional(),
});

/** The body of a successful login (login.yaml, 200). */
export interface LoginResponse {
  user_id: string;
  access_token: string;
  device_id: string;
}

/** Which account a login names: a user id or localpart, or a third-party identifier (never one of ours). */
type LoginTarget = { user: string } | { thirdParty: true };

function loginTarget(body: z.infer<typeof LoginBody>): LoginTarget {
  const identifier = body.identifier;
  if (identifier !== undefined) {
    switch (identifier.type) {
      case 'm.id.user': {
        const user = identifier.user;
        if (user === undefined) throw MatrixError.missingParam('identifier.user is required');
        if (typeof user !== 'string') throw MatrixError.badJson('identifier.user must be a string');
        return { user };
      }
      case 'm.id.thirdparty':
      case 'm.id.phone':
        return { thirdParty: true };
      default:
        throw new MatrixError(400, 'M_UNKNOWN', `Unknown login identifier type ${identifier.type}`);
    }
  }
  if (body.user !== undefined) return { user: body.user };
  if (body.medium !== undefined || body.address !== undefined) return { thirdParty: true };
  throw MatrixError.missingParam('identifier is required');
}

@Controller()
export class LoginController {
  constructor(
    private readonly users: UserService,
    private readonly devices: DeviceService,
    private readonly limiter: RateLimiter,
  ) {}

  /** GET /_matrix/client/v3/login */
  @Get(clientPaths('login'))
  getLoginFlows(): { flows: { type: string }[] } {
    return { flows: [{ type: LOGIN_PASSWORD }] };
  }

  /** POST /_matrix/client/v3/login */
  @Post(clientPaths('login'))
  @HttpCode(200)
  @RateLimited('login')
  async login(@Body() rawBody: unknown, @Req() request: { ip?: string; headers: Record<string, string | string[] | undefined> }): Promise<LoginResponse> {
    const body = parseBody(LoginBody, rawBody);
    if (body.type !== LOGIN_PASSWORD) throw new MatrixError(400, 'M_UNKNOWN', `Unknown login type ${body.type}`);
    const target = loginTarget(body);
    if ('thirdParty' in target) {
      // This server keeps no third-party identifiers, so none can name an account.
      throw MatrixError.forbidden('Invalid username or password');
    }
    if (body.password === undefined) throw MatrixError.missingParam('password is required');
    if (body.device_id !== undefined && body.device_id.length === 0) throw MatrixError.invalidParam('device_id must not be empty');
    const account = this.users.resolveLoginUser(target.user);
    if (account !== null) this.limiter.consume('login', [{ account }]);
    const result = await this.users.login({
      user: target.user,
      password: body.password,
      deviceId: body.device_id,
      initialDeviceDisplayName: body.initial_device_display_name,
    });
    this.devices.recordLastSeen({ userId: result.user_id, deviceId: result.device_id }, requestIp(request), requestUserAgent(request));
    return { user_id: result.user_id, access_token: result.access_token, device_id: result.device_id };
  }

  /** POST /_matrix/client/v3/logout */
  @GuestAllowed()
  @Post(clientPaths('logout'))
  @HttpCode(200)
  @RequireAuth()
  async logout(@AuthUser() user: AuthenticatedUser): Promise<Record<string, never>> {
    await this.devices.logout(user.accessToken);
    return {};
  }

  /** POST /_matrix/client/v3/logout/all */
  @GuestAllowed()
  @Post(clientPaths('logout/all'))
  @HttpCode(200)
  @RequireAuth()
  async logoutAll(@AuthUser() user: AuthenticatedUser): Promise<Record<string, never>> {
    await this.devices.logoutAll(user.userId);
    return {};
  }

  /** GET /_matrix/client/v3/account/whoami */
  @GuestAllowed()
  @Get(clientPaths('account/whoami'))
  @RequireAuth()
  whoami(@AuthUser() user: AuthenticatedUser): { user_id: string; device_id: string; is_guest: boolean } {
    return { user_id: user.userId, device_id: user.deviceId, is_guest: user.isGuest };
  }
}
