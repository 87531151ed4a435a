/**
 * Registration tokens (`m.login.registration_token`, registration_tokens.yaml). A token is
 * valid while it has not expired and `pending + completed < uses_allowed` (no limit when
 * `uses_allowed` is null). Completing the UIA stage reserves a pending use; a finished
 * registration turns it into a completed use; an abandoned session gives it back.
 */
import { z } from 'zod';
import { CommonQueryMethods, DatabasePool, int, nullableInt, sql } from './db';
import { AccountsError } from './errors';
import { randomString } from './identifiers';
import { ResolvedAccountsOptions } from './options';

export interface RegistrationTokenInfo {
  token: string;
  usesAllowed: number | null;
  pending: number;
  completed: number;
  expiryTs: number | null;
}

/** Token characters: unreserved URI characters, at most 64 of them. */
const TOKEN_PATTERN = /^[A-Za-z0-9._~-]{1,64}$/;

const TokenRow = z.object({
  token: z.string(),
  uses_allowed: nullableInt,
  pending: int,
  completed: int,
  expiry_ts: nullableInt,
});

function toInfo(row: unknown): RegistrationTokenInfo {
  const parsed = TokenRow.parse(row);
  return {
    token: parsed.token,
    usesAllowed: parsed.uses_allowed,
    pending: parsed.pending,
    completed: parsed.completed,
    expiryTs: parsed.expiry_ts,
  };
}

export class RegistrationTokenService {
  constructor(
    private readonly pool: DatabasePool,
    private readonly options: ResolvedAccountsOptions,
  ) {}

