/** The guard of every endpoint that needs an access token. */
import { DeviceService, UserService } from '@hs/accounts';
import { AppServiceRegistry } from '@hs/appservice';
import { MatrixError } from '@hs/http';
import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthenticatableRequest, authenticateRequest, extractAccessToken } from './access-token';

/** Metadata key set on handlers (or controllers) that guest accounts may use (`@GuestAllowed()`). */
export const GUEST_ALLOWED = 'hs:client-api:guest-allowed';

/**
 * Lets a request through when it carries a valid access token (header or query parameter) or
 * an application service's token; answers 401 M_MISSING_TOKEN / M_UNKNOWN_TOKEN otherwise, and
 * 403 M_GUEST_ACCESS_FORBIDDEN to a guest on an endpoint not marked `@GuestAllowed()`.
 * The user is then available through `@AuthUser()`.
 */
@Injectable()
export class AccessTokenGuard implements CanActivate {
  constructor(
    private readonly devices: DeviceService,
    private readonly users: UserService,
    private readonly registry: AppServiceRegistry,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatableRequest>();
    await authenticateRequest(request, this.devices, { registry: this.registry, users: this.users });
    if (request.authUser?.isGuest === true && this.reflector.getAllAndOverride<boolean>(GUEST_ALLOWED, [context.getHandler(), context.getClass()]) !== true) {
      throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guest access is not allowed on this endpoint');
    }
    return true;
  }
}

/**
 * For endpoints open to requests without an access token: a request that carries one is
 * authenticated (401 for a token that is not valid), one without passes as anonymous.
 */
@Injectable()
export class OptionalAccessTokenGuard implements CanActivate {
  constructor(
    private readonly devices: DeviceService,
    private readonly users: UserService,
    private readonly registry: AppServiceRegistry,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatableRequest>();
    if (extractAccessToken(request) !== null) await authenticateRequest(request, this.devices, { registry: this.registry, users: this.users });
    return true;
  }
}
