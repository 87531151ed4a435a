/** The Nest module of the e2ee library: device keys, cross-signing, key queries, to-device messages and dehydrated devices on the pool under 'DATABASE_POOL'. */
import { DynamicModule, Inject, Injectable, Module, type ModuleMetadata, type OnApplicationShutdown } from '@nestjs/common';
import { CrossSigningService } from './cross-signing';
import type { DatabasePool } from './db';
import { DehydratedDeviceService } from './dehydrated-device.service';
import { DeviceKeysService } from './device-keys.service';
import { KeysQueryService } from './keys-query.service';
import { ToDeviceService } from './to-device.service';

/** Injection token of the e2ee settings. */
export const E2EE_OPTIONS = 'E2EE_OPTIONS';

export interface E2eeModuleOptions {
  serverName: string;
  clock?: () => number;
  warn?: (message: string) => void;
}

@Injectable()
class E2eeLifecycle implements OnApplicationShutdown {
  constructor(@Inject(DeviceKeysService) private readonly keys: DeviceKeysService) {}

  onApplicationShutdown(): void {
    this.keys.close();
  }
}

@Module({})
export class E2eeModule {
  /** `imports` provide the slonik pool under the string token 'DATABASE_POOL'. */
  static forRoot(options: E2eeModuleOptions, imports: ModuleMetadata['imports'] = []): DynamicModule {
    return {
      module: E2eeModule,
      imports,
      providers: [
        { provide: E2EE_OPTIONS, useValue: options },
        { provide: DeviceKeysService, useFactory: (pool: DatabasePool) => new DeviceKeysService(pool, options.clock), inject: ['DATABASE_POOL'] },
        {
          provide: ToDeviceService,
          useFactory: (pool: DatabasePool, keys: DeviceKeysService) => new ToDeviceService(pool, keys, options.serverName, options.clock, options.warn),
          inject: ['DATABASE_POOL', DeviceKeysService],
        },
        {
          provide: CrossSigningService,
          useFactory: (pool: DatabasePool, keys: DeviceKeysService) => new CrossSigningService(pool, keys, options.clock),
          inject: ['DATABASE_POOL', DeviceKeysService],
        },
        {
          provide: KeysQueryService,
          useFactory: (keys: DeviceKeysService, crossSigning: CrossSigningService) => {
            const query = new KeysQueryService(keys, options.serverName);
            query.setCrossSigning(crossSigning);
            return query;
          },
          inject: [DeviceKeysService, CrossSigningService],
        },
        { provide: DehydratedDeviceService, useFactory: (pool: DatabasePool) => new DehydratedDeviceService(pool, options.clock), inject: ['DATABASE_POOL'] },
        E2eeLifecycle,
      ],
      exports: [DeviceKeysService, ToDeviceService, KeysQueryService, CrossSigningService, DehydratedDeviceService, E2EE_OPTIONS],
    };
  }
}
