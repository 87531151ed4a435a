/**
 * What every admin endpoint shares: a server admin's access token (`@RequireServerAdmin()`;
 * others get 403 M_FORBIDDEN), the request id for the audit log, and its common query
 * parameters.
 */
import { CanActivate, ExecutionContext, Injectable, UseGuards, applyDecorators, createParamDecorator } from '@nestjs/common';
import { UserService } from '@hs/accounts';
import { MatrixError } from '@hs/http';
import type { AuthenticatableRequest } from '../auth/access-token';
import { RequireAuth } from '../auth/decorators';
import { queryParam } from '../validation';

/** Path prefix of Synapse's admin API. */
export const SYNAPSE_ADMIN_V1 = '_synapse/admin/v1';
export const SYNAPSE_ADMIN_V2 = '_synapse/admin/v2';
/** Path prefix of this server's own admin endpoints (no Synapse counterpart). */
export const HS_ADMIN_V1 = '_hs/admin/v1';

/** Lets the request through when its (already authenticated) user is a server admin. */
@Injectable()
export class ServerAdminGuard implements CanActivate {
  constructor(private readonly users: UserService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatableRequest>();
    if (!request.authUser) throw MatrixError.missingToken();
    if (!(await this.users.isAdmin(request.authUser.userId))) throw MatrixError.forbidden('You are not a server admin');
    return true;
  }
}

/** The endpoint is for server admins only. */
export function RequireServerAdmin(): MethodDecorator & ClassDecorator {
  return applyDecorators(RequireAuth(), UseGuards(ServerAdminGuard));
}

/** The request's id (X-Request-Id), recorded with audit entries. */
export const RequestId = createParamDecorator((_data: unknown, context: ExecutionContext): string | null => {
  const id = context.switchToHttp().getRequest<{ id?: unknown }>().id;
  return typeof id === 'string' ? id : null;
});

/** A whole-number query parameter in [min, max]; the default when absent; 400 M_INVALID_PARAM otherwise. */
export function numberQueryParam(query: unknown, name: string, min: number, max: number, fallback: number): number;
export function numberQueryParam(query: unknown, name: string, min: number, max: number, fallback?: undefined): number | undefined;
export function numberQueryParam(query: unknown, name: string, min: number, max: number, fallback?: number): number | undefined {
  const value = queryParam(query, name);
  if (value === undefined) return fallback;
  if (!/^-?[0-9]{1,16}$/.test(value) || Number(value) < min || Number(value) > max || !Number.isSafeInteger(Number(value))) {
    throw MatrixError.invalidParam(`${name} must be a whole number from ${min} to ${max}`);
  }
  return Number(value);
}

/** `dir`: `f` or `b`. */
export function directionQueryParam(query: unknown, fallback: 'f' | 'b'): 'f' | 'b' {
  const value = queryParam(query, 'dir') ?? fallback;
  if (value !== 'f' && value !== 'b') throw MatrixError.invalidParam('dir must be f or b');
  return value;
}

/** A query parameter that must be one of `allowed`. */
export function choiceQueryParam<T extends string>(query: unknown, name: string, allowed: readonly T[], fallback: T): T {
  const value = queryParam(query, name) ?? fallback;
  if (!(allowed as readonly string[]).includes(value)) throw MatrixError.invalidParam(`${name} must be one of ${allowed.join(', ')}`);
  return value as T;
}

/** Paging: `from` (an offset, default 0) and `limit` (default 100). */
export function pagingQuery(query: unknown): { from: number; limit: number } {
  return { from: numberQueryParam(query, 'from', 0, Number.MAX_SAFE_INTEGER, 0), limit: numberQueryParam(query, 'limit', 0, 1000, 100) };
}
