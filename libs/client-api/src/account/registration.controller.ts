/**
 * Account registration (client-server API, "Account registration and management"):
 * POST /register with user-interactive authentication, GET /register/available and the
 * registration token validity check.
 */
import { Body, Controller, Get, HttpCode, Inject, Post, Query, Req } from '@nestjs/common';
import {
  DeviceService,
  RegistrationTokenService,
  UserInteractiveAuthRequired,
  UserInteractiveAuthService,
  UserService,
  type UiaSuccess,
  assertNewDeviceParams,
  generateDeviceId,
  registrationFlows,
} from '@hs/accounts';
import { AppServiceRegistry } from '@hs/appservice';
import { MatrixError } from '@hs/http';
import { z } from 'zod';
import { extractAccessToken } from '../auth/access-token';
import { requestIp, requestUserAgent } from '../auth/request-ip';
import { CLIENT_API_CONFIG, ClientApiConfig } from '../config';
import { clientPaths, clientV1Paths } from '../prefixes';
import { RateLimited } from '../rate-limit/rate-limit.guard';
import { parseBody, queryParam, requireQueryParam } from '../validation';

const RegisterBody = z.object({
  /** `m.login.application_service` for an application service registering a user of its namespace. */
  type: z.string().optional(),
  auth: z.unknown().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  device_id: z.string().optional(),
  initial_device_display_name: z.string().optional(),
  inhibit_login: z.boolean().optional(),
  refresh_token: z.boolean().optional(),
  /** A guest's access token: the registration upgrades that guest account (its localpart as `username`). */
  guest_access_token: z.string().optional(),
});

/** The body of a successful registration (registration.yaml, 200). */
export interface RegisterResponse {
  user_id: string;
  access_token?: string;
  device_id?: string;
}

/** The UIA operation a registration session is bound to. */
const REGISTER_OPERATION = 'POST /register';

/**
 * The parameters of a registration kept with its UIA session (Synapse does the same): a
 * request completing a stage may omit them. The password is kept as its hash only.
 */
const KeptParams = z.object({
  username: z.string().optional(),
  password_hash: z.string().optional(),
  device_id: z.string().optional(),
  initial_device_display_name: z.string().optional(),
  inhibit_login: z.boolean().optional(),
});

/** What a finished registration session keeps: the account it created and its first device. */
const KeptResult = z.object({ user_id: z.string(), device_id: z.string().optional() });

function continuesSession(auth: unknown): boolean {
  return typeof auth === 'object' && auth !== null && typeof (auth as { session?: unknown }).session === 'string';
}

@Controller()
export class RegistrationController {
  constructor(
    @Inject(CLIENT_API_CONFIG) private readonly config: ClientApiConfig,
    private readonly users: UserService,
    private readonly devices: DeviceService,
    private readonly uia: UserInteractiveAuthService,
    private readonly registrationTokens: RegistrationTokenService,
    private readonly appServices: AppServiceRegistry,
  ) {}

  /** POST /_matrix/client/v3/register */
  @Post(clientPaths('register'))
  @HttpCode(200)
  @RateLimited('registration')
  async register(
    @Query() query: unknown,
    @Body() rawBody: unknown,
    @Req() request: { ip?: string; headers?: Record<string, string | string[] | undefined>; query?: unknown },
  ): Promise<RegisterResponse> {
    const kind = queryParam(query, 'kind') ?? 'user';
    if (kind !== 'user' && kind !== 'guest') throw MatrixError.invalidParam('kind must be "user" or "guest"');
    if (kind === 'guest') return this.registerGuest(rawBody, request);
    const body = parseBody(RegisterBody, rawBody);
    if (body.type === 'm.login.application_service') return this.registerForAppService(body, request);
    if (!this.config.registration.enabled) throw MatrixError.forbidden('Registration has been disabled');
    if (body.device_id !== undefined && body.device_id.length === 0) throw MatrixError.invalidParam('device_id must not be empty');
    assertNewDeviceParams(body.device_id, body.initial_device_display_name);
    const guest = body.guest_access_token === undefined ? undefined : await this.guestToUpgrade(body.guest_access_token, body.username);
    // An upgraded guest keeps its localpart, which its own account holds.
    if (guest === undefined && body.username !== undefined) {
      // A request continuing a session may retry a registration that already created this
      // very account: only the grammar is checked here, availability when the account is made.
      if (continuesSession(body.auth)) this.users.normalizeUsername(body.username);
      else await this.users.isUsernameAvailable(body.username);
      this.assertNotExclusive(this.users.userIdFor(this.users.normalizeUsername(body.username)));
    }
    let session: UiaSuccess;
    try {
      session = await this.uia.authenticate({
        operation: REGISTER_OPERATION,
        flows: registrationFlows({ requireRegistrationToken: this.config.registration.requires_token || this.config.registration.registration_token !== null }),
        auth: body.auth,
        data: {
          username: body.username,
          device_id: body.device_id,
          initial_device_display_name: body.initial_device_display_name,
          inhibit_login: body.inhibit_login,
        },
      });
    } catch (error) {
      if (error instanceof UserInteractiveAuthRequired && body.password !== undefined) await this.keepPasswordHash(error.body.session, body.password);
      throw error;
    }
    const params = KeptParams.parse(session.data);
    const registered = session.result === null ? null : KeptResult.parse(session.result);
    let userId: string;
    let deviceId: string;
    if (registered !== null) {
      // A retry of a finished registration (the client lost the answer): the same account
      // and device are answered again, with a new access token.
      userId = registered.user_id;
      deviceId = registered.device_id ?? params.device_id ?? generateDeviceId();
    } else {
      if (body.password === undefined && params.password_hash === undefined) throw MatrixError.missingParam('Missing password');
      const password = body.password !== undefined ? { password: body.password } : { passwordHash: params.password_hash as string };
      if (guest !== undefined) {
        await this.users.upgradeGuest(guest, password);
        this.devices.forgetCachedUser(guest);
        userId = guest;
      } else {
        userId = (await this.users.register({ localpart: params.username, ...password, kind: 'user' })).userId;
      }
      deviceId = params.device_id ?? generateDeviceId();
      await this.uia.finishSession(session.sessionId, { user_id: userId, device_id: params.inhibit_login === true ? undefined : deviceId });
    }
    if (params.inhibit_login === true) return { user_id: userId };
    const login = await this.devices.issueAccessToken(userId, { deviceId, initialDisplayName: params.initial_device_display_name });
    this.devices.recordLastSeen({ userId, deviceId: login.device_id }, requestIp(request), requestUserAgent(request));
    return { user_id: login.user_id, access_token: login.access_token, device_id: login.device_id };
  }

