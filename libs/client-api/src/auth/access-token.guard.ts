/** The guard of every endpoint that needs an access token. */
import { DeviceService, UserService } from '@hs/accounts';
import { AppServiceRegistry } from '@hs/appservice';
import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { AuthenticatableRequest, authenticateRequest } from './access-token';

/**
 * Lets a request through when it carries a valid access token (header or query parameter) or
 * an application service's token; answers 401 M_MISSING_TOKEN / M_UNKNOWN_TOKEN otherwise.
 * The user is then available through `@AuthUser()`.
 */
@Injectable()
export class AccessTokenGuard implements CanActivate {
  constructor(
    private readonly devices: DeviceService,
    private readonly users: UserService,
    private readonly registry: AppServiceRegistry,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    await authenticateRequest(context.switchToHttp().getRequest<AuthenticatableRequest>(), this.devices, { registry: this.registry, users: this.users });
    return true;
  }
}
