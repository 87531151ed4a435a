/** The keys layer as a Nest module: provides the process's FederationKeys pieces to the federation API. */
import { DynamicModule, Module } from '@nestjs/common';
import type { FederationKeys } from './federation-keys';
import { FederationClient } from './federation-client';
import { KeyRing } from './key-ring';
import { OurKeys } from './our-keys';
import { RequestAuthenticator } from './request-authenticator';
import { FederationServerPolicy } from './server-policy';

@Module({})
export class KeysModule {
  static forKeys(keys: FederationKeys): DynamicModule {
    const providers = [
      { provide: OurKeys, useValue: keys.ourKeys },
      { provide: KeyRing, useValue: keys.keyRing },
      { provide: RequestAuthenticator, useValue: keys.authenticator },
      { provide: FederationClient, useValue: keys.client },
      { provide: FederationServerPolicy, useValue: keys.policy },
    ];
    return { module: KeysModule, providers, exports: providers.map((provider) => provider.provide) };
  }
}
