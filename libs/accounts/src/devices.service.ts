/**
 * Devices and access tokens: login results, token authentication (with an in-memory cache),
 * logout, device management and batched "last seen" updates.
 */
import { createHash } from 'node:crypto';
import { Observable, Subject } from 'rxjs';
import type { FragmentSqlToken } from 'slonik';
import { z } from 'zod';
import { CommonQueryMethods, DatabasePool, isStorableText, nullableInt, sql } from './db';
import { AccountsError } from './errors';
import { assertValidDeviceId, generateDeviceId, parseUserId, randomString } from './identifiers';
import { ResolvedAccountsOptions } from './options';
import { LruCache } from './token-cache';

/** Who an access token belongs to. */
export interface AuthenticatedUser {
  userId: string;
  deviceId: string;
  isGuest: boolean;
}

/** The body of a successful /login or /register (the fields this layer fills). */
export interface LoginResult {
  user_id: string;
  access_token: string;
  device_id: string;
}

/** A device as the client-server API lists it (definitions/client_device.yaml). */
export interface DeviceInfo {
  device_id: string;
  display_name?: string;
  last_seen_ip?: string;
  last_seen_ts?: number;
}

/** Where and when a device was last used (GET /admin/whois); null fields when never seen. */
export interface DeviceSighting {
  deviceId: string;
  ip: string | null;
  ts: number | null;
  userAgent: string | null;
}

export interface DeviceChange {
  userId: string;
  deviceId: string;
  change: 'created' | 'updated' | 'deleted';
}

/** Longest device display name accepted, in characters. */
export const MAX_DEVICE_DISPLAY_NAME_LENGTH = 100;

const DeviceRow = z.object({
  device_id: z.string(),
  display_name: z.string().nullable(),
  last_seen_ip: z.string().nullable(),
  last_seen_ts: nullableInt,
});

const SightingRow = z.object({
  device_id: z.string(),
  last_seen_ip: z.string().nullable(),
  last_seen_ts: nullableInt,
  last_seen_user_agent: z.string().nullable(),
});

const TokenOwnerRow = z.object({
  user_id: z.string(),
  device_id: z.string(),
  kind: z.string(),
});

const TokenHashRow = z.object({ token_hash: z.string() });

/** The hex SHA-256 of an access token: the only form in which tokens are stored. */
export function hashAccessToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new opaque access token: `syt_<base64url localpart>_<random>`. */
export function generateAccessToken(userId: string): string {
  const localpart = parseUserId(userId)?.localpart ?? userId;
  return `syt_${Buffer.from(localpart, 'utf8').toString('base64url')}_${randomString(40)}`;
}

function toDeviceInfo(row: z.infer<typeof DeviceRow>): DeviceInfo {
  const info: DeviceInfo = { device_id: row.device_id };
  if (row.display_name !== null) info.display_name = row.display_name;
  if (row.last_seen_ip !== null) info.last_seen_ip = row.last_seen_ip;
  if (row.last_seen_ts !== null) info.last_seen_ts = row.last_seen_ts;
  return info;
}

function assertDisplayName(displayName: unknown): asserts displayName is string | undefined | null {
  if (displayName === undefined || displayName === null) return;
  if (!isStorableText(displayName)) {
    throw new AccountsError('M_INVALID_PARAM', 'display_name must be a string');
  }
  if (displayName.length > MAX_DEVICE_DISPLAY_NAME_LENGTH) {
    throw new AccountsError('M_INVALID_PARAM', `display_name may not be longer than ${MAX_DEVICE_DISPLAY_NAME_LENGTH} characters`);
  }
}

/** Throws M_INVALID_PARAM unless a device may be created with this id and display name. */
export function assertNewDeviceParams(deviceId: string | undefined, displayName: unknown): void {
  if (deviceId !== undefined) assertValidDeviceId(deviceId);
  assertDisplayName(displayName);
}

/**
 * Work other libraries do in the transaction that creates or deletes devices (e.g. the e2ee
 * library records the device list change and drops the deleted devices' keys), so that it
 * commits with the change or not at all.
 */