  /** Creates a token (random 16 characters when none is given). Throws M_INVALID_PARAM for a bad or existing token. */
  async create(input: { token?: string; usesAllowed?: number | null; expiryTs?: number | null } = {}): Promise<RegistrationTokenInfo> {
    const token = input.token ?? randomString(16);
    if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) {
      throw new AccountsError('M_INVALID_PARAM', 'Registration tokens are 1-64 characters of A-Z a-z 0-9 . _ ~ -');
    }
    const usesAllowed = this.checkUsesAllowed(input.usesAllowed ?? null);
    const expiryTs = this.checkExpiry(input.expiryTs ?? null);
    const row = await this.pool.maybeOne(sql.type(TokenRow)`
      INSERT INTO accounts.registration_tokens (token, uses_allowed, expiry_ts, created_ts)
      VALUES (${token}, ${usesAllowed}, ${expiryTs}, ${this.options.clock()})
      ON CONFLICT (token) DO NOTHING
      RETURNING token, uses_allowed, pending, completed, expiry_ts`);
    if (!row) throw new AccountsError('M_INVALID_PARAM', 'Registration token already exists');
    return toInfo(row);
  }

  /**
   * Changes the uses allowed and/or the expiry of a token (a field left undefined stays; null
   * lifts the limit). Throws M_NOT_FOUND for an unknown token, M_INVALID_PARAM for bad values.
   */
  async update(token: string, changes: { usesAllowed?: number | null; expiryTs?: number | null }): Promise<RegistrationTokenInfo> {
    if (!TOKEN_PATTERN.test(token)) throw new AccountsError('M_NOT_FOUND', 'No such registration token');
    const sets = [];
    if (changes.usesAllowed !== undefined) sets.push(sql.fragment`uses_allowed = ${this.checkUsesAllowed(changes.usesAllowed)}`);
    if (changes.expiryTs !== undefined) sets.push(sql.fragment`expiry_ts = ${this.checkExpiry(changes.expiryTs)}`);
    const row = await this.pool.maybeOne(sql.type(TokenRow)`
      UPDATE accounts.registration_tokens SET ${sets.length > 0 ? sql.join(sets, sql.fragment`, `) : sql.fragment`token = token`}
       WHERE token = ${token}
      RETURNING token, uses_allowed, pending, completed, expiry_ts`);
    if (!row) throw new AccountsError('M_NOT_FOUND', 'No such registration token');
    return toInfo(row);
  }

  private checkUsesAllowed(usesAllowed: number | null): number | null {
    if (usesAllowed !== null && (!Number.isSafeInteger(usesAllowed) || usesAllowed < 0)) {
      throw new AccountsError('M_INVALID_PARAM', 'uses_allowed must be a non-negative integer');
    }
    return usesAllowed;
  }

  private checkExpiry(expiryTs: number | null): number | null {
    if (expiryTs !== null && (!Number.isSafeInteger(expiryTs) || expiryTs <= this.options.clock())) {
      throw new AccountsError('M_INVALID_PARAM', 'expiry_time must be a future timestamp');
    }
    return expiryTs;
  }

  /** Makes sure `token` exists (with unlimited uses when created here); used for a token set in the configuration. */
  async ensure(token: string): Promise<void> {
    if (!TOKEN_PATTERN.test(token)) {
      throw new AccountsError('M_INVALID_PARAM', 'Registration tokens are 1-64 characters of A-Z a-z 0-9 . _ ~ -');
    }
    await this.pool.query(sql.unsafe`
      INSERT INTO accounts.registration_tokens (token, uses_allowed, expiry_ts, created_ts)
      VALUES (${token}, NULL, NULL, ${this.options.clock()})
      ON CONFLICT (token) DO NOTHING`);
  }

  async get(token: string): Promise<RegistrationTokenInfo | null> {
    if (!TOKEN_PATTERN.test(token)) return null;
    const row = await this.pool.maybeOne(sql.type(TokenRow)`
      SELECT token, uses_allowed, pending, completed, expiry_ts FROM accounts.registration_tokens WHERE token = ${token}`);
    return row ? toInfo(row) : null;
  }

  async list(): Promise<RegistrationTokenInfo[]> {
    const rows = await this.pool.any(sql.type(TokenRow)`
      SELECT token, uses_allowed, pending, completed, expiry_ts FROM accounts.registration_tokens ORDER BY token`);
    return rows.map(toInfo);
  }

  async delete(token: string): Promise<void> {
    if (!TOKEN_PATTERN.test(token)) throw new AccountsError('M_NOT_FOUND', 'No such registration token');
    const row = await this.pool.maybeOne(sql.unsafe`DELETE FROM accounts.registration_tokens WHERE token = ${token} RETURNING token`);
    if (!row) throw new AccountsError('M_NOT_FOUND', 'No such registration token');
  }

  /** GET /register/m.login.registration_token/validity: false for unknown, used-up or expired tokens. */
  async isValid(token: unknown): Promise<boolean> {
    if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) return false;
    const info = await this.get(token);
    return info !== null && this.usable(info);
  }

  private usable(info: RegistrationTokenInfo): boolean {
    if (info.expiryTs !== null && info.expiryTs <= this.options.clock()) return false;
    return info.usesAllowed === null || info.pending + info.completed < info.usesAllowed;
  }

  /** Reserves a pending use of `token` inside `tx` when it is valid; false otherwise. */
  async reservePendingUse(tx: CommonQueryMethods, token: string): Promise<boolean> {
    if (!TOKEN_PATTERN.test(token)) return false;
    const row = await tx.maybeOne(sql.type(TokenRow)`
      SELECT token, uses_allowed, pending, completed, expiry_ts FROM accounts.registration_tokens
      WHERE token = ${token} FOR UPDATE`);
    if (!row || !this.usable(toInfo(row))) return false;
    await tx.query(sql.unsafe`UPDATE accounts.registration_tokens SET pending = pending + 1 WHERE token = ${token}`);
    return true;
  }

  /** Gives a pending use back (the session that held it expired or was abandoned). */
  async releasePendingUse(tx: CommonQueryMethods, token: string): Promise<void> {
    await tx.query(sql.unsafe`
      UPDATE accounts.registration_tokens SET pending = GREATEST(pending - 1, 0) WHERE token = ${token}`);
  }

  /** Turns a pending use into a completed one (the registration it was reserved for succeeded). */
  async completePendingUse(tx: CommonQueryMethods, token: string): Promise<void> {
    await tx.query(sql.unsafe`
      UPDATE accounts.registration_tokens SET pending = GREATEST(pending - 1, 0), completed = completed + 1
      WHERE token = ${token}`);
  }
}
