/** POST /_matrix/federation/v1/user/keys/query: the device keys of local users (user_keys.yaml). */
import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { QueryFederationDeviceKeys, type FederationKeysQueryResponse } from '@hs/e2ee';
import { parseBody } from '../params';
import { keysQueryRequest } from './user-keys-request';

@Controller('_matrix/federation/v1/user/keys/query')
export class QueryUserEncryptionKeysController {
  constructor(private readonly queries: QueryBus) {}

  /** POST /_matrix/federation/v1/user/keys/query */
  @Post()
  @HttpCode(200)
  queryUserEncryptionKeys(@Body() body: unknown): Promise<FederationKeysQueryResponse> {
    const asked = parseBody(keysQueryRequest, body);
    return this.queries.execute(new QueryFederationDeviceKeys(new Map(Object.entries(asked.device_keys))));
  }
}
