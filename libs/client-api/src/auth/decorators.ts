/** Decorators of authenticated client-server endpoints. */
import { ExecutionContext, SetMetadata, UseGuards, applyDecorators, createParamDecorator } from '@nestjs/common';
import { MatrixError } from '@hs/http';
import type { AuthenticatableRequest } from './access-token';
import { AccessTokenGuard, GUEST_ALLOWED, OptionalAccessTokenGuard } from './access-token.guard';
import type { AuthenticatedUser } from './authenticated-user';

/** Metadata key set on handlers (or controllers) that need an access token. */
export const REQUIRE_AUTH = 'hs:client-api:require-auth';

/** The endpoint needs an access token (`@RequireAuth()` on a method or a controller). */
export function RequireAuth(): MethodDecorator & ClassDecorator {
  return applyDecorators(SetMetadata(REQUIRE_AUTH, true), UseGuards(AccessTokenGuard));
}

/**
 * Guest accounts may use the endpoint (client-server API, "Guest Access"). An authenticated
 * endpoint without it answers guests 403 M_GUEST_ACCESS_FORBIDDEN.
 */
export function GuestAllowed(): MethodDecorator & ClassDecorator {
  return SetMetadata(GUEST_ALLOWED, true);
}

/** The authenticated user of the request; the handler must be `@RequireAuth()`. */
export const AuthUser = createParamDecorator((_data: unknown, context: ExecutionContext): AuthenticatedUser => {
  const request = context.switchToHttp().getRequest<AuthenticatableRequest>();
  if (!request.authUser) throw MatrixError.missingToken();
  return request.authUser;
});

/** The endpoint takes an access token but does not need one (`@MaybeAuthUser()` gives the user, or undefined). */
export function OptionalAuth(): MethodDecorator & ClassDecorator {
  return UseGuards(OptionalAccessTokenGuard);
}

/** The authenticated user of an `@OptionalAuth()` request, or undefined without an access token. */
export const MaybeAuthUser = createParamDecorator((_data: unknown, context: ExecutionContext): AuthenticatedUser | undefined => {
  return context.switchToHttp().getRequest<AuthenticatableRequest>().authUser;
});
