/**
 * Shared-secret registration as Synapse offers it (`/_synapse/admin/v1/register`): a nonce,
 * then a registration authorised by an HMAC-SHA1 of the request under the configured secret.
 */
import { Body, Controller, Get, HttpCode, Inject, Post } from '@nestjs/common';
import { SharedSecretRegistrationService } from '@hs/accounts';
import { AuditLog } from '@hs/admin';
import { parseObjectBody } from '../validation';
import { RequestId } from './server-admin';

export const SHARED_SECRET_REGISTER_PATH = '_synapse/admin/v1/register';

@Controller()
export class SharedSecretRegistrationController {
  constructor(
    private readonly sharedSecret: SharedSecretRegistrationService,
    @Inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  /** GET /_synapse/admin/v1/register */
  @Get(SHARED_SECRET_REGISTER_PATH)
  async getNonce(): Promise<{ nonce: string }> {
    return { nonce: await this.sharedSecret.issueNonce() };
  }

  /** POST /_synapse/admin/v1/register */
  @Post(SHARED_SECRET_REGISTER_PATH)
  @HttpCode(200)
  async register(@Body() body: unknown, @RequestId() requestId: string | null): Promise<{ user_id: string; access_token: string; device_id: string }> {
    const fields = body === undefined ? {} : parseObjectBody(body);
    const result = await this.sharedSecret.register(fields);
    await this.audit.record({ actor: '[shared-secret]', action: 'user.created', target: result.user_id, requestId, after: { admin: fields.admin === true } });
    return { user_id: result.user_id, access_token: result.access_token, device_id: result.device_id };
  }
}
