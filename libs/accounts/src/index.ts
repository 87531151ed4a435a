/** Users, devices, access tokens, user-interactive auth, profiles, account data and filters. */
export * from './errors';
export * from './options';
export {
  assertValidLocalpart,
  assertValidDeviceId,
  generateDeviceId,
  parseUserId,
  userIdFor,
  MAX_USER_ID_BYTES,
  type LocalpartRules,
} from './identifiers';
export { PasswordHasher } from './passwords';
export type { DatabasePool, CommonQueryMethods } from './db';
export * from './devices.service';
export * from './users.service';
export { ADMIN_USER_ORDERS, type AdminUserOrder, type AdminUserQuery, type AdminUserListing } from './user-directory-admin';
export * from './registration-tokens.service';
export * from './uia.service';
export * from './shared-secret.service';
export * from './profile-rules';
export * from './profiles.service';
export * from './account-data.service';
export * from './filter-rules';
export * from './filters.service';
export * from './openid-tokens.service';
export * from './login-tokens.service';
export { createAccounts, type Accounts } from './accounts';
export {
  AccountsModule,
  DATABASE_POOL,
  ACCOUNTS_OPTIONS,
  ACCOUNTS,
  type AccountsModuleOptions,
  type AccountsModuleAsyncOptions,
} from './accounts.module';
export * from './federation-queries/queries';
export { AccountsFederationQueriesModule, type AccountsFederationQueriesDependencies } from './federation-queries/federation-queries.module';
