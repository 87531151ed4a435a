/**
 * The client-server API (`/_matrix/client/*`) as a Nest module. The host passes the
 * configuration and the modules that provide the accounts services (`AccountsModule`), the key
 * backup service (`KeyBackupModule`) and the command and query buses with the room handlers
 * (`CqrsModule`, `RoomModule`, the sync read side); they are made visible to every controller
 * of the client API.
 */
import { AppServiceClient, AppServiceRegistry } from '@hs/appservice';
import { DynamicModule, Global, Module, Type } from '@nestjs/common';
import { AccountController } from './account/account.controller';
import { LoginController } from './account/login.controller';
import { RegistrationController } from './account/registration.controller';
import { AccountDataController } from './account-data/account-data.controller';
import { SharedSecretRegistrationController } from './admin/shared-secret-registration.controller';
import { AdminRoomsController } from './admin/admin-rooms.controller';
import { AdminUsersController } from './admin/admin-users.controller';
import { AuditController } from './admin/audit.controller';
import { ProjectionsController } from './admin/projections.controller';
import { EventReportsController } from './admin/event-reports.controller';
import { RegistrationTokensController } from './admin/registration-tokens.controller';
import { ServerAdminGuard } from './admin/server-admin';
import { WhoisController } from './admin/whois.controller';
import { AppServicePingController } from './appservice/appservice-ping.controller';
import { ThirdPartyController } from './appservice/third-party.controller';
import { AppServiceQueries } from './appservice/appservice-queries';
import { AccessTokenGuard } from './auth/access-token.guard';
import { CapabilitiesController } from './capabilities/capabilities.controller';
import { DevicesController } from './devices/devices.controller';
import { FiltersController } from './filters/filters.controller';
import { OpenIdUserInfoController, RequestOpenIdTokenController } from './openid/request-openid-token.controller';
import { PresenceController } from './presence/presence.controller';
import { ProfileController } from './profile/profile.controller';
import { PushRulesController } from './push-rules/push-rules.controller';
import { PushRulesService } from './push-rules/push-rules.service';
import { NotificationsController } from './push/notifications.controller';
import { PushersController } from './push/pushers.controller';
import { CrossSigningController } from './keys/cross-signing.controller';
import { DehydratedDeviceController } from './keys/dehydrated-device.controller';
import { KeysController } from './keys/keys.controller';
import { MediaAdminController } from './media/media-admin.controller';
import { MediaController } from './media/media.controller';
import { ReportContentController } from './reporting/report-content.controller';
import { RoomKeysController } from './room-keys/room-keys.controller';
import { SearchController } from './search/search.controller';
import { RoomsApiModule } from './rooms/rooms-api.module';
import { CLIENT_API_CONFIG, ClientApiConfig } from './config';
import { RATE_LIMIT_CLOCK, RATE_LIMIT_CONFIG, RateLimiter } from './rate-limit/rate-limiter';
import { RateLimitGuard } from './rate-limit/rate-limit.guard';
import { GuestAccessRevocation } from './rooms/guest-access';

export interface ClientApiModuleOptions {
  config: ClientApiConfig;
  /**
   * Modules exporting the accounts and key backup services, the CQRS buses, the room/sync
   * handlers and the administration services (`AdminModule`).
   */
  imports: Array<Type<unknown> | DynamicModule>;
  /** The clock of the rate limits (ms since the epoch); Date.now by default. */
  clock?: () => number;
  /** The application services of the server and the client that talks to them (none by default). */
  appServices?: { registry: AppServiceRegistry; client: AppServiceClient };
}

/** Shares the host's modules, the guards and the rate limiter with every client API module. */
@Global()
@Module({})
export class ClientApiCoreModule {
  static forRoot(options: ClientApiModuleOptions): DynamicModule {
    const imports = options.imports;
    return {
      module: ClientApiCoreModule,
      imports,
      providers: [
        { provide: CLIENT_API_CONFIG, useValue: options.config },
        { provide: RATE_LIMIT_CONFIG, useValue: options.config.rate_limits },
        { provide: RATE_LIMIT_CLOCK, useValue: options.clock ?? Date.now },
        { provide: AppServiceRegistry, useValue: options.appServices?.registry ?? new AppServiceRegistry([], options.config.server_name) },
        { provide: AppServiceClient, useValue: options.appServices?.client ?? new AppServiceClient() },
        AppServiceQueries,
        RateLimiter,
        AccessTokenGuard,
        ServerAdminGuard,
        RateLimitGuard,
        GuestAccessRevocation,
      ],
      exports: [...imports, CLIENT_API_CONFIG, AppServiceRegistry, AppServiceClient, AppServiceQueries, RateLimiter, AccessTokenGuard, ServerAdminGuard, RateLimitGuard, GuestAccessRevocation],
    };
  }
}

@Module({})
export class ClientApiModule {
  static forRoot(options: ClientApiModuleOptions): DynamicModule {
    return {
      module: ClientApiModule,
      imports: [ClientApiCoreModule.forRoot(options), RoomsApiModule],
      providers: [PushRulesService],
      controllers: [
        RegistrationController,
        LoginController,
        AccountController,
        DevicesController,
        ProfileController,
        PresenceController,
        AccountDataController,
        FiltersController,
        CapabilitiesController,
        PushRulesController,
        PushersController,
        NotificationsController,
        SharedSecretRegistrationController,
        WhoisController,
        RequestOpenIdTokenController,
        OpenIdUserInfoController,
        KeysController,
        DehydratedDeviceController,
        CrossSigningController,
        RoomKeysController,
        MediaController,
        MediaAdminController,
        SearchController,
        AdminUsersController,
        AdminRoomsController,
        RegistrationTokensController,
        EventReportsController,
        AuditController,
        ProjectionsController,
        ReportContentController,
        AppServicePingController,
        ThirdPartyController,
      ],
    };
  }
}
