/**
 * Queries (and the one command) of the server-server API that the accounts tables answer: profiles, device lists,
 * device and one-time keys, OpenID tokens. Refusals are AccountsError (M_INVALID_PARAM for a
 * user of another server, M_NOT_FOUND for an unknown user or profile field, M_UNKNOWN_TOKEN for
 * an unknown or expired OpenID token).
 */
import { Command, Query } from '@nestjs/cqrs';
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

/** A device as GET /user/devices lists it. */
export interface FederationUserDevice {
  device_id: string;
  keys: Record<string, unknown>;
  device_display_name?: string;
}

export interface FederationUserDevices {
  user_id: string;
  stream_id: number;
  devices: FederationUserDevice[];
}

/** GET /_matrix/federation/v1/user/devices/{userId} */
export class GetFederationUserDevices extends Query<FederationUserDevices> {
  constructor(readonly userId: string) {
    super();
  }
}

/** POST /_matrix/federation/v1/user/keys/query: `deviceKeys` maps user ids to device ids (none: every device). */
export class QueryFederationDeviceKeys extends Query<{ device_keys: Record<string, Record<string, unknown>> }> {
  constructor(readonly deviceKeys: ReadonlyMap<string, readonly string[]>) {
    super();
  }
}

/**
 * POST /_matrix/federation/v1/user/keys/claim: `oneTimeKeys` maps user ids to device ids to an
 * algorithm. A command: every key it hands out is used up.
 */
export class ClaimFederationOneTimeKeys extends Command<{ one_time_keys: Record<string, Record<string, Record<string, unknown>>> }> {
  constructor(readonly oneTimeKeys: ReadonlyMap<string, ReadonlyMap<string, string>>) {
    super();
  }
}

/** GET /_matrix/federation/v1/openid/userinfo: the user an OpenID token was issued to. */
export class ExchangeOpenIdToken extends Query<{ sub: string }> {
  constructor(readonly accessToken: string) {
    super();
  }
}
