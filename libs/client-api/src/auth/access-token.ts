/**
 * Finding and checking the access token of a request (client-server API, "Using access
 * tokens"): `Authorization: Bearer <token>` or the deprecated `access_token` query parameter.
 */
import type { DeviceService } from '@hs/accounts';
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

/**
 * Authenticates a request once (the answer is kept on the request): 401 M_MISSING_TOKEN
 * without a token, 401 M_UNKNOWN_TOKEN for a token that is unknown, logged out or whose
 * account is deactivated. Notes the device as seen from the request's address.
 */
export function authenticateRequest(request: AuthenticatableRequest, devices: DeviceService): Promise<AuthenticatedUser> {
  if (request.authUser) return Promise.resolve(request.authUser);
  request.authPromise ??= (async () => {
    const token = extractAccessToken(request);
    if (token === null) throw MatrixError.missingToken();
    const owner = await devices.authenticate(token);
    if (!owner) throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Unrecognised access token', { soft_logout: false });
    const user: AuthenticatedUser = { userId: owner.userId, deviceId: owner.deviceId, isGuest: owner.isGuest, accessToken: token };
    request.authUser = user;
    devices.recordLastSeen(user, request.ip ?? '', requestUserAgent(request));
    return user;
  })();
  return request.authPromise;
}
