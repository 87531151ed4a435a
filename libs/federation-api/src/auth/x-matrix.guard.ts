/**
 * The X-Matrix guard: every endpoint under `/_matrix/federation/` needs a request signed by its
 * origin server (server-server-api.md "Request Authentication"), unless it is marked
 * `@PublicFederationEndpoint()`. A missing or bad signature gets 401 M_UNAUTHORIZED and the
 * reason is logged. An authenticated origin that the federation allow and deny lists refuse
 * (`federation.allowed_servers`, `federation.denied_servers`) gets 403 M_FORBIDDEN. The
 * authenticated origin is then available through `@FederationOrigin()`.
 */
import { MatrixError } from '@hs/http';
import { FederationServerPolicy, RequestAuthenticationError, RequestAuthenticator } from '@hs/keys';
import { CanActivate, ExecutionContext, Injectable, SetMetadata, createParamDecorator } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';

/** Metadata key of endpoints under /_matrix/federation/ that need no signature. */
export const PUBLIC_FEDERATION_ENDPOINT = 'hs:federation-api:public';

/** The endpoint under /_matrix/federation/ answers without an X-Matrix signature (e.g. /v1/version). */
export function PublicFederationEndpoint(): MethodDecorator & ClassDecorator {
  return SetMetadata(PUBLIC_FEDERATION_ENDPOINT, true);
}

/** A request that passed the guard. */
export interface AuthenticatedFederationRequest extends FastifyRequest {
  /** The server name of the server that signed the request. */
  federationOrigin?: string;
}

const FEDERATION_PREFIX = '/_matrix/federation/';

@Injectable()
export class XMatrixGuard implements CanActivate {
  constructor(
    private readonly authenticator: RequestAuthenticator,
    private readonly policy: FederationServerPolicy,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatedFederationRequest>();
    const uri = request.raw.url ?? request.url;
    if (!uri.startsWith(FEDERATION_PREFIX)) return true;
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_FEDERATION_ENDPOINT, [context.getHandler(), context.getClass()])) return true;
    let origin: string;
    try {
      const auth = await this.authenticator.authenticate({
        method: request.method,
        uri,
        authorization: request.headers.authorization,
        content: request.body,
      });
      origin = auth.origin;
    } catch (error) {
      if (!(error instanceof RequestAuthenticationError)) throw error;
      request.log.warn({ origin: error.origin, reason: error.reason }, 'federation request refused: not authenticated');
      throw new MatrixError(401, 'M_UNAUTHORIZED', error.reason);
    }
    if (!this.policy.allows(origin)) {
      request.log.warn({ origin }, 'federation request refused: the origin is not allowed by federation.allowed_servers / denied_servers');
      throw new MatrixError(403, 'M_FORBIDDEN', 'Federation with this server is not allowed');
    }
    request.federationOrigin = origin;
    return true;
  }
}

/** The server that signed the request (the endpoint must be behind the X-Matrix guard). */
export const FederationOrigin = createParamDecorator((_data: unknown, context: ExecutionContext): string => {
  const origin = context.switchToHttp().getRequest<AuthenticatedFederationRequest>().federationOrigin;
  if (origin === undefined) throw new MatrixError(401, 'M_UNAUTHORIZED', 'The request is not signed');
  return origin;
});
