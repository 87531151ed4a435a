/** `@RateLimited(action)`: the rate limit of an endpoint, applied before its handler runs. */
import { DeviceService, UserService } from '@hs/accounts';
import { AppServiceRegistry } from '@hs/appservice';
import { CanActivate, ExecutionContext, Injectable, SetMetadata, UseGuards, applyDecorators } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthenticatableRequest, authenticateRequest, extractAccessToken } from '../auth/access-token';
import { REQUIRE_AUTH } from '../auth/decorators';
import { RateLimitKey, RateLimitedAction, RateLimiter } from './rate-limiter';

export const RATE_LIMIT_ACTION = 'hs:client-api:rate-limit-action';

/** The access token of a request to an endpoint that needs none (a malformed header counts as none here). */
function tokenOf(request: AuthenticatableRequest): string | null {
  try {
    return extractAccessToken(request);
  } catch {
    return null;
  }
}

/**
 * Limits a request per user when the endpoint is `@RequireAuth()` (authenticating it first,
 * whatever the order of the guards), else per address.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly limiter: RateLimiter,
    private readonly devices: DeviceService,
    private readonly users: UserService,
    private readonly registry: AppServiceRegistry,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const action = this.reflector.getAllAndOverride<RateLimitedAction | undefined>(RATE_LIMIT_ACTION, [context.getHandler(), context.getClass()]);
    if (action === undefined || !this.limiter.enabled) return true;
    const request = context.switchToHttp().getRequest<AuthenticatableRequest>();
    const requiresAuth = this.reflector.getAllAndOverride<boolean | undefined>(REQUIRE_AUTH, [context.getHandler(), context.getClass()]) === true;
    const keys: RateLimitKey[] = [];
    const token = requiresAuth ? null : tokenOf(request);
    const service = token === null ? undefined : this.registry.byAsToken(token);
    if (requiresAuth) {
      const user = await authenticateRequest(request, this.devices, { registry: this.registry, users: this.users });
      // An application service registered with `rate_limited: false` is not limited.
      if (user.appServiceId !== undefined && this.registry.byId(user.appServiceId)?.registration.rateLimited === false) return true;
      keys.push({ user: user.userId });
    } else if (service?.registration.rateLimited === false) return true;
    else keys.push({ ip: request.ip ?? 'unknown' });
    this.limiter.consume(action, keys);
    return true;
  }
}

/** Rate-limits the endpoint under `rate_limits.<action>` of the configuration. */
export function RateLimited(action: RateLimitedAction): MethodDecorator & ClassDecorator {
  return applyDecorators(SetMetadata(RATE_LIMIT_ACTION, action), UseGuards(RateLimitGuard));
}