export interface DeviceHooks {
  created(tx: CommonQueryMethods, userId: string, deviceId: string): Promise<unknown>;
  /** The device's display name changed. */
  updated(tx: CommonQueryMethods, userId: string, deviceId: string): Promise<unknown>;
  deleted(tx: CommonQueryMethods, userId: string, deviceIds: readonly string[]): Promise<unknown>;
}

export class DeviceService {
  private hooks: DeviceHooks | undefined;
  private readonly cache: LruCache<string, AuthenticatedUser>;
  private readonly lastSeen = new Map<string, { userId: string; deviceId: string; ip: string; ts: number; userAgent: string | null }>();
  private flushTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private readonly changesSubject = new Subject<DeviceChange>();
  private readonly deletionListeners: ((userId: string, deviceIds: readonly string[]) => Promise<void>)[] = [];

  /** Devices created, renamed or deleted (after the change committed). */
  readonly changes: Observable<DeviceChange> = this.changesSubject.asObservable();

  constructor(
    private readonly pool: DatabasePool,
    private readonly options: ResolvedAccountsOptions,
  ) {
    this.cache = new LruCache(options.accessTokenCacheSize, options.accessTokenCacheTtlMs, options.clock);
  }

  /**
   * Work done after devices were deleted and before the deletion is answered (e.g. removing
   * the pushers the devices set). A listener reports its own failures; returns the removal.
   */
  onDevicesDeleted(listener: (userId: string, deviceIds: readonly string[]) => Promise<void>): () => void {
    this.deletionListeners.push(listener);
    return () => {
      const index = this.deletionListeners.indexOf(listener);
      if (index >= 0) this.deletionListeners.splice(index, 1);
    };
  }

  /** Sets the work done in the transactions that create and delete devices. */
  setHooks(hooks: DeviceHooks | undefined): void {
    this.hooks = hooks;
  }

  /**
   * Creates a device for `userId` (a new random id when `deviceId` is not given). An existing
   * device is kept as it is (its display name unchanged); `created` says which happened.
   * `db` is the pool or a transaction.
   */
  async createDevice(
    userId: string,
    deviceId?: string,
    initialDisplayName?: string,
    db: CommonQueryMethods = this.pool,
  ): Promise<{ deviceId: string; created: boolean }> {
    assertDisplayName(initialDisplayName);
    if (deviceId !== undefined) assertValidDeviceId(deviceId);
    if (db === this.pool && this.hooks) {
      // The hooks run in the device's transaction.
      const result = await this.pool.transaction((tx) => this.createDevice(userId, deviceId, initialDisplayName, tx));
      if (result.created) this.changesSubject.next({ userId, deviceId: result.deviceId, change: 'created' });
      return result;
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const id = deviceId ?? generateDeviceId();
      const inserted = await db.maybeOne(sql.unsafe`
        INSERT INTO accounts.devices (user_id, device_id, display_name, created_ts)
        VALUES (${userId}, ${id}, ${initialDisplayName ?? null}, ${this.options.clock()})
        ON CONFLICT (user_id, device_id) DO NOTHING
        RETURNING device_id`);
      if (inserted) {
        if (db !== this.pool) await this.hooks?.created(db, userId, id);
        if (db === this.pool) this.changesSubject.next({ userId, deviceId: id, change: 'created' });
        return { deviceId: id, created: true };
      }
      if (deviceId !== undefined) return { deviceId: id, created: false };
    }
    throw new AccountsError('M_UNKNOWN', 'Could not allocate a device ID');
  }

  /**
   * Logs `userId` in on a device: creates the device when needed (keeping an existing one's
   * name), replaces any access token the device had, and returns the new token.
   */
  async issueAccessToken(
    userId: string,
    options: { deviceId?: string; initialDisplayName?: string } = {},
  ): Promise<LoginResult> {
    const token = generateAccessToken(userId);
    const tokenHash = hashAccessToken(token);
    const { deviceId, created, replaced } = await this.pool.transaction(async (tx) => {
      const device = await this.createDevice(userId, options.deviceId, options.initialDisplayName, tx);
      const old = await tx.any(sql.type(TokenHashRow)`
        DELETE FROM accounts.access_tokens WHERE user_id = ${userId} AND device_id = ${device.deviceId}
        RETURNING token_hash`);
      await tx.query(sql.unsafe`
        INSERT INTO accounts.access_tokens (token_hash, user_id, device_id, created_ts)
        VALUES (${tokenHash}, ${userId}, ${device.deviceId}, ${this.options.clock()})`);
      return { ...device, replaced: old.map((row) => TokenHashRow.parse(row).token_hash) };
    });
    for (const hash of replaced) this.cache.delete(hash);
    if (created) this.changesSubject.next({ userId, deviceId, change: 'created' });
    return { user_id: userId, access_token: token, device_id: deviceId };
  }

