/**
 * Login and logout (client-server API, "Login"): GET/POST /login with `m.login.password` and
 * `m.login.token`, POST /login/get_token, POST /logout, POST /logout/all and GET /account/whoami.
 */
import { Body, Controller, Get, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { DeviceService, LOGIN_PASSWORD, LoginTokenService, UserInteractiveAuthService, UserService, accountFlows } from '@hs/accounts';
import { MatrixError } from '@hs/http';
import { z } from 'zod';
import type { AuthenticatedUser } from '../auth/authenticated-user';
import { AuthUser, RequireAuth, GuestAllowed } from '../auth/decorators';
import { requestIp, requestUserAgent } from '../auth/request-ip';
import { CLIENT_API_CONFIG, ClientApiConfig } from '../config';
import { clientPaths, clientV1Paths } from '../prefixes';
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

/** `m.login.token`: a login token from POST /login/get_token. */
const LOGIN_TOKEN = 'm.login.token';

const GetTokenBody = z.object({ auth: z.unknown().optional() });

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
    private readonly loginTokens: LoginTokenService,
    private readonly uia: UserInteractiveAuthService,
    @Inject(CLIENT_API_CONFIG) private readonly config: ClientApiConfig,
  ) {}

  /** GET /_matrix/client/v3/login */
  @Get(clientPaths('login'))
  getLoginFlows(): { flows: { type: string; get_login_token?: boolean }[] } {
    const flows: { type: string; get_login_token?: boolean }[] = [{ type: LOGIN_PASSWORD }];
    if (this.config.login_via_existing_session.enabled) flows.push({ type: LOGIN_TOKEN, get_login_token: true });
    return { flows };
  }

  /**
   * POST /_matrix/client/v1/login/get_token: a one-time login token for a new device of the
   * same user, after the user authenticates again (user-interactive auth). 404 M_UNRECOGNIZED
   * unless `login_via_existing_session.enabled`.
   */
  @Post(clientV1Paths('login/get_token'))
  @HttpCode(200)
  @RequireAuth()
  @RateLimited('login')
  async getLoginToken(@AuthUser() user: AuthenticatedUser, @Body() rawBody: unknown): Promise<{ login_token: string; expires_in_ms: number }> {
    const settings = this.config.login_via_existing_session;
    if (!settings.enabled) throw new MatrixError(404, 'M_UNRECOGNIZED', 'Login tokens are not enabled on this server');
    const body = parseBody(GetTokenBody, rawBody === undefined ? {} : rawBody);
    const session = await this.uia.authenticate({ operation: 'POST /login/get_token', userId: user.userId, flows: accountFlows(), auth: body.auth });
    const token = await this.loginTokens.issue(user.userId, settings.token_timeout_ms);
    await this.uia.completeSession(session.sessionId);
    return { login_token: token, expires_in_ms: settings.token_timeout_ms };
  }

  /** POST /_matrix/client/v3/login */
  @Post(clientPaths('login'))
  @HttpCode(200)
  @RateLimited('login')
  async login(@Body() rawBody: unknown, @Req() request: { ip?: string; headers: Record<string, string | string[] | undefined> }): Promise<LoginResponse> {
    const body = parseBody(LoginBody, rawBody);
    if (body.type === LOGIN_TOKEN && this.config.login_via_existing_session.enabled) return this.loginWithToken(body, request);
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

  /** POST /login with `m.login.token`: the token is used up, valid or not for this login's user. */
  private async loginWithToken(body: z.infer<typeof LoginBody>, request: { ip?: string; headers: Record<string, string | string[] | undefined> }): Promise<LoginResponse> {
    if (body.token === undefined) throw MatrixError.missingParam('token is required');
    if (body.device_id !== undefined && body.device_id.length === 0) throw MatrixError.invalidParam('device_id must not be empty');
    const userId = await this.loginTokens.consume(body.token);
    if (userId === null) throw MatrixError.forbidden('Invalid or expired login token');
    const result = await this.devices.issueAccessToken(userId, { deviceId: body.device_id, initialDisplayName: body.initial_device_display_name });
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