  /**
   * POST /register?kind=guest (client-server API, "Guest Access"): a guest account with a
   * generated numeric localpart and no password, logged in on a new device, when the server
   * allows guests (403 M_GUEST_ACCESS_FORBIDDEN otherwise). No user-interactive authentication.
   */
  private async registerGuest(
    rawBody: unknown,
    request: { ip?: string; headers?: Record<string, string | string[] | undefined> },
  ): Promise<RegisterResponse> {
    if (!this.config.registration.allow_guest_access) throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guest access is not enabled on this server');
    const body = parseBody(RegisterBody, rawBody === undefined ? {} : rawBody);
    assertNewDeviceParams(undefined, body.initial_device_display_name);
    const { userId } = await this.users.register({ kind: 'guest' });
    const login = await this.devices.issueAccessToken(userId, { deviceId: generateDeviceId(), initialDisplayName: body.initial_device_display_name });
    this.devices.recordLastSeen({ userId, deviceId: login.device_id }, requestIp(request), requestUserAgent(request));
    return { user_id: login.user_id, access_token: login.access_token, device_id: login.device_id };
  }

  /**
   * The guest account a registration with `guest_access_token` upgrades: the token's owner, a
   * guest, whose localpart is the `username` given (403 otherwise: a guest upgrades itself only).
   */
  private async guestToUpgrade(token: string, username: string | undefined): Promise<string> {
    if (!this.config.registration.allow_guest_access) throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guest access is not enabled on this server');
    const owner = await this.devices.authenticate(token);
    if (!owner) throw MatrixError.unknownToken('Unknown guest access token');
    if (!owner.isGuest) throw MatrixError.forbidden('guest_access_token is not the token of a guest account');
    if (username === undefined) throw MatrixError.missingParam('Upgrading a guest account needs its localpart as username');
    if (this.users.resolveLoginUser(username) !== owner.userId) throw MatrixError.forbidden('A guest may only upgrade its own account');
    return owner.userId;
  }

  /**
   * POST /register with `type: m.login.application_service` (application service API, "Server
   * admin style permissions"): the service's `as_token` registers a user of its users namespace,
   * without password or user-interactive authentication, whether or not registration is open.
   */
  private async registerForAppService(
    body: z.infer<typeof RegisterBody>,
    request: { ip?: string; headers?: Record<string, string | string[] | undefined> } & { query?: unknown },
  ): Promise<RegisterResponse> {
    const token = extractAccessToken({ headers: request.headers ?? {}, query: request.query });
    if (token === null) throw MatrixError.missingToken('m.login.application_service needs the application service\'s token');
    const service = this.appServices.byAsToken(token);
    if (!service) throw MatrixError.unknownToken('Unrecognised application service token');
    if (body.username === undefined) throw MatrixError.missingParam('Missing username');
    if (body.device_id !== undefined && body.device_id.length === 0) throw MatrixError.invalidParam('device_id must not be empty');
    assertNewDeviceParams(body.device_id, body.initial_device_display_name);
    const localpart = this.users.normalizeUsername(body.username, { allowUnderscore: true });
    const userId = this.users.userIdFor(localpart);
    if (!service.ownsUser(userId)) throw new MatrixError(400, 'M_EXCLUSIVE', 'This user id is not in the namespace of the application service');
    await this.users.register({ localpart, kind: 'user', appService: true });
    if (body.inhibit_login === true) return { user_id: userId };
    const login = await this.devices.issueAccessToken(userId, { deviceId: body.device_id ?? generateDeviceId(), initialDisplayName: body.initial_device_display_name });
    return { user_id: login.user_id, access_token: login.access_token, device_id: login.device_id };
  }

  /** 400 M_EXCLUSIVE when an application service claims the user id alone. */
  private assertNotExclusive(userId: string): void {
    if (this.appServices.exclusiveOwnerOfUser(userId)) throw new MatrixError(400, 'M_EXCLUSIVE', 'This user id is reserved by an application service');
  }

  /** Keeps the hash of a password given before authentication completed, once per session. */
  private async keepPasswordHash(sessionId: string, password: string): Promise<void> {
    if ((await this.uia.kept(sessionId)).password_hash !== undefined) return;
    await this.uia.keep(sessionId, { password_hash: await this.users.hashPassword(password) });
  }

  /** GET /_matrix/client/v3/register/available */
  @Get(clientPaths('register/available'))
  async registerAvailable(@Query() query: unknown): Promise<{ available: true }> {
    const username = requireQueryParam(query, 'username');
    await this.users.isUsernameAvailable(username);
    this.assertNotExclusive(this.users.userIdFor(this.users.normalizeUsername(username)));
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
