/**
 * The server-server API (`/_matrix/key/*` and `/_matrix/federation/*`) as a Nest module for the
 * federation listener. The host passes the keys layer (`KeysModule.forKeys`), what the version
 * endpoint says, and any further modules of federation endpoints; every endpoint under
 * /_matrix/federation/ of the application is behind the X-Matrix guard.
 */
import { DynamicModule, Module, Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { XMatrixGuard } from './auth/x-matrix.guard';
import { KeyQueryController } from './keys/key-query.controller';
import { KeyServerController } from './keys/key-server.controller';
import { FEDERATION_API_CLOCK, FEDERATION_SERVER_VERSION, ServerVersion } from './tokens';
import { FederationVersionController } from './version/version.controller';

export interface FederationApiModuleOptions {
  /** The module providing the keys layer: `KeysModule.forKeys(keys)`. */
  keys: DynamicModule;
  server: ServerVersion;
  /** Further modules with federation endpoints (they share the guard). */
  imports?: Array<Type<unknown> | DynamicModule>;
  clock?: () => number;
}

@Module({})
export class FederationApiModule {
  static forRoot(options: FederationApiModuleOptions): DynamicModule {
    return {
      module: FederationApiModule,
      imports: [options.keys, ...(options.imports ?? [])],
      controllers: [KeyServerController, KeyQueryController, FederationVersionController],
      providers: [
        { provide: FEDERATION_API_CLOCK, useValue: options.clock ?? Date.now },
        { provide: FEDERATION_SERVER_VERSION, useValue: options.server },
        { provide: APP_GUARD, useClass: XMatrixGuard },
      ],
    };
  }
}
