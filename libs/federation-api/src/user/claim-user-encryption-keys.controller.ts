/** POST /_matrix/federation/v1/user/keys/claim: one-time keys of local users' devices (user_keys.yaml). */
import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ClaimFederationOneTimeKeys } from '@hs/e2ee';
import { parseBody } from '../params';
import { keysClaimRequest } from './user-keys-request';

@Controller('_matrix/federation/v1/user/keys/claim')
export class ClaimUserEncryptionKeysController {
  constructor(private readonly commands: CommandBus) {}

  /** POST /_matrix/federation/v1/user/keys/claim */
  @Post()
  @HttpCode(200)
  claimUserEncryptionKeys(@Body() body: unknown): Promise<{ one_time_keys: Record<string, Record<string, Record<string, unknown>>> }> {
    const asked = parseBody(keysClaimRequest, body);
    const claims = new Map(Object.entries(asked.one_time_keys).map(([userId, devices]) => [userId, new Map(Object.entries(devices))]));
    return this.commands.execute(new ClaimFederationOneTimeKeys(claims));
  }
}
