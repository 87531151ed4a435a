/**
 * Cross-signing (client-server API, "Cross-signing"): uploading the user's cross-signing keys
 * (replacing keys already held needs user-interactive authentication with the account's
 * password) and the signatures made with them. Both are also served under the `unstable`
 * prefix, which clients (and SyTest) still call.
 */
import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { UserInteractiveAuthService, accountFlows, type UiaSuccess } from '@hs/accounts';
import { CrossSigningService, type SignatureFailure } from '@hs/e2ee';
import { AuthUser, RequireAuth, type AuthenticatedUser } from '../auth';
import { clientPaths } from '../prefixes';
import { parseObjectBody } from '../validation';

function withUnstable(path: string): string[] {
  return [...clientPaths(path), `_matrix/client/unstable/${path}`];
}

@Controller()
@RequireAuth()
export class CrossSigningController {
  constructor(
    private readonly crossSigning: CrossSigningService,
    private readonly uia: UserInteractiveAuthService,
  ) {}

  /** POST /_matrix/client/v3/keys/device_signing/upload */
  @Post(withUnstable('keys/device_signing/upload'))
  @HttpCode(200)
  async uploadKeys(@AuthUser() user: AuthenticatedUser, @Body() rawBody: unknown): Promise<Record<string, never>> {
    const body = parseObjectBody(rawBody);
    let session: UiaSuccess | undefined;
    await this.crossSigning.uploadKeys(user.userId, body, async () => {
      session = await this.uia.authenticate({
        operation: 'POST /keys/device_signing/upload',
        userId: user.userId,
        flows: accountFlows(),
        auth: body.auth,
      });
    });
    if (session) await this.uia.completeSession(session.sessionId);
    return {};
  }

  /** POST /_matrix/client/v3/keys/signatures/upload */
  @Post(withUnstable('keys/signatures/upload'))
  @HttpCode(200)
  uploadSignatures(@AuthUser() user: AuthenticatedUser, @Body() rawBody: unknown): Promise<{ failures: Record<string, Record<string, SignatureFailure>> }> {
    return this.crossSigning.uploadSignatures(user.userId, parseObjectBody(rawBody));
  }
}
