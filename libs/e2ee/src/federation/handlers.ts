/**
 * The e2ee queries of the federation listener: local users' devices, device keys and one-time
 * key claims, answered from the e2ee tables by the process's e2ee services.
 */
import { CommandHandler, QueryHandler, type ICommandHandler, type IQueryHandler } from '@nestjs/cqrs';
import { Inject } from '@nestjs/common';
import { DeviceKeysService } from '../device-keys.service';
import { E2eeError } from '../errors';
import { KeysQueryService } from '../keys-query.service';
import { ClaimFederationOneTimeKeys, GetFederationUserDevices, QueryFederationDeviceKeys, type FederationKeysQueryResponse, type FederationUserDevices } from './queries';

/** Injection token of this server's name in the e2ee federation module. */
export const E2EE_FEDERATION_SERVER_NAME = 'E2EE_FEDERATION_SERVER_NAME';

function isLocal(userId: string, serverName: string): boolean {
  return userId.startsWith('@') && userId.slice(userId.indexOf(':') + 1) === serverName;
}

@QueryHandler(GetFederationUserDevices)
export class GetFederationUserDevicesHandler implements IQueryHandler<GetFederationUserDevices, FederationUserDevices> {
  constructor(
    @Inject(DeviceKeysService) private readonly keys: DeviceKeysService,
    @Inject(KeysQueryService) private readonly keysQuery: KeysQueryService,
    @Inject(E2EE_FEDERATION_SERVER_NAME) private readonly serverName: string,
  ) {}

  async execute(query: GetFederationUserDevices): Promise<FederationUserDevices> {
    if (!isLocal(query.userId, this.serverName)) throw new E2eeError('M_INVALID_PARAM', `${query.userId} is not a user of this server`);
    if (!(await this.keys.existingUsers([query.userId])).has(query.userId)) throw new E2eeError('M_NOT_FOUND', 'User not found');
    const devices = await this.keys.devicesForFederation(query.userId);
    const local = await this.keysQuery.queryLocal(undefined, new Map([[query.userId, []]]));
    const answer: FederationUserDevices = { user_id: query.userId, stream_id: devices.streamId, devices: devices.devices };
    const master = local.master_keys?.[query.userId];
    const selfSigning = local.self_signing_keys?.[query.userId];
    if (master) answer.master_key = master;
    if (selfSigning) answer.self_signing_key = selfSigning;
    return answer;
  }
}

/** Every local user asked about that exists gets an entry with their devices' keys; others are left out. */
@QueryHandler(QueryFederationDeviceKeys)
export class QueryFederationDeviceKeysHandler implements IQueryHandler<QueryFederationDeviceKeys, FederationKeysQueryResponse> {
  constructor(
    @Inject(DeviceKeysService) private readonly keys: DeviceKeysService,
    @Inject(KeysQueryService) private readonly keysQuery: KeysQueryService,
    @Inject(E2EE_FEDERATION_SERVER_NAME) private readonly serverName: string,
  ) {}

  async execute(query: QueryFederationDeviceKeys): Promise<FederationKeysQueryResponse> {
    const local = [...query.deviceKeys.keys()].filter((userId) => isLocal(userId, this.serverName));
    const existing = await this.keys.existingUsers(local);
    const wanted = new Map([...query.deviceKeys].filter(([userId]) => existing.has(userId)));
    const answer = await this.keysQuery.queryLocal(undefined, wanted);
    const response: FederationKeysQueryResponse = { device_keys: answer.device_keys };
    if (answer.master_keys) response.master_keys = answer.master_keys;
    if (answer.self_signing_keys) response.self_signing_keys = answer.self_signing_keys;
    return response;
  }
}

/** Claims for local users' devices; users of other servers are left out. */
@CommandHandler(ClaimFederationOneTimeKeys)
export class ClaimFederationOneTimeKeysHandler implements ICommandHandler<ClaimFederationOneTimeKeys, { one_time_keys: Record<string, Record<string, Record<string, unknown>>> }> {
  constructor(
    @Inject(DeviceKeysService) private readonly keys: DeviceKeysService,
    @Inject(E2EE_FEDERATION_SERVER_NAME) private readonly serverName: string,
  ) {}

  async execute(command: ClaimFederationOneTimeKeys): Promise<{ one_time_keys: Record<string, Record<string, Record<string, unknown>>> }> {
    const local = new Map([...command.oneTimeKeys].filter(([userId]) => isLocal(userId, this.serverName)));
    return { one_time_keys: await this.keys.claim(local) };
  }
}

export const E2EE_FEDERATION_HANDLERS = [GetFederationUserDevicesHandler, QueryFederationDeviceKeysHandler, ClaimFederationOneTimeKeysHandler];
