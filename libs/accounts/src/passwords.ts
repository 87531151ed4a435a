/** Password hashing (argon2id) and the password policy. */
import { randomBytes } from 'node:crypto';
import * as argon2 from 'argon2';
import { AccountsError } from './errors';
import { MAX_PASSWORD_LENGTH, PasswordHashingOptions } from './options';

export class PasswordHasher {
  private readonly options: Required<PasswordHashingOptions>;
  /** A hash of a random password, verified against when a user does not exist, so both cases take as long. */
  private dummyHash: Promise<string> | null = null;

  constructor(options: Required<PasswordHashingOptions>, private readonly minLength: number) {
    this.options = options;
  }

  /** Throws M_WEAK_PASSWORD / M_INVALID_PARAM unless `password` may be set as a password. */
  assertAcceptable(password: unknown): asserts password is string {
    if (typeof password !== 'string') {
      throw new AccountsError('M_INVALID_PARAM', 'Password must be a string');
    }
    if (password.length > MAX_PASSWORD_LENGTH) {
      throw new AccountsError('M_INVALID_PARAM', `Password may not be longer than ${MAX_PASSWORD_LENGTH} characters`);
    }
    if (password.length < Math.max(1, this.minLength)) {
      throw new AccountsError('M_WEAK_PASSWORD', `Password must be at least ${Math.max(1, this.minLength)} characters long`);
    }
  }

  hash(password: string): Promise<string> {
    return argon2.hash(password, { type: argon2.argon2id, ...this.options });
  }

  /** Verifies `password` against `hash`; with a null hash it burns the same time and answers false. */
  async verify(hash: string | null, password: string): Promise<boolean> {
    if (password.length > MAX_PASSWORD_LENGTH) return false;
    if (hash === null) {
      this.dummyHash ??= this.hash(randomBytes(24).toString('base64'));
      await argon2.verify(await this.dummyHash, password).catch(() => false);
      return false;
    }
    try {
      return await argon2.verify(hash, password);
    } catch {
      return false;
    }
  }
}
