/**
 * Shared-secret registration as Synapse offers it (`/_synapse/admin/v1/register`): a nonce,
 * then a registration authorised by an HMAC-SHA1 of the request under the configured secret.
 */
import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { SharedSecretRegistrationService } from '@hs/accounts';
import { parseObjectBody } from '../validation';

export const SHARED_SECRET_REGISTER_PATH = '_synapse/admin/v1/register';

@Controller()
export class SharedSecretRegistrationController {
  constructor(private readonly sharedSecret: SharedSecretRegistrationService) {}

  /** GET /_synapse/admin/v1/register */
  @Get(SHARED_SECRET_REGISTER_PATH)
  async getNonce(): Promise<{ nonce: string }> {
    return { nonce: await this.sharedSecret.issueNonce() };
  }

  /** POST /_synapse/admin/v1/register */
  @Post(SHARED_SECRET_REGISTER_PATH)
  @HttpCode(200)
  async register(@Body() body: unknown): Promise<{ user_id: string; access_token: string; device_id: string }> {
    const result = await this.sharedSecret.register(body === undefined ? {} : parseObjectBody(body));
    return { user_id: result.user_id, access_token: result.access_token, device_id: result.device_id };
  }
}
