/** Nest modules of the HTTP surface shared by the homeserver's listeners. */
import { DynamicModule, Module } from '@nestjs/common';
import { HealthController, MetricsController, VersionsController, WellKnownController } from './controllers';
import { HomeserverMetrics } from './metrics';
import { DISCOVERY_OPTIONS, DiscoveryOptions, HEALTH_CHECKS, HealthCheck } from './tokens';

/** GET /health with the given checks. */
@Module({})
export class HealthModule {
  static forRoot(checks: readonly HealthCheck[]): DynamicModule {
    return { module: HealthModule, controllers: [HealthController], providers: [{ provide: HEALTH_CHECKS, useValue: checks }] };
  }
}

/** GET /metrics from the process's metrics registry. */
@Module({})
export class MetricsModule {
  static forRoot(metrics: HomeserverMetrics): DynamicModule {
    return {
      module: MetricsModule,
      controllers: [MetricsController],
      providers: [{ provide: HomeserverMetrics, useValue: metrics }],
      exports: [HomeserverMetrics],
    };
  }
}

/** GET /_matrix/client/versions and the .well-known discovery documents. */
@Module({})
export class DiscoveryModule {
  static forRoot(options: DiscoveryOptions): DynamicModule {
    return {
      module: DiscoveryModule,
      controllers: [VersionsController, WellKnownController],
      providers: [{ provide: DISCOVERY_OPTIONS, useValue: options }],
    };
  }
}
