/**
 * Local user accounts: registration, username availability, passwords, password login,
 * deactivation and the admin flag.
 */
import { Observable, Subject } from 'rxjs';
import { z } from 'zod';
import { DatabasePool, int, isStorableText, sql } from './db';
import { DeviceService, LoginResult } from './devices.service';
import { AccountsError } from './errors';
import { assertValidLocalpart, foldAsciiCase, parseUserId, userIdFor } from './identifiers';
import { ResolvedAccountsOptions } from './options';
import { PasswordHasher } from './passwords';
import { assertDisplayName } from './profile-rules';
import { listUsersForAdmin, type AdminUserListing, type AdminUserQuery } from './user-directory-admin';

export type AccountKind = 'user' | 'guest';

export interface RegisterRequest {
  /** The desired localpart; generated when absent (always generated for guests). */
  localpart?: string;
  /** The password; absent or null registers an account without one (guests never have one). */
  password?: string | null;
  /** Instead of `password`: its hash, from `hashPassword`. */
  passwordHash?: string;
  kind?: AccountKind;
  /** Initial display name; defaults to the localpart for `user` accounts. Ignored for guests. */
  displayName?: string | null;
  admin?: boolean;
  /** Server-defined user type (e.g. `support`, `bot`), recorded as given. */
  userType?: string | null;
  /** Registered by an application service (in its namespace): the localpart may start with `_`. */
  appService?: boolean;
}

export interface UserRecord {
  userId: string;
  localpart: string;
  kind: AccountKind;
  isAdmin: boolean;
  userType: string | null;
  deactivated: boolean;
  hasPassword: boolean;
  createdTs: number;
}

export interface UserChange {
  userId: string;
  change: 'registered' | 'upgraded' | 'password_changed' | 'deactivated' | 'admin_changed';
}

export interface PasswordLoginRequest {
  /** `m.id.user` identifier: a localpart or a full user id of this server. */
  user: string;
  password: string;
  deviceId?: string;
  initialDeviceDisplayName?: string;
}

const UserRow = z.object({
  user_id: z.string(),
  localpart: z.string(),
  kind: z.enum(['user', 'guest']),
  is_admin: z.boolean(),
  user_type: z.string().nullable(),
  deactivated: z.boolean(),
  has_password: z.boolean(),
  created_ts: int,
});

const PasswordRow = z.object({ password_hash: z.string().nullable(), deactivated: z.boolean() });

export class UserService {
  private readonly changesSubject = new Subject<UserChange>();
  /** Accounts registered, deactivated, given a new password or admin flag (after commit). */
  readonly changes: Observable<UserChange> = this.changesSubject.asObservable();

  constructor(
    private readonly pool: DatabasePool,
    private readonly options: ResolvedAccountsOptions,
    private readonly hasher: PasswordHasher,
    private readonly devices: DeviceService,
  ) {}

  get serverName(): string {
    return this.options.serverName;
  }

  userIdFor(localpart: string): string {
    return userIdFor(localpart, this.options.serverName);
  }

  isLocalUserId(userId: string): boolean {
    return parseUserId(userId)?.serverName === this.options.serverName;
  }

  /**
   * Maps a requested username onto a localpart: ASCII letters lower-cased (nothing else is
   * folded), then checked against the localpart grammar (throws M_INVALID_USERNAME).
   */
  normalizeUsername(username: unknown, rules: { allowUnderscore?: boolean } = {}): string {
    if (typeof username !== 'string') throw new AccountsError('M_INVALID_USERNAME', 'Username must be a string');
    const localpart = foldAsciiCase(username);
    assertValidLocalpart(localpart, this.options.serverName, rules);
    return localpart;
  }

  /** The hash of a password the policy accepts (throws M_WEAK_PASSWORD / M_INVALID_PARAM), for `register`. */
  hashPassword(password: unknown): Promise<string> {
    this.hasher.assertAcceptable(password);
    return this.hasher.hash(password);
  }

  /** GET /register/available: true, or throws M_INVALID_USERNAME / M_USER_IN_USE. */
  async isUsernameAvailable(username: unknown): Promise<true> {
    const localpart = this.normalizeUsername(username);
    const taken = await this.pool.exists(sql.unsafe`SELECT 1 FROM accounts.users WHERE localpart = ${localpart}`);
    if (taken) throw new AccountsError('M_USER_IN_USE', 'User ID already taken.');
    return true;
  }