  /** The owner of `accessToken`, or null when the token is unknown (or its user deactivated). */
  async authenticate(accessToken: string): Promise<AuthenticatedUser | null> {
    if (typeof accessToken !== 'string' || accessToken.length === 0) return null;
    const tokenHash = hashAccessToken(accessToken);
    const cached = this.cache.get(tokenHash);
    if (cached) return cached;
    const row = await this.pool.maybeOne(sql.type(TokenOwnerRow)`
      SELECT t.user_id, t.device_id, u.kind
      FROM accounts.access_tokens t JOIN accounts.users u ON u.user_id = t.user_id
      WHERE t.token_hash = ${tokenHash} AND NOT u.deactivated`);
    if (!row) return null;
    const owner = TokenOwnerRow.parse(row);
    const auth: AuthenticatedUser = { userId: owner.user_id, deviceId: owner.device_id, isGuest: owner.kind === 'guest' };
    this.cache.set(tokenHash, auth);
    return auth;
  }

  /** Drops the cached authentications of `userId`'s tokens (after its account kind changed). */
  forgetCachedUser(userId: string): void {
    this.cache.deleteWhere((auth) => auth.userId === userId);
  }

  /** Like `authenticate`, but throws M_UNKNOWN_TOKEN for an unknown token. */
  async requireUser(accessToken: string): Promise<AuthenticatedUser> {
    const auth = await this.authenticate(accessToken);
    if (!auth) throw new AccountsError('M_UNKNOWN_TOKEN', 'Unknown access token', { extra: { soft_logout: false } });
    return auth;
  }

  /** POST /logout: invalidates the token and deletes its device. False when the token was unknown. */
  async logout(accessToken: string): Promise<boolean> {
    const tokenHash = hashAccessToken(accessToken);
    const owner = await this.pool.maybeOne(sql.type(TokenOwnerRow)`
      SELECT t.user_id, t.device_id, u.kind
      FROM accounts.access_tokens t JOIN accounts.users u ON u.user_id = t.user_id
      WHERE t.token_hash = ${tokenHash}`);
    this.cache.delete(tokenHash);
    if (!owner) return false;
    const { user_id: userId, device_id: deviceId } = TokenOwnerRow.parse(owner);
    await this.deleteDevices(userId, [deviceId]);
    return true;
  }

  /** POST /logout/all: invalidates every token of the user and deletes all their devices. */
  async logoutAll(userId: string): Promise<void> {
    await this.deleteAllDevices(userId);
  }

  async listDevices(userId: string): Promise<DeviceInfo[]> {
    if (!isStorableText(userId)) return [];
    const rows = await this.pool.any(sql.type(DeviceRow)`
      SELECT device_id, display_name, last_seen_ip, last_seen_ts
      FROM accounts.devices WHERE user_id = ${userId} ORDER BY device_id`);
    return rows.map((row) => this.withBufferedLastSeen(userId, toDeviceInfo(DeviceRow.parse(row))));
  }

  /** Every device of `userId` with its last sighting (those not written yet included), by device id. */
  async lastSightings(userId: string): Promise<DeviceSighting[]> {
    if (!isStorableText(userId)) return [];
    const rows = await this.pool.any(sql.type(SightingRow)`
      SELECT device_id, last_seen_ip, last_seen_ts, last_seen_user_agent
      FROM accounts.devices WHERE user_id = ${userId} ORDER BY device_id`);
    return rows.map((row) => {
      const stored = SightingRow.parse(row);
      const pending = this.lastSeen.get(lastSeenKey(userId, stored.device_id));
      if (pending && (stored.last_seen_ts === null || pending.ts >= stored.last_seen_ts)) {
        return { deviceId: stored.device_id, ip: pending.ip, ts: pending.ts, userAgent: pending.userAgent };
      }
      return { deviceId: stored.device_id, ip: stored.last_seen_ip, ts: stored.last_seen_ts, userAgent: stored.last_seen_user_agent };
    });
  }

