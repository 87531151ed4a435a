/**
 * Account registration (client-server API, "Account registration and management"):
 * POST /register with user-interactive authentication, GET /register/available and the
 * registration token validity check.
 */
import { Body, Controller, Get, HttpCode, Inject, Post, Query, Req } from '@nestjs/common';
import { RegistrationTokenService, UserInteractiveAuthService, UserService, DeviceService, registrationFlows } from '@hs/accounts';
import { MatrixError } from '@hs/http';
import { z } from 'zod';
import { requestIp } from '../auth/request-ip';
import { CLIENT_API_CONFIG, ClientApiConfig } from '../config';
import { clientPaths, clientV1Paths } from '../prefixes';
import { RateLimited } from '../rate-limit/rate-limit.guard';
import { parseBody, queryParam, requireQueryParam } from '../validation';

const RegisterBody = z.object({
  auth: z.unknown().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  device_id: z.string().optional(),
  initial_device_display_name: z.string().optional(),
  inhibit_login: z.boolean().optional(),
  refresh_token: z.boolean().optional(),
});

/** The body of a successful registration (registration.yaml, 200). */
export interface RegisterResponse {
  user_id: string;
  access_token?: string;
  device_id?: string;
}

/** The UIA operation a registration session is bound to. */
const REGISTER_OPERATION = 'POST /register';

@Controller()
export class RegistrationController {
  constructor(
    @Inject(CLIENT_API_CONFIG) private readonly config: ClientApiConfig,
    private readonly users: UserService,
    private readonly devices: DeviceService,
    private readonly uia: UserInteractiveAuthService,
    private readonly registrationTokens: RegistrationTokenService,
  ) {}

  /** POST /_matrix/client/v3/register */
  @Post(clientPaths('register'))
  @HttpCode(200)
  @RateLimited('registration')
  async register(@Query() query: unknown, @Body() rawBody: unknown, @Req() request: { ip?: string }): Promise<RegisterResponse> {
    const kind = queryParam(query, 'kind') ?? 'user';
    if (kind !== 'user' && kind !== 'guest') throw MatrixError.invalidParam('kind must be "user" or "guest"');
    if (kind === 'guest') throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guest access is not enabled on this server');
    if (!this.config.registration.enabled) throw MatrixError.forbidden('Registration has been disabled');
    const body = parseBody(RegisterBody, rawBody);
    if (body.username !== undefined) await this.users.isUsernameAvailable(body.username);
    if (body.device_id !== undefined && body.device_id.length === 0) throw MatrixError.invalidParam('device_id must not be empty');
    const session = await this.uia.authenticate({
      operation: REGISTER_OPERATION,
      flows: registrationFlows({ requireRegistrationToken: this.config.registration.registration_token !== null }),
      auth: body.auth,
    });
    if (body.password === undefined) throw MatrixError.missingParam('Missing password');
    const { userId } = await this.users.register({ localpart: body.username, password: body.password, kind: 'user' });
    await this.uia.completeSession(session.sessionId);
    if (body.inhibit_login === true) return { user_id: userId };
    const login = await this.devices.issueAccessToken(userId, {
      deviceId: body.device_id,
      initialDisplayName: body.initial_device_display_name,
    });
    this.devices.recordLastSeen({ userId, deviceId: login.device_id }, requestIp(request));
    return { user_id: login.user_id, access_token: login.access_token, device_id: login.device_id };
  }

  /** GET /_matrix/client/v3/register/available */
  @Get(clientPaths('register/available'))
  async registerAvailable(@Query() query: unknown): Promise<{ available: true }> {
    const username = requireQueryParam(query, 'username');
    await this.users.isUsernameAvailable(username);
    return { available: true };
  }

  /** GET /_matrix/client/v1/register/m.login.registration_token/validity */
  @Get(clientV1Paths('register/m.login.registration_token/validity'))
  @RateLimited('registration')
  async registrationTokenValidity(@Query() query: unknown): Promise<{ valid: boolean }> {
    if (!this.config.registration.enabled) throw MatrixError.forbidden('Registration has been disabled');
    const token = requireQueryParam(query, 'token');
    return { valid: await this.registrationTokens.isValid(token) };
  }
}
