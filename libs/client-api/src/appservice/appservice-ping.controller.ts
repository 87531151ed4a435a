/**
 * POST /_matrix/client/v1/appservice/{appserviceId}/ping (client-server API, "Application
 * service ping"): an application service checks that the homeserver reaches it. The homeserver
 * calls the service's `POST /_matrix/app/v1/ping` and answers how long it took.
 */
import { AppServiceClient, AppServiceRegistry } from '@hs/appservice';
import { MatrixError } from '@hs/http';
import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { z } from 'zod';
import { AuthUser, RequireAuth, type AuthenticatedUser } from '../auth';
import { clientV1Paths } from '../prefixes';
import { parseBody } from '../validation';

const PingBody = z.object({ transaction_id: z.string().max(255).optional() });

@Controller()
@RequireAuth()
export class AppServicePingController {
  constructor(
    private readonly registry: AppServiceRegistry,
    private readonly client: AppServiceClient,
  ) {}

  /** POST /_matrix/client/v1/appservice/{appserviceId}/ping */
  @Post(clientV1Paths('appservice/:appserviceId/ping'))
  @HttpCode(200)
  async ping(@AuthUser() user: AuthenticatedUser, @Param('appserviceId') appserviceId: string, @Body() rawBody: unknown): Promise<{ duration_ms: number }> {
    const service = user.appServiceId === undefined ? undefined : this.registry.byId(user.appServiceId);
    if (!service || service.id !== appserviceId) throw MatrixError.forbidden('The access token is not the one of this application service');
    const body = parseBody(PingBody, rawBody);
    if (service.registration.url === null) throw new MatrixError(400, 'M_URL_NOT_SET', 'The application service has no URL');
    const started = performance.now();
    const outcome = await this.client.ping(service, body.transaction_id);
    const duration = Math.round(performance.now() - started);
    switch (outcome.kind) {
      case 'ok':
        return { duration_ms: duration };
      case 'status':
        throw new MatrixError(502, 'M_BAD_STATUS', `Ping returned status ${outcome.status}`, { status: outcome.status, body: outcome.body });
      case 'timeout':
        throw new MatrixError(504, 'M_CONNECTION_TIMEOUT', 'Connection to the application service timed out');
      default:
        throw new MatrixError(502, 'M_CONNECTION_FAILED', 'Connection to the application service failed');
    }
  }
}