  /** Throws M_NOT_FOUND when the user has no such device. */
  async getDevice(userId: string, deviceId: string): Promise<DeviceInfo> {
    if (!isStorableText(userId) || !isStorableText(deviceId)) throw new AccountsError('M_NOT_FOUND', 'Unknown device');
    const row = await this.pool.maybeOne(sql.type(DeviceRow)`
      SELECT device_id, display_name, last_seen_ip, last_seen_ts
      FROM accounts.devices WHERE user_id = ${userId} AND device_id = ${deviceId}`);
    if (!row) throw new AccountsError('M_NOT_FOUND', 'Unknown device');
    return this.withBufferedLastSeen(userId, toDeviceInfo(DeviceRow.parse(row)));
  }

  /** PUT /devices/{deviceId}: sets (or with null clears) the display name. Throws M_NOT_FOUND for an unknown device. */
  async updateDevice(userId: string, deviceId: string, displayName: string | null): Promise<void> {
    assertDisplayName(displayName);
    if (!isStorableText(userId) || !isStorableText(deviceId)) throw new AccountsError('M_NOT_FOUND', 'Unknown device');
    const updated = await this.pool.transaction(async (tx) => {
      const row = await tx.maybeOne(sql.unsafe`
        UPDATE accounts.devices SET display_name = ${displayName}
        WHERE user_id = ${userId} AND device_id = ${deviceId}
        RETURNING device_id`);
      if (row) await this.hooks?.updated(tx, userId, deviceId);
      return row;
    });
    if (!updated) throw new AccountsError('M_NOT_FOUND', 'Unknown device');
    this.changesSubject.next({ userId, deviceId, change: 'updated' });
  }

  /** Deletes one device and its tokens. Throws M_NOT_FOUND for an unknown device. */
  async deleteDevice(userId: string, deviceId: string): Promise<void> {
    const deleted = await this.deleteDevices(userId, [deviceId]);
    if (deleted.length === 0) throw new AccountsError('M_NOT_FOUND', 'Unknown device');
  }

  /** Deletes the given devices (unknown ones are ignored) and their tokens; returns the ids deleted. */
  async deleteDevices(userId: string, deviceIds: readonly string[]): Promise<string[]> {
    const ids = deviceIds.filter(isStorableText);
    if (ids.length === 0 || !isStorableText(userId)) return [];
    return this.deleteWhere(userId, sql.fragment`device_id = ANY(${sql.array(ids, 'text')})`);
  }

  /** Deletes every device of the user (but `exceptDeviceId`) and their tokens; returns the ids deleted. */
  async deleteAllDevices(userId: string, options: { exceptDeviceId?: string } = {}): Promise<string[]> {
    if (!isStorableText(userId)) return [];
    if (options.exceptDeviceId !== undefined && !isStorableText(options.exceptDeviceId)) {
      throw new AccountsError('M_INVALID_PARAM', 'Invalid device ID');
    }
    const condition = options.exceptDeviceId === undefined
      ? sql.fragment`TRUE`
      : sql.fragment`device_id <> ${options.exceptDeviceId}`;
    return this.deleteWhere(userId, condition);
  }

