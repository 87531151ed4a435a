/**
 * GET /_matrix/federation/v1/openid/userinfo?access_token=: the user an OpenID token was issued
 * to (openid.yaml). Called by third-party services, not servers: no X-Matrix signature.
 */
import { Controller, Get, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ExchangeOpenIdToken } from '@hs/accounts';
import { PublicFederationEndpoint } from '../auth/x-matrix.guard';
import { queryOf, requiredQueryParam } from '../params';

@Controller('_matrix/federation/v1/openid/userinfo')
@PublicFederationEndpoint()
export class ExchangeOpenIdTokenController {
  constructor(private readonly queries: QueryBus) {}

  /** GET /_matrix/federation/v1/openid/userinfo */
  @Get()
  exchangeOpenIdToken(@Query() query: unknown): Promise<{ sub: string }> {
    return this.queries.execute(new ExchangeOpenIdToken(requiredQueryParam(queryOf(query), 'access_token')));
  }
}
