/** Root modules of the homeserver's two listeners. */
import { DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule, DiscoveryOptions, HealthCheck, HealthModule, HomeserverMetrics, MetricsModule } from '@hs/http';

export interface ClientListenerDependencies {
  discovery: DiscoveryOptions;
  healthChecks: readonly HealthCheck[];
  metrics: HomeserverMetrics;
  /** The client-server API with the accounts and room modules it uses; absent serves discovery only. */
  clientApi?: DynamicModule;
}

/** The client-server API listener: discovery, versions, health, metrics and the client-server API. */
@Module({})
export class ClientListenerModule {
  static forRoot(deps: ClientListenerDependencies): DynamicModule {
    return {
      module: ClientListenerModule,
      imports: [
        DiscoveryModule.forRoot(deps.discovery),
        HealthModule.forRoot(deps.healthChecks),
        MetricsModule.forRoot(deps.metrics),
        ...(deps.clientApi ? [deps.clientApi] : []),
      ],
    };
  }
}

/** The federation (HTTPS) listener: health, the key and federation APIs, and the outbound sender. */
@Module({})
export class FederationListenerModule {
  static forRoot(deps: { healthChecks: readonly HealthCheck[]; federationApi?: DynamicModule; federationSender?: DynamicModule }): DynamicModule {
    return {
      module: FederationListenerModule,
      imports: [
        HealthModule.forRoot(deps.healthChecks),
        ...(deps.federationApi ? [deps.federationApi] : []),
        ...(deps.federationSender ? [deps.federationSender] : []),
      ],
    };
  }
}
