/**
 * Queries (and the one command) of the server-server API that the e2ee library answers: a
 * user's devices, device keys, one-time key claims (server-server-api.md "End-to-End
 * Encryption"). Refusals are E2eeError (M_INVALID_PARAM for a user of another server,
 * M_NOT_FOUND for an unknown user).
 */
import { Command, Query } from '@nestjs/cqrs';

/** A device as GET /user/devices lists it. */
export interface FederationUserDevice {
  device_id: string;
  keys: Record<string, unknown>;
  device_display_name?: string;
}

export interface FederationUserDevices {
  user_id: string;
  /** The position of the user's last device list change (what `prev_id` of later updates names). */
  stream_id: number;
  devices: FederationUserDevice[];
  master_key?: Record<string, unknown>;
  self_signing_key?: Record<string, unknown>;
}

/** GET /_matrix/federation/v1/user/devices/{userId} */
export class GetFederationUserDevices extends Query<FederationUserDevices> {
  constructor(readonly userId: string) {
    super();
  }
}

export interface FederationKeysQueryResponse {
  device_keys: Record<string, Record<string, unknown>>;
  master_keys?: Record<string, unknown>;
  self_signing_keys?: Record<string, unknown>;
}

/** POST /_matrix/federation/v1/user/keys/query: `deviceKeys` maps user ids to device ids (none: every device). */
export class QueryFederationDeviceKeys extends Query<FederationKeysQueryResponse> {
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
