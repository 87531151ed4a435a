/**
 * Queries of the server-server API that the accounts tables answer: profiles and OpenID tokens
 * (device lists and keys are the e2ee library's). Refusals are AccountsError (M_INVALID_PARAM for a
 * user of another server, M_NOT_FOUND for an unknown user or profile field, M_UNKNOWN_TOKEN for
 * an unknown or expired OpenID token).
 */
import { Query } from '@nestjs/cqrs';
import type { JsonValue } from '../profile-rules';

/** GET /_matrix/federation/v1/query/profile: the whole profile, or only `field`. */
export class GetFederationProfile extends Query<Record<string, JsonValue>> {
  constructor(
    readonly userId: string,
    readonly field?: string,
  ) {
    super();
  }
}

/** GET /_matrix/federation/v1/openid/userinfo: the user an OpenID token was issued to. */
export class ExchangeOpenIdToken extends Query<{ sub: string }> {
  constructor(readonly accessToken: string) {
    super();
  }
}
