/**
 * Shared-secret registration (`/_synapse/admin/v1/register`, as Synapse defines it): GET
 * issues a single-use nonce; POST registers a user when `mac` is the hex HMAC-SHA1, keyed
 * with the shared secret, of `nonce \0 username \0 password \0 admin|notadmin [\0 user_type]`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { DatabasePool, int, isStorableText, sql } from './db';
import { DeviceService, LoginResult } from './devices.service';
import { AccountsError } from './errors';
import { foldAsciiCase, randomString } from './identifiers';
import { ResolvedAccountsOptions } from './options';
import { UserService } from './users.service';

export interface SharedSecretMacInput {
  nonce: string;
  username: string;
  password: string;
  admin: boolean;
  userType?: string | null;
}

/** The hex HMAC-SHA1 a shared-secret registration request must carry. */
export function sharedSecretMac(secret: string, input: SharedSecretMacInput): string {
  const hmac = createHmac('sha1', Buffer.from(secret, 'utf8'));
  hmac.update(input.nonce, 'utf8');
  hmac.update('\x00');
  hmac.update(input.username, 'utf8');
  hmac.update('\x00');
  hmac.update(input.password, 'utf8');
  hmac.update('\x00');
  hmac.update(input.admin ? 'admin' : 'notadmin');
  if (input.userType !== undefined && input.userType !== null) {
    hmac.update('\x00');
    hmac.update(input.userType, 'utf8');
  }
  return hmac.digest('hex');
}

const RegisterBody = z.object({
  nonce: z.string(),
  username: z.string(),
  password: z.string(),
  mac: z.string(),
  admin: z.boolean().optional(),
  displayname: z.string().optional(),
  user_type: z.string().nullable().optional(),
});

export class SharedSecretRegistrationService {
  constructor(
    private readonly pool: DatabasePool,
    private readonly options: ResolvedAccountsOptions,
    private readonly users: UserService,
    private readonly devices: DeviceService,
  ) {}

  get enabled(): boolean {
    return this.options.registrationSharedSecret !== null && this.options.registrationSharedSecret !== '';
  }

  private requireEnabled(): string {
    const secret = this.options.registrationSharedSecret;
    if (secret === null || secret === '') {
      throw new AccountsError('M_FORBIDDEN', 'Shared secret registration is not enabled');
    }
    return secret;
  }

  /** GET /_synapse/admin/v1/register: a fresh nonce, valid once and for a limited time. */
  async issueNonce(): Promise<string> {
    this.requireEnabled();
    const now = this.options.clock();
    const nonce = randomString(32);
    await this.pool.transaction(async (tx) => {
      await tx.query(sql.unsafe`DELETE FROM accounts.shared_secret_nonces WHERE expires_ts <= ${now}`);
      await tx.query(sql.unsafe`
        INSERT INTO accounts.shared_secret_nonces (nonce, expires_ts)
        VALUES (${nonce}, ${now + this.options.sharedSecretNonceLifetimeMs})`);
    });
    return nonce;
  }

  /**
   * POST /_synapse/admin/v1/register: consumes the nonce (even when the MAC is wrong), checks
   * the MAC in constant time, registers the user and logs them in.
   */
  async register(body: unknown): Promise<LoginResult> {
    const secret = this.requireEnabled();
    const parsed = RegisterBody.safeParse(body);
    if (!parsed.success) {
      const field = parsed.error.issues[0]?.path.join('.') || 'body';
      throw new AccountsError('M_INVALID_PARAM', `Invalid or missing ${field}`);
    }
    const request = parsed.data;
    if (!isStorableText(request.nonce)) throw new AccountsError('M_UNKNOWN', 'Unrecognised nonce', { httpStatus: 400 });
    const consumed = await this.pool.maybeOneFirst(sql.type(z.object({ expires_ts: int }))`
      DELETE FROM accounts.shared_secret_nonces WHERE nonce = ${request.nonce} RETURNING expires_ts`);
    if (consumed === null || int.parse(consumed) <= this.options.clock()) {
      throw new AccountsError('M_UNKNOWN', 'Unrecognised nonce', { httpStatus: 400 });
    }
    const expected = Buffer.from(
      sharedSecretMac(secret, {
        nonce: request.nonce,
        username: request.username,
        password: request.password,
        admin: request.admin ?? false,
        userType: request.user_type,
      }),
      'utf8',
    );
    const given = Buffer.from(request.mac.toLowerCase(), 'utf8');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new AccountsError('M_FORBIDDEN', 'HMAC incorrect');
    }
    if (request.username !== foldAsciiCase(request.username)) {
      throw new AccountsError('M_INVALID_USERNAME', 'User ID may not contain upper-case letters');
    }
    const { userId } = await this.users.register({
      localpart: request.username,
      password: request.password,
      kind: 'user',
      admin: request.admin ?? false,
      displayName: request.displayname,
      userType: request.user_type ?? null,
    });
    return this.devices.issueAccessToken(userId);
  }
}
