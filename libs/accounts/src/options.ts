/** Settings of the accounts layer and their defaults. */

/** The time source, in milliseconds since the Unix epoch. */
export type Clock = () => number;

export interface PasswordHashingOptions {
  /** argon2id memory cost in KiB. */
  memoryCost?: number;
  /** argon2id number of passes. */
  timeCost?: number;
  /** argon2id lanes. */
  parallelism?: number;
}

export interface AccountsOptions {
  /** The domain part of local user ids. */
  serverName: string;
  passwordHashing?: PasswordHashingOptions;
  /** Passwords shorter than this many characters are rejected with M_WEAK_PASSWORD. */
  passwordMinLength?: number;
  /** Entries of the in-memory access-token cache. */
  accessTokenCacheSize?: number;
  /** How long a cached access token is trusted before it is looked up again. */
  accessTokenCacheTtlMs?: number;
  /** How often buffered "last seen" updates of devices are written. */
  lastSeenFlushIntervalMs?: number;
  /** Lifetime of a user-interactive authentication session. */
  uiaSessionLifetimeMs?: number;
  /** Secret of shared-secret registration; null or absent turns it off. */
  registrationSharedSecret?: string | null;
  /** Lifetime of a shared-secret registration nonce. */
  sharedSecretNonceLifetimeMs?: number;
  clock?: Clock;
}

export interface ResolvedAccountsOptions {
  serverName: string;
  passwordHashing: Required<PasswordHashingOptions>;
  passwordMinLength: number;
  accessTokenCacheSize: number;
  accessTokenCacheTtlMs: number;
  lastSeenFlushIntervalMs: number;
  uiaSessionLifetimeMs: number;
  registrationSharedSecret: string | null;
  sharedSecretNonceLifetimeMs: number;
  clock: Clock;
}

/** Longest password accepted (characters); longer ones are refused before hashing. */
export const MAX_PASSWORD_LENGTH = 512;

export function resolveAccountsOptions(options: AccountsOptions): ResolvedAccountsOptions {
  if (!options.serverName) throw new Error('AccountsOptions.serverName is required');
  return {
    serverName: options.serverName,
    // OWASP's recommended argon2id minimum: 19 MiB, 2 passes, 1 lane.
    passwordHashing: {
      memoryCost: options.passwordHashing?.memoryCost ?? 19456,
      timeCost: options.passwordHashing?.timeCost ?? 2,
      parallelism: options.passwordHashing?.parallelism ?? 1,
    },
    passwordMinLength: options.passwordMinLength ?? 1,
    accessTokenCacheSize: options.accessTokenCacheSize ?? 10_000,
    accessTokenCacheTtlMs: options.accessTokenCacheTtlMs ?? 60_000,
    lastSeenFlushIntervalMs: options.lastSeenFlushIntervalMs ?? 10_000,
    uiaSessionLifetimeMs: options.uiaSessionLifetimeMs ?? 15 * 60_000,
    registrationSharedSecret: options.registrationSharedSecret ?? null,
    sharedSecretNonceLifetimeMs: options.sharedSecretNonceLifetimeMs ?? 60_000,
    clock: options.clock ?? Date.now,
  };
}