  /**
   * Creates an account. Throws M_INVALID_USERNAME, M_USER_IN_USE (also when another
   * registration of the same name wins a race), M_WEAK_PASSWORD or M_INVALID_PARAM.
   */
  async register(request: RegisterRequest): Promise<{ userId: string }> {
    const kind: AccountKind = request.kind ?? 'user';
    if (kind !== 'user' && kind !== 'guest') throw new AccountsError('M_INVALID_PARAM', 'Unknown account kind');
    const password = kind === 'guest' ? null : request.password ?? null;
    if (password !== null) this.hasher.assertAcceptable(password);
    if (password !== null && request.passwordHash !== undefined) throw new Error('register takes a password or its hash, not both');
    // A guest's display name is its number, whatever was asked.
    const displayName = kind === 'guest' ? undefined : request.displayName;
    if (displayName !== undefined && displayName !== null) assertDisplayName(displayName);
    const userType = request.userType ?? null;
    if (userType !== null && (!isStorableText(userType) || userType.length === 0 || userType.length > 64)) {
      throw new AccountsError('M_INVALID_PARAM', 'Invalid user type');
    }
    const requested = kind === 'guest' || request.localpart === undefined ? null : this.normalizeUsername(request.localpart, { allowUnderscore: request.appService === true });
    const passwordHash = password === null ? (kind === 'guest' ? null : request.passwordHash ?? null) : await this.hasher.hash(password);

    for (let attempt = 0; attempt < 100; attempt++) {
      const localpart = requested ?? (await this.nextGeneratedLocalpart());
      const userId = this.userIdFor(localpart);
      const created = await this.pool.transaction(async (tx) => {
        const row = await tx.maybeOne(sql.unsafe`
          INSERT INTO accounts.users (user_id, localpart, password_hash, kind, is_admin, user_type, created_ts)
          VALUES (${userId}, ${localpart}, ${passwordHash}, ${kind}, ${request.admin ?? false}, ${userType}, ${this.options.clock()})
          ON CONFLICT DO NOTHING
          RETURNING user_id`);
        if (!row) return false;
        const initialName = displayName === undefined ? localpart : displayName;
        if (initialName !== null) {
          await tx.query(sql.unsafe`
            INSERT INTO accounts.profile_fields (user_id, field, value)
            VALUES (${userId}, 'displayname', ${sql.jsonb(initialName)})`);
        }
        return true;
      });
      if (created) {
        this.changesSubject.next({ userId, change: 'registered' });
        return { userId };
      }
      if (requested !== null) throw new AccountsError('M_USER_IN_USE', 'User ID already taken.');
    }
    throw new AccountsError('M_UNKNOWN', 'Could not allocate a user ID');
  }

  private async nextGeneratedLocalpart(): Promise<string> {
    const value = await this.pool.oneFirst(sql.type(z.object({ id: int }))`
      SELECT nextval('accounts.generated_localpart_seq')::text AS id`);
    const localpart = String(int.parse(value));
    assertValidLocalpart(localpart, this.options.serverName, { allowNumeric: true });
    return localpart;
  }

  async getUser(userId: string): Promise<UserRecord | null> {
    if (!isStorableText(userId)) return null;
    const row = await this.pool.maybeOne(sql.type(UserRow)`
      SELECT user_id, localpart, kind, is_admin, user_type, deactivated,
             password_hash IS NOT NULL AS has_password, created_ts
      FROM accounts.users WHERE user_id = ${userId}`);
    if (!row) return null;
    const user = UserRow.parse(row);
    return {
      userId: user.user_id,
      localpart: user.localpart,
      kind: user.kind,
      isAdmin: user.is_admin,
      userType: user.user_type,
      deactivated: user.deactivated,
      hasPassword: user.has_password,
      createdTs: user.created_ts,
    };
  }

  /** Which of `userIds` are guest accounts of this server. */
  async guestsAmong(userIds: readonly string[]): Promise<string[]> {
    const local = userIds.filter(isStorableText);
    if (local.length === 0) return [];
    const rows = await this.pool.anyFirst(sql.type(z.object({ user_id: z.string() }))`
      SELECT user_id FROM accounts.users WHERE user_id = ANY(${sql.array(local, 'text')}) AND kind = 'guest'`);
    return [...rows];
  }

