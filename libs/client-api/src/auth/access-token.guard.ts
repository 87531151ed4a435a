/** The guard of every endpoint that needs an access token. */
import { DeviceService } from '@hs/accounts';
import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { AuthenticatableRequest, authenticateRequest } from './access-token';

/**
 * Lets a request through when it carries a valid access token (header or query parameter);
 * answers 401 M_MISSING_TOKEN / M_UNKNOWN_TOKEN otherwise. The user is then available
 * through `@AuthUser()`.
 */
@Injectable()
export class AccessTokenGuard implements CanActivate {
  constructor(private readonly devices: DeviceService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    await authenticateRequest(context.switchToHttp().getRequest<AuthenticatableRequest>(), this.devices);
    return true;
  }
}
