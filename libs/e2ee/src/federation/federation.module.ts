/**
 * The e2ee queries of the federation listener as a Nest module, on the process's e2ee services
 * (the client listener's instances: one process, one set of services).
 */
import { type DynamicModule, Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { DeviceKeysService } from '../device-keys.service';
import { KeysQueryService } from '../keys-query.service';
import { E2EE_FEDERATION_HANDLERS, E2EE_FEDERATION_SERVER_NAME } from './handlers';

@Module({})
export class E2eeFederationQueriesModule {
  static forServices(services: { keys: DeviceKeysService; keysQuery: KeysQueryService; serverName: string }): DynamicModule {
    return {
      module: E2eeFederationQueriesModule,
      imports: [CqrsModule],
      providers: [
        { provide: DeviceKeysService, useValue: services.keys },
        { provide: KeysQueryService, useValue: services.keysQuery },
        { provide: E2EE_FEDERATION_SERVER_NAME, useValue: services.serverName },
        ...E2EE_FEDERATION_HANDLERS,
      ],
    };
  }
}