  /**
   * Turns the guest account `userId` into a full account with this password (client-server
   * API, "Guest Access": registering with the guest's access token). Throws M_INVALID_PARAM /
   * M_WEAK_PASSWORD for a password the policy refuses, M_FORBIDDEN when the account is not an
   * active guest.
   */
  async upgradeGuest(userId: string, password: { password: string } | { passwordHash: string }): Promise<void> {
    let passwordHash: string;
    if ('password' in password) {
      this.hasher.assertAcceptable(password.password);
      passwordHash = await this.hasher.hash(password.password);
    } else {
      passwordHash = password.passwordHash;
    }
    const upgraded = await this.pool.transaction(async (tx) => {
      const row = await tx.maybeOne(sql.type(z.object({ localpart: z.string() }))`
        UPDATE accounts.users SET kind = 'user', password_hash = ${passwordHash}
         WHERE user_id = ${userId} AND kind = 'guest' AND NOT deactivated
        RETURNING localpart`);
      if (!row) return false;
      // A full account starts with its localpart as display name unless the guest set one.
      await tx.query(sql.unsafe`
        INSERT INTO accounts.profile_fields (user_id, field, value)
        VALUES (${userId}, 'displayname', ${sql.jsonb(row.localpart)})
        ON CONFLICT DO NOTHING`);
      return true;
    });
    if (!upgraded) throw new AccountsError('M_FORBIDDEN', 'This account is not a guest account');
    this.changesSubject.next({ userId, change: 'upgraded' });
  }

  /** Throws M_NOT_FOUND when there is no such local account. */
  async requireUser(userId: string): Promise<UserRecord> {
    const user = await this.getUser(userId);
    if (!user) throw new AccountsError('M_NOT_FOUND', 'User not found');
    return user;
  }

  /**
   * The user id a login identifier names: a localpart or a full user id of this server, its
   * ASCII letters lower-cased. Null when it cannot name a local account.
   */
  resolveLoginUser(user: unknown): string | null {
    if (typeof user !== 'string' || user.length === 0) return null;
    let localpart = user;
    if (user.startsWith('@')) {
      const parsed = parseUserId(user);
      if (!parsed || parsed.serverName !== this.options.serverName) return null;
      localpart = parsed.localpart;
    }
    localpart = foldAsciiCase(localpart);
    try {
      assertValidLocalpart(localpart, this.options.serverName, { allowNumeric: true });
    } catch {
      return null;
    }
    return this.userIdFor(localpart);
  }

  /** True when `password` is the password of the active account `userId`. */
  async checkPassword(userId: string, password: string): Promise<boolean> {
    if (typeof password !== 'string') return false;
    if (!isStorableText(userId)) return this.hasher.verify(null, password);
    const row = await this.pool.maybeOne(sql.type(PasswordRow)`
      SELECT password_hash, deactivated FROM accounts.users WHERE user_id = ${userId}`);
    const parsed = row ? PasswordRow.parse(row) : null;
    const hash = parsed && !parsed.deactivated ? parsed.password_hash : null;
    return this.hasher.verify(hash, password);
  }

  /**
   * POST /login with `m.login.password`. Throws M_FORBIDDEN for a wrong user or password and
   * M_USER_DEACTIVATED for a deactivated account.
   */
  async login(request: PasswordLoginRequest): Promise<LoginResult> {
    const userId = this.resolveLoginUser(request.user);
    const row = userId
      ? await this.pool.maybeOne(sql.type(PasswordRow)`
          SELECT password_hash, deactivated FROM accounts.users WHERE user_id = ${userId}`)
      : null;
    const account = row ? PasswordRow.parse(row) : null;
    if (account?.deactivated) {
      throw new AccountsError('M_USER_DEACTIVATED', 'This account has been deactivated');
    }
    const ok = await this.hasher.verify(account?.password_hash ?? null, typeof request.password === 'string' ? request.password : '');
    if (!ok || !userId) throw new AccountsError('M_FORBIDDEN', 'Invalid username or password');
    return this.devices.issueAccessToken(userId, {
      deviceId: request.deviceId,
      initialDisplayName: request.initialDeviceDisplayName,
    });
  }

