/** The Nest module of the accounts layer: provides each service, built on the pool under DATABASE_POOL. */
import {
  DynamicModule,
  Inject,
  Injectable,
  Module,
  ModuleMetadata,
  OnApplicationShutdown,
  OnModuleInit,
  Provider,
} from '@nestjs/common';
import { AccountDataService } from './account-data.service';
import { Accounts, createAccounts } from './accounts';
import { DatabasePool } from './db';
import { DeviceService } from './devices.service';
import { FilterService } from './filters.service';
import { OpenIdTokenService } from './openid-tokens.service';
import { LoginTokenService } from './login-tokens.service';
import { AccountsOptions } from './options';
import { ProfileService } from './profiles.service';
import { RegistrationTokenService } from './registration-tokens.service';
import { SharedSecretRegistrationService } from './shared-secret.service';
import { UserInteractiveAuthService } from './uia.service';
import { UserService } from './users.service';

/** Injection token of the slonik `DatabasePool` the accounts services use. */
export const DATABASE_POOL = 'DATABASE_POOL';
/** Injection token of the `AccountsModuleOptions`. */
export const ACCOUNTS_OPTIONS = 'ACCOUNTS_OPTIONS';
/** Injection token of the `Accounts` bundle (all services together). */
export const ACCOUNTS = 'ACCOUNTS';

export interface AccountsModuleOptions extends AccountsOptions {
  /** A registration token from the configuration, created (unlimited uses) at start-up. */
  registrationToken?: string | null;
}

export interface AccountsModuleAsyncOptions {
  /** Modules that provide DATABASE_POOL and whatever `useFactory` injects. */
  imports?: ModuleMetadata['imports'];
  inject?: Array<string | symbol | (abstract new (...args: never[]) => unknown)>;
  useFactory: (...args: never[]) => AccountsModuleOptions | Promise<AccountsModuleOptions>;
}

/** Starts the "last seen" flusher and seeds the configured registration token; flushes on shutdown. */
@Injectable()
class AccountsLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(ACCOUNTS) private readonly accounts: Accounts,
    @Inject(ACCOUNTS_OPTIONS) private readonly options: AccountsModuleOptions,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.options.registrationToken) await this.accounts.registrationTokens.ensure(this.options.registrationToken);
    this.accounts.devices.startLastSeenFlusher();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.accounts.close();
  }
}

const serviceProviders: Provider[] = [
  { provide: UserService, useFactory: (a: Accounts) => a.users, inject: [ACCOUNTS] },
  { provide: DeviceService, useFactory: (a: Accounts) => a.devices, inject: [ACCOUNTS] },
  { provide: UserInteractiveAuthService, useFactory: (a: Accounts) => a.uia, inject: [ACCOUNTS] },
  { provide: RegistrationTokenService, useFactory: (a: Accounts) => a.registrationTokens, inject: [ACCOUNTS] },
  { provide: SharedSecretRegistrationService, useFactory: (a: Accounts) => a.sharedSecret, inject: [ACCOUNTS] },
  { provide: ProfileService, useFactory: (a: Accounts) => a.profiles, inject: [ACCOUNTS] },
  { provide: AccountDataService, useFactory: (a: Accounts) => a.accountData, inject: [ACCOUNTS] },
  { provide: FilterService, useFactory: (a: Accounts) => a.filters, inject: [ACCOUNTS] },
  { provide: OpenIdTokenService, useFactory: (a: Accounts) => a.openIdTokens, inject: [ACCOUNTS] },
  { provide: LoginTokenService, useFactory: (a: Accounts) => a.loginTokens, inject: [ACCOUNTS] },
];

const exported = [
  ACCOUNTS,
  UserService,
  DeviceService,
  UserInteractiveAuthService,
  RegistrationTokenService,
  SharedSecretRegistrationService,
  ProfileService,
  AccountDataService,
  FilterService,
  OpenIdTokenService,
  LoginTokenService,
];

@Module({})
export class AccountsModule {
  /** With fixed options; DATABASE_POOL must be provided by one of `imports` or a global module. */
  static forRoot(options: AccountsModuleOptions, imports: ModuleMetadata['imports'] = []): DynamicModule {
    return AccountsModule.build([{ provide: ACCOUNTS_OPTIONS, useValue: options }], imports);
  }

  /** With options computed from other providers (e.g. the homeserver configuration). */
  static forRootAsync(options: AccountsModuleAsyncOptions): DynamicModule {
    return AccountsModule.build(
      [{ provide: ACCOUNTS_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] }],
      options.imports ?? [],
    );
  }

  private static build(optionsProviders: Provider[], imports: ModuleMetadata['imports']): DynamicModule {
    return {
      module: AccountsModule,
      imports,
      providers: [
        ...optionsProviders,
        {
          provide: ACCOUNTS,
          useFactory: (pool: DatabasePool, options: AccountsModuleOptions) => createAccounts(pool, options),
          inject: [DATABASE_POOL, ACCOUNTS_OPTIONS],
        },
        ...serviceProviders,
        AccountsLifecycle,
      ],
      exports: exported,
    };
  }
}
