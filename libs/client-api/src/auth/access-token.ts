/**
 * Finding and checking the access token of a request (client-server API, "Using access
 * tokens"): `Authorization: Bearer <token>` or the deprecated `access_token` query parameter.
 */
import type { DeviceService, UserService } from '@hs/accounts';
import type { AppService, AppServiceRegistry } from '@hs/appservice';
import { MatrixError } from '@hs/http';
import type { AuthenticatedUser } from './authenticated-user';
import { requestUserAgent } from './request-ip';

/** The parts of a Fastify request the authentication reads and writes. */
export interface AuthenticatableRequest {
  headers: Record<string, string | string[] | undefined>;
  query?: unknown;
  ip?: string;
  /** Set once the request is authenticated. */
  authUser?: AuthenticatedUser;
  /** The authentication in progress, so that several guards share one lookup. */
  authPromise?: Promise<AuthenticatedUser>;
}

/**
 * The access token of a request, or null when it carries none. A malformed `Authorization`
 * header (not `Bearer <token>`) is refused as an unknown token.
 */
export function extractAccessToken(request: Pick<AuthenticatableRequest, 'headers' | 'query'>): string | null {
  const header = request.headers.authorization;
  const value = Array.isArray(header) ? header[0] : header;
  if (typeof value === 'string' && value.length > 0) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
    if (!match) throw MatrixError.unknownToken('Invalid Authorization header: expected "Bearer <token>"');
    return match[1];
  }
  const query = request.query;
  if (typeof query === 'object' && query !== null) {
    const param = (query as Record<string, unknown>).access_token;
    const token = Array.isArray(param) ? param[0] : param;
    if (typeof token === 'string' && token.length > 0) return token;
  }
  return null;
}

/** What authenticating an application service's request needs. */
export interface AppServiceAuth {
  registry: AppServiceRegistry;
  users: Pick<UserService, 'getUser'>;
}

function queryString(query: unknown, name: string): string | undefined {
  if (typeof query !== 'object' || query === null) return undefined;
  const value = (query as Record<string, unknown>)[name];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : undefined;
}

/**
 * The user an application service acts as (application service API, "Identity assertion"):
 * its sender, or the `user_id` query parameter, which must be a registered user of its users
 * namespace (403 M_EXCLUSIVE outside it, 403 M_FORBIDDEN when not registered); with a
 * `device_id` (or MSC3202's `org.matrix.msc3202.device_id`), one of that user's devices.
 */
async function appServiceUser(service: AppService, token: string, request: AuthenticatableRequest, auth: AppServiceAuth, devices: DeviceService): Promise<AuthenticatedUser> {
  const userId = queryString(request.query, 'user_id') ?? service.senderUserId;
  if (!service.ownsUser(userId)) throw new MatrixError(403, 'M_EXCLUSIVE', 'Application service cannot masquerade as this user');
  const user = userId === service.senderUserId ? null : await auth.users.getUser(userId);
  if (userId !== service.senderUserId && (user === null || user.deactivated)) throw MatrixError.forbidden('Application service has not registered this user');
  const deviceId = queryString(request.query, 'device_id') ?? queryString(request.query, 'org.matrix.msc3202.device_id');
  if (deviceId !== undefined) {
    try {
      await devices.getDevice(userId, deviceId);
    } catch {
      throw new MatrixError(400, 'M_UNKNOWN_DEVICE', 'The user has no device with this id');
    }
  }
  return { userId, deviceId: deviceId ?? `appservice:${service.id}`, isGuest: false, accessToken: token, appServiceId: service.id };
}

/**
 * Authenticates a request once (the answer is kept on the request): 401 M_MISSING_TOKEN
 * without a token, 401 M_UNKNOWN_TOKEN for a token that is unknown, logged out or whose
 * account is deactivated. An application service's `as_token` authenticates it as the user it
 * asserts. Notes a user's device as seen from the request's address.
 */
export function authenticateRequest(request: AuthenticatableRequest, devices: DeviceService, appServices?: AppServiceAuth): Promise<AuthenticatedUser> {
  if (request.authUser) return Promise.resolve(request.authUser);
  request.authPromise ??= (async () => {
    const token = extractAccessToken(request);
    if (token === null) throw MatrixError.missingToken();
    const service = appServices?.registry.byAsToken(token);
    if (service && appServices) {
      const asserted = await appServiceUser(service, token, request, appServices, devices);
      request.authUser = asserted;
      return asserted;
    }
    const owner = await devices.authenticate(token);
    if (!owner) throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Unrecognised access token', { soft_logout: false });
    const user: AuthenticatedUser = { userId: owner.userId, deviceId: owner.deviceId, isGuest: owner.isGuest, accessToken: token };
    request.authUser = user;
    devices.recordLastSeen(user, request.ip ?? '', requestUserAgent(request));
    return user;
  })();
  return request.authPromise;
}