  private async deleteWhere(userId: string, condition: FragmentSqlToken): Promise<string[]> {
    const { tokens, devices } = await this.pool.transaction(async (tx) => {
      const tokenRows = await tx.any(sql.type(TokenHashRow)`
        DELETE FROM accounts.access_tokens WHERE user_id = ${userId} AND ${condition}
        RETURNING token_hash`);
      const deviceRows = await tx.any(sql.type(z.object({ device_id: z.string() }))`
        DELETE FROM accounts.devices WHERE user_id = ${userId} AND ${condition}
        RETURNING device_id`);
      const deleted = deviceRows.map((row) => z.object({ device_id: z.string() }).parse(row).device_id);
      if (deleted.length > 0) await this.hooks?.deleted(tx, userId, deleted);
      return { tokens: tokenRows.map((row) => TokenHashRow.parse(row).token_hash), devices: deleted };
    });
    for (const hash of tokens) this.cache.delete(hash);
    this.cache.deleteWhere((auth) => auth.userId === userId && devices.includes(auth.deviceId));
    for (const deviceId of devices) {
      this.lastSeen.delete(lastSeenKey(userId, deviceId));
      this.changesSubject.next({ userId, deviceId, change: 'deleted' });
    }
    if (devices.length > 0) for (const listener of this.deletionListeners) await listener(userId, devices);
    return devices;
  }

  /** Forgets every cached token of `userId` (e.g. after deactivation). */
  invalidateCachedUser(userId: string): void {
    this.cache.deleteWhere((auth) => auth.userId === userId);
  }

  /** Forgets cached tokens by their hashes (for invalidations announced by other processes). */
  invalidateCachedTokens(tokenHashes: readonly string[]): void {
    for (const hash of tokenHashes) this.cache.delete(hash);
  }

  /**
   * Notes that a device was seen from `ip`. Kept in memory and written in batches by
   * `flushLastSeen` (called on a timer once `startLastSeenFlusher` ran, and on `close`).
   */
  recordLastSeen(auth: Pick<AuthenticatedUser, 'userId' | 'deviceId'>, ip: string, userAgent?: string): void {
    this.lastSeen.set(lastSeenKey(auth.userId, auth.deviceId), {
      userId: auth.userId,
      deviceId: auth.deviceId,
      ip: ip.replaceAll('\u0000', ''),
      ts: this.options.clock(),
      userAgent: userAgent === undefined ? null : userAgent.replaceAll('\u0000', ''),
    });
  }

  /** Writes the buffered "last seen" updates in one statement. */
  flushLastSeen(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writeLastSeen());
    return this.flushing;
  }

  private async writeLastSeen(): Promise<void> {
    if (this.lastSeen.size === 0) return;
    const batch = [...this.lastSeen.values()];
    this.lastSeen.clear();
    try {
      await this.pool.query(sql.unsafe`
        UPDATE accounts.devices AS d
        SET last_seen_ip = u.ip, last_seen_ts = u.ts, last_seen_user_agent = NULLIF(u.user_agent, '')
        FROM ${sql.unnest(
          batch.map((entry) => [entry.userId, entry.deviceId, entry.ip, entry.ts, entry.userAgent ?? '']),
          ['text', 'text', 'text', 'int8', 'text'],
        )} AS u(user_id, device_id, ip, ts, user_agent)
        WHERE d.user_id = u.user_id AND d.device_id = u.device_id
          AND (d.last_seen_ts IS NULL OR d.last_seen_ts <= u.ts)`);
    } catch (error) {
      // Put the batch back (unless newer sightings arrived meanwhile) so the next flush retries it.
      for (const entry of batch) {
        const key = lastSeenKey(entry.userId, entry.deviceId);
        if (!this.lastSeen.has(key)) this.lastSeen.set(key, entry);
      }
      throw error;
    }
  }

  private withBufferedLastSeen(userId: string, info: DeviceInfo): DeviceInfo {
    const pending = this.lastSeen.get(lastSeenKey(userId, info.device_id));
    if (pending && (info.last_seen_ts === undefined || pending.ts >= info.last_seen_ts)) {
      return { ...info, last_seen_ip: pending.ip, last_seen_ts: pending.ts };
    }
    return info;
  }

  startLastSeenFlusher(): void {
    if (this.flushTimer) return;
    this.flushTimer = setInterval(() => {
      this.flushLastSeen().catch(() => undefined);
    }, this.options.lastSeenFlushIntervalMs);
    this.flushTimer.unref();
  }

  /** Stops the flusher and writes what is buffered. */
  async close(): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = null;
    await this.flushLastSeen();
    this.changesSubject.complete();
  }
}

function lastSeenKey(userId: string, deviceId: string): string {
  return `${userId}\u0000${deviceId}`;
}
