/** Builds the accounts services on a slonik pool, without Nest. */
import { AccountDataService } from './account-data.service';
import { DatabasePool } from './db';
import { DeviceService } from './devices.service';
import { FilterService } from './filters.service';
import { OpenIdTokenService } from './openid-tokens.service';
import { LoginTokenService } from './login-tokens.service';
import { AccountsOptions, resolveAccountsOptions, ResolvedAccountsOptions } from './options';
import { PasswordHasher } from './passwords';
import { ProfileService } from './profiles.service';
import { RegistrationTokenService } from './registration-tokens.service';
import { SharedSecretRegistrationService } from './shared-secret.service';
import { UserInteractiveAuthService } from './uia.service';
import { UserService } from './users.service';

export interface Accounts {
  options: ResolvedAccountsOptions;
  users: UserService;
  devices: DeviceService;
  uia: UserInteractiveAuthService;
  registrationTokens: RegistrationTokenService;
  sharedSecret: SharedSecretRegistrationService;
  profiles: ProfileService;
  accountData: AccountDataService;
  filters: FilterService;
  openIdTokens: OpenIdTokenService;
  loginTokens: LoginTokenService;
  /** Writes buffered device "last seen" updates and completes the change streams. */
  close(): Promise<void>;
}

export function createAccounts(pool: DatabasePool, options: AccountsOptions): Accounts {
  const resolved = resolveAccountsOptions(options);
  const hasher = new PasswordHasher(resolved.passwordHashing, resolved.passwordMinLength);
  const devices = new DeviceService(pool, resolved);
  const users = new UserService(pool, resolved, hasher, devices);
  const registrationTokens = new RegistrationTokenService(pool, resolved);
  const uia = new UserInteractiveAuthService(pool, resolved, users, registrationTokens);
  const sharedSecret = new SharedSecretRegistrationService(pool, resolved, users, devices);
  const profiles = new ProfileService(pool);
  const accountData = new AccountDataService(pool);
  const filters = new FilterService(pool);
  const openIdTokens = new OpenIdTokenService(pool, resolved.clock);
  const loginTokens = new LoginTokenService(pool, resolved.clock);
  return {
    options: resolved,
    users,
    devices,
    uia,
    registrationTokens,
    sharedSecret,
    profiles,
    accountData,
    filters,
    openIdTokens,
    loginTokens,
    async close() {
      await devices.close();
      users.close();
      profiles.close();
      accountData.close();
    },
  };
}
