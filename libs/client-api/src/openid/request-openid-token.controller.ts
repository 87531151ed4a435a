/**
 * POST /_matrix/client/v3/user/{userId}/openid/request_token: a token the user hands to a
 * third-party service, which exchanges it at GET /_matrix/federation/v1/openid/userinfo for
 * the user's id (client-server API, "OpenID"). It is good for nothing else and expires after
 * an hour.
 */
import { OpenIdTokenService } from '@hs/accounts';
import { MatrixError } from '@hs/http';
import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { AuthUser, RequireAuth, type AuthenticatedUser } from '../auth';
import { assertSameUser } from '../auth/same-user';
import { CLIENT_API_CONFIG, type ClientApiConfig } from '../config';
import { clientPaths } from '../prefixes';
import { userIdParam } from '../rooms/params';
import { parseObjectBody, queryParam } from '../validation';

/** openid_token.yaml */
export interface OpenIdCredentials {
  access_token: string;
  token_type: 'Bearer';
  matrix_server_name: string;
  expires_in: number;
}

@Controller()
@RequireAuth()
export class RequestOpenIdTokenController {
  constructor(
    private readonly tokens: OpenIdTokenService,
    @Inject(CLIENT_API_CONFIG) private readonly config: ClientApiConfig,
  ) {}

  /** POST /_matrix/client/v3/user/{userId}/openid/request_token */
  @Post(clientPaths('user/:userId/openid/request_token'))
  @HttpCode(200)
  async requestOpenIdToken(@AuthUser() user: AuthenticatedUser, @Param('userId') rawUserId: string, @Body() body: unknown): Promise<OpenIdCredentials> {
    const userId = userIdParam(rawUserId, 'userId');
    assertSameUser(user, userId, 'request an OpenID token');
    parseObjectBody(body);
    const issued = await this.tokens.issue(userId);
    return { access_token: issued.accessToken, token_type: 'Bearer', matrix_server_name: this.config.server_name, expires_in: issued.expiresIn };
  }
}

/**
 * GET /_matrix/federation/v1/openid/userinfo on the client listener as well: services that
 * reach this server by its client address (integration managers, widgets) exchange their token
 * here too. The federation listener serves the same; neither needs a server signature.
 */
@Controller()
export class OpenIdUserInfoController {
  constructor(private readonly tokens: OpenIdTokenService) {}

  /** GET /_matrix/federation/v1/openid/userinfo?access_token= */
  @Get('_matrix/federation/v1/openid/userinfo')
  async userInfo(@Query() query: unknown): Promise<{ sub: string }> {
    const token = queryParam(query, 'access_token');
    if (token === undefined) throw MatrixError.missingParam('Missing query parameter access_token');
    const userId = await this.tokens.userOf(token);
    if (userId === null) throw MatrixError.unknownToken('Access token unknown or expired');
    return { sub: userId };
  }
}