  /**
   * Sets a new password. Unless `logoutDevices` is false, every other device (all but
   * `exceptDeviceId`, the one making the request) is deleted with its tokens.
   */
  async changePassword(
    userId: string,
    newPassword: string,
    options: { logoutDevices?: boolean; exceptDeviceId?: string } = {},
  ): Promise<void> {
    this.hasher.assertAcceptable(newPassword);
    if (!isStorableText(userId)) throw new AccountsError('M_NOT_FOUND', 'User not found');
    const hash = await this.hasher.hash(newPassword);
    const updated = await this.pool.maybeOne(sql.unsafe`
      UPDATE accounts.users SET password_hash = ${hash}
      WHERE user_id = ${userId} AND NOT deactivated AND kind = 'user'
      RETURNING user_id`);
    if (!updated) throw new AccountsError('M_FORBIDDEN', 'This account cannot change its password');
    if (options.logoutDevices !== false) {
      await this.devices.deleteAllDevices(userId, { exceptDeviceId: options.exceptDeviceId });
    }
    this.changesSubject.next({ userId, change: 'password_changed' });
  }

  /**
   * Deactivates an account: erases its password and profile, marks it deactivated (it can
   * never log in again), deletes its devices and access tokens and pending auth sessions.
   * With `erase`, its account data and filters are deleted as well.
   */
  async deactivate(userId: string, options: { erase?: boolean } = {}): Promise<void> {
    if (!isStorableText(userId)) throw new AccountsError('M_NOT_FOUND', 'User not found');
    const found = await this.pool.transaction(async (tx) => {
      const row = await tx.maybeOne(sql.unsafe`
        UPDATE accounts.users SET deactivated = TRUE, password_hash = NULL, is_admin = FALSE
        WHERE user_id = ${userId} RETURNING user_id`);
      if (!row) return false;
      await tx.query(sql.unsafe`DELETE FROM accounts.profile_fields WHERE user_id = ${userId}`);
      await tx.query(sql.unsafe`DELETE FROM accounts.uia_sessions WHERE user_id = ${userId}`);
      if (options.erase) {
        await tx.query(sql.unsafe`DELETE FROM accounts.account_data WHERE user_id = ${userId}`);
        await tx.query(sql.unsafe`DELETE FROM accounts.filters WHERE user_id = ${userId}`);
      }
      return true;
    });
    if (!found) throw new AccountsError('M_NOT_FOUND', 'User not found');
    this.devices.invalidateCachedUser(userId);
    await this.devices.deleteAllDevices(userId);
    this.changesSubject.next({ userId, change: 'deactivated' });
  }

  async setAdmin(userId: string, isAdmin: boolean): Promise<void> {
    if (!isStorableText(userId)) throw new AccountsError('M_NOT_FOUND', 'User not found');
    const row = await this.pool.maybeOne(sql.unsafe`
      UPDATE accounts.users SET is_admin = ${isAdmin} WHERE user_id = ${userId} AND NOT deactivated RETURNING user_id`);
    if (!row) throw new AccountsError('M_NOT_FOUND', 'User not found');
    this.changesSubject.next({ userId, change: 'admin_changed' });
  }

  /** GET /_synapse/admin/v2/users: a page of accounts and how many match. */
  listForAdmin(query: AdminUserQuery): Promise<{ users: AdminUserListing[]; total: number }> {
    return listUsersForAdmin(this.pool, query);
  }

  /**
   * Gives a deactivated account back its use (PUT /_synapse/admin/v2/users/{userId} with
   * `deactivated: false`): it needs a new password to log in with one.
   */
  async reactivate(userId: string, passwordHash: string | null): Promise<void> {
    if (!isStorableText(userId)) throw new AccountsError('M_NOT_FOUND', 'User not found');
    const row = await this.pool.maybeOne(sql.unsafe`
      UPDATE accounts.users SET deactivated = FALSE, password_hash = ${passwordHash} WHERE user_id = ${userId} AND deactivated RETURNING user_id`);
    if (!row) throw new AccountsError('M_NOT_FOUND', 'User not found');
    this.devices.invalidateCachedUser(userId);
    this.changesSubject.next({ userId, change: 'password_changed' });
  }

  async isAdmin(userId: string): Promise<boolean> {
    return (await this.getUser(userId))?.isAdmin === true;
  }

  close(): void {
    this.changesSubject.complete();
  }
}
