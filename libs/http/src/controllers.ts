/** Endpoints every homeserver process answers: discovery, versions, health and metrics. */
import { Controller, Get, Header, HttpCode, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { MatrixError } from './matrix-error';
import { HomeserverMetrics } from './metrics';
import { CLIENT_SPEC_VERSIONS, UNSTABLE_FEATURES } from './spec-versions';
import { DISCOVERY_OPTIONS, DiscoveryOptions, HEALTH_CHECKS, HealthCheck } from './tokens';

/** GET /_matrix/client/versions */
@Controller('_matrix/client/versions')
export class VersionsController {
  @Get()
  getVersions(): { versions: string[]; unstable_features: Record<string, boolean> } {
    return { versions: [...CLIENT_SPEC_VERSIONS], unstable_features: { ...UNSTABLE_FEATURES } };
  }
}

/** GET /.well-known/matrix/client and GET /.well-known/matrix/server */
@Controller('.well-known/matrix')
export class WellKnownController {
  constructor(@Inject(DISCOVERY_OPTIONS) private readonly options: DiscoveryOptions) {}

  /** GET /.well-known/matrix/client */
  @Get('client')
  getClientWellKnown(): Record<string, unknown> {
    return { 'm.homeserver': { base_url: this.options.publicBaseUrl } };
  }

  /** GET /.well-known/matrix/server */
  @Get('server')
  getServerWellKnown(): Record<string, unknown> {
    if (this.options.serverDelegation === null) throw MatrixError.notFound('No server delegation is published');
    return { 'm.server': this.options.serverDelegation };
  }
}

export interface HealthReport {
  /** `degraded`: everything answers, but a check reports trouble (e.g. a lagging read model). */
  status: 'ok' | 'degraded' | 'unavailable';
  checks: Record<string, string>;
}

const HEALTH_CHECK_TIMEOUT_MS = 5000;

async function runCheck(check: HealthCheck): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${HEALTH_CHECK_TIMEOUT_MS} ms`)), HEALTH_CHECK_TIMEOUT_MS);
  });
  try {
    const outcome = await Promise.race([check.check(), timeout]);
    return outcome ? `degraded: ${outcome.degraded}` : 'ok';
  } catch (error) {
    return `failed: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    clearTimeout(timer);
  }
}

/** GET /health: 200 when every dependency answers (`ok`, or `degraded` with the reason), else 503. */
@Controller('health')
export class HealthController {
  constructor(@Inject(HEALTH_CHECKS) private readonly checks: readonly HealthCheck[]) {}

  @Get()
  async getHealth(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthReport> {
    const results = await Promise.all(this.checks.map(async (check) => [check.name, await runCheck(check)] as const));
    const available = results.every(([, result]) => result === 'ok' || result.startsWith('degraded'));
    const healthy = results.every(([, result]) => result === 'ok');
    reply.status(available ? 200 : 503);
    return { status: healthy ? 'ok' : available ? 'degraded' : 'unavailable', checks: Object.fromEntries(results) };
  }
}

/** GET /metrics (Prometheus text format) */
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: HomeserverMetrics) {}

  @Get()
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  async getMetrics(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const { contentType, body } = await this.metrics.render();
    reply.type(contentType);
    return body;
  }
}
