/**
 * Device keys, one-time keys and fallback keys of local devices (client-server API, "End-to-end
 * encryption": POST /keys/upload, /keys/query and /keys/claim for local users). The server
 * checks the shape of what it stores, never its cryptography: the keys are the devices' own
 * business, and clients check each other's signatures.
 *
 * Device lists: a device's new or changed keys, a new device and a deleted device each record a
 * change of the user's device list (e2ee.device_list_changes) that /sync and /keys/changes
 * report to the users who share a room with them.
 */
import { Subject, type Observable } from 'rxjs';
import { z } from 'zod';
import { canonicalJson } from '@hs/protocol';
import { int, isStorableText, sql, type CommonQueryMethods, type DatabasePool, type DatabaseTransactionConnection } from './db';
import { Batcher } from './batcher';
import { E2eeError } from './errors';
import { JsonText } from './json-text';
import { currentPosition, recordDeviceListChange } from './stream';

export type JsonObject = { [key: string]: unknown };

/** A change /sync reports: a user's device list, or to-device messages for their devices. */
export interface E2eeChange {
  kind: 'device_list' | 'to_device';
  userIds: readonly string[];
  position: number;
}

/** The one-time key algorithm clients count on being reported, even at zero. */
export const SIGNED_CURVE25519 = 'signed_curve25519';
/** Largest JSON of one device keys object, one-time key or fallback key, in bytes. */
export const MAX_KEY_BYTES = 64 * 1024;
/** Most one-time keys one upload may carry. */
export const MAX_ONE_TIME_KEYS_PER_UPLOAD = 1000;
/** Most unclaimed one-time keys one device may hold. */
export const MAX_ONE_TIME_KEYS_PER_DEVICE = 10_000;

export interface KeyCounts {
  oneTimeKeyCounts: Record<string, number>;
  unusedFallbackKeyTypes: string[];
}

const KeysJsonRow = z.object({ user_id: z.string(), device_id: z.string(), keys_json: z.string(), display_name: z.string().nullable() });
const DeviceStateRow = z.object({ device_id: z.string(), keys_json: z.string().nullable(), display_name: z.string().nullable() });
const DeviceCountRow = z.object({ user_id: z.string(), device_id: z.string(), algorithm: z.string(), n: int.nullable() });
const ClaimedRow = z.object({ user_id: z.string(), device_id: z.string(), algorithm: z.string(), key_id: z.string(), key_json: z.string() });
const ExistingKeyRow = z.object({ algorithm: z.string(), key_id: z.string(), key_json: z.string() });

const DeviceKeysShape = z
  .object({
    user_id: z.string(),
    device_id: z.string(),
    algorithms: z.array(z.string()),
    keys: z.record(z.string()),
    signatures: z.record(z.record(z.string())),
  })
  .passthrough();

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function jsonSize(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/** `<algorithm>:<key id>` split in two; undefined when it is not of that form. */
function algorithmAndId(name: string): [string, string] | undefined {
  const colon = name.indexOf(':');
  if (colon <= 0 || colon === name.length - 1) return undefined;
  return [name.slice(0, colon), name.slice(colon + 1)];
}

/** Checks a map of `<algorithm>:<key id>` to key (a string or a signed key object). */
function parseKeyMap(raw: unknown, field: string): { algorithm: string; keyId: string; json: string }[] {
  if (raw === undefined || raw === null) return [];
  if (!isObject(raw)) throw new E2eeError('M_BAD_JSON', `${field} must be an object`);
  const out: { algorithm: string; keyId: string; json: string }[] = [];
  for (const [name, key] of Object.entries(raw)) {
    const parts = isStorableText(name) ? algorithmAndId(name) : undefined;
    if (!parts) throw new E2eeError('M_BAD_JSON', `${field}: key names are <algorithm>:<key id>`);
    if (typeof key !== 'string' && !isObject(key)) throw new E2eeError('M_BAD_JSON', `${field}: each key is a string or an object`);
    if (jsonSize(key) > MAX_KEY_BYTES) throw new E2eeError('M_TOO_LARGE', `${field}: a key is too large`);
    let json: string;
    try {
      json = canonicalJson(key);
    } catch {
      throw new E2eeError('M_BAD_JSON', `${field}: a key is not canonical JSON`);
    }
    if (json.includes('\\u0000')) throw new E2eeError('M_BAD_JSON', `${field}: a key holds U+0000`);
    out.push({ algorithm: parts[0], keyId: parts[1], json });
  }
  return out;
}

/** The stored form of device keys: the object without `unsigned`, as canonical JSON. */
function parseDeviceKeys(raw: unknown, userId: string, deviceId: string): string {
  if (!isObject(raw)) throw new E2eeError('M_BAD_JSON', 'device_keys must be an object');
  const parsed = DeviceKeysShape.safeParse(raw);
  if (!parsed.success) throw new E2eeError('M_BAD_JSON', 'device_keys needs user_id, device_id, algorithms, keys and signatures');
  if (parsed.data.user_id !== userId) throw new E2eeError('M_INVALID_PARAM', 'device_keys.user_id is not the user uploading them');
  if (parsed.data.device_id !== deviceId) throw new E2eeError('M_INVALID_PARAM', 'device_keys.device_id is not the device uploading them');
  if (jsonSize(raw) > MAX_KEY_BYTES) throw new E2eeError('M_TOO_LARGE', 'device_keys is too large');
  const { unsigned: _unsigned, ...stored } = raw;
  try {
    const json = canonicalJson(stored);
    if (json.includes('\\u0000')) throw new E2eeError('M_BAD_JSON', 'device_keys holds U+0000');
    return json;
  } catch (error) {
    if (error instanceof E2eeError) throw error;
    throw new E2eeError('M_BAD_JSON', 'device_keys is not canonical JSON');
  }
}

/**
 * Stored device keys (canonical JSON of an object without `unsigned`, see parseDeviceKeys) with
 * `unsigned` as their last member, written into the text; parsed and written again only if the
 * text is not of that form.
 */
function withUnsigned(stored: string, unsigned: JsonObject): string {
  if (stored.length < 2 || stored[0] !== '{' || stored[stored.length - 1] !== '}' || stored.includes('"unsigned"')) {
    return JSON.stringify({ ...(JSON.parse(stored) as JsonObject), unsigned });
  }
  return `${stored.slice(0, -1)}${stored.length > 2 ? ',' : ''}"unsigned":${JSON.stringify(unsigned)}}`;
}

export class DeviceKeysService {
  private readonly changesSubject = new Subject<E2eeChange>();
  /** Device list and to-device changes, after they committed. */
  readonly changes: Observable<E2eeChange> = this.changesSubject.asObservable();

  constructor(
    private readonly pool: DatabasePool,
    private readonly clock: () => number = Date.now,
  ) {}

  private readonly positions = new Batcher<undefined, number>(async (callers) => {
    const position = await currentPosition(this.pool);
    return callers.map(() => position);
  });
  private readonly countBatches = new Batcher<{ userId: string; deviceId: string }, KeyCounts>((devices) => this.readCounts(this.pool, devices));

  /** Announces a change after its transaction committed. */
  announce(change: E2eeChange): void {
    if (change.userIds.length > 0) this.changesSubject.next(change);
  }

  /**
   * POST /keys/upload for a device: its device keys (new ones replace those held, as a client
   * that lost its keys must be able to start again; the change is announced like any other),
   * one-time keys (one already held under the same id must be the
   * same) and fallback keys (replace the device's fallback key of that algorithm). Returns
   * the device's counts of unclaimed one-time keys.
   */
  async upload(userId: string, deviceId: string, body: JsonObject): Promise<Record<string, number>> {
    const deviceKeys = body.device_keys === undefined || body.device_keys === null ? undefined : parseDeviceKeys(body.device_keys, userId, deviceId);
    const oneTimeKeys = parseKeyMap(body.one_time_keys, 'one_time_keys');
    if (oneTimeKeys.length > MAX_ONE_TIME_KEYS_PER_UPLOAD) throw new E2eeError('M_TOO_LARGE', `At most ${MAX_ONE_TIME_KEYS_PER_UPLOAD} one-time keys per upload`);
    const fallbackKeys = parseKeyMap(body.fallback_keys ?? body['org.matrix.msc2732.fallback_keys'], 'fallback_keys');
    const perAlgorithm = new Set<string>();
    for (const key of fallbackKeys) {
      if (perAlgorithm.has(key.algorithm)) throw new E2eeError('M_BAD_JSON', 'fallback_keys: one key per algorithm');
      perAlgorithm.add(key.algorithm);
    }
    let changed: number | undefined;
    await this.pool.transaction(async (tx) => {
      if (deviceKeys !== undefined) changed = await this.storeDeviceKeys(tx, userId, deviceId, deviceKeys);
      if (oneTimeKeys.length > 0) await this.storeOneTimeKeys(tx, userId, deviceId, oneTimeKeys);
      for (const key of fallbackKeys) {
        await tx.query(sql.unsafe`
          INSERT INTO e2ee.fallback_keys (user_id, device_id, algorithm, key_id, key_json, used)
          VALUES (${userId}, ${deviceId}, ${key.algorithm}, ${key.keyId}, ${key.json}, false)
          ON CONFLICT (user_id, device_id, algorithm) DO UPDATE
            SET key_id = EXCLUDED.key_id, key_json = EXCLUDED.key_json, used = false
            WHERE e2ee.fallback_keys.key_id <> EXCLUDED.key_id OR e2ee.fallback_keys.key_json <> EXCLUDED.key_json`);
      }
    });
    if (changed !== undefined) this.announce({ kind: 'device_list', userIds: [userId], position: changed });
    return (await this.counts(this.pool, userId, deviceId)).oneTimeKeyCounts;
  }

  /** Stores the device keys; returns the device list change's position when they are new or changed. */
  private async storeDeviceKeys(tx: DatabaseTransactionConnection, userId: string, deviceId: string, json: string): Promise<number | undefined> {
    const existing = await tx.maybeOneFirst(sql.type(z.object({ keys_json: z.string() }))`
      SELECT keys_json FROM e2ee.device_keys WHERE user_id = ${userId} AND device_id = ${deviceId} FOR UPDATE`);
    if (existing === json) return undefined;
    await tx.query(sql.unsafe`
      INSERT INTO e2ee.device_keys (user_id, device_id, keys_json, uploaded_ts)
      VALUES (${userId}, ${deviceId}, ${json}, ${this.clock()})
      ON CONFLICT (user_id, device_id) DO UPDATE SET keys_json = EXCLUDED.keys_json, uploaded_ts = EXCLUDED.uploaded_ts`);
    return recordDeviceListChange(tx, [userId], [deviceId]);
  }

  private async storeOneTimeKeys(
    tx: DatabaseTransactionConnection,
    userId: string,
    deviceId: string,
    keys: { algorithm: string; keyId: string; json: string }[],
  ): Promise<void> {
    const existing = await tx.any(sql.type(ExistingKeyRow)`
      SELECT algorithm, key_id, key_json FROM e2ee.one_time_keys
       WHERE user_id = ${userId} AND device_id = ${deviceId}
         AND (algorithm, key_id) IN (SELECT * FROM unnest(${sql.array(keys.map((k) => k.algorithm), 'text')}::text[], ${sql.array(keys.map((k) => k.keyId), 'text')}::text[]))`);
    const held = new Map(existing.map((row) => [`${row.algorithm}:${row.key_id}`, row.key_json]));
    const fresh = new Map<string, { algorithm: string; keyId: string; json: string }>();
    for (const key of keys) {
      const name = `${key.algorithm}:${key.keyId}`;
      const old = held.get(name);
      if (old !== undefined && old !== key.json) throw new E2eeError('M_INVALID_PARAM', `One-time key ${name} already exists with another value`);
      if (old === undefined) fresh.set(name, key);
    }
    if (fresh.size === 0) return;
    const count = Number(
      await tx.oneFirst(sql.type(z.object({ n: int }))`
        SELECT count(*) AS n FROM e2ee.one_time_keys WHERE user_id = ${userId} AND device_id = ${deviceId}`),
    );
    if (count + fresh.size > MAX_ONE_TIME_KEYS_PER_DEVICE) {
      throw new E2eeError('M_LIMIT_EXCEEDED', `A device holds at most ${MAX_ONE_TIME_KEYS_PER_DEVICE} unclaimed one-time keys`, 400);
    }
    const rows = [...fresh.values()];
    await tx.query(sql.unsafe`
      INSERT INTO e2ee.one_time_keys (user_id, device_id, algorithm, key_id, key_json)
      SELECT ${userId}, ${deviceId}, a, k, j
        FROM unnest(${sql.array(rows.map((r) => r.algorithm), 'text')}::text[],
                    ${sql.array(rows.map((r) => r.keyId), 'text')}::text[],
                    ${sql.array(rows.map((r) => r.json), 'text')}::text[]) AS t(a, k, j)
      ON CONFLICT DO NOTHING`);
  }

  /** The device's unclaimed one-time keys per algorithm (signed_curve25519 always named) and its unused fallback key algorithms. */
  async counts(conn: CommonQueryMethods, userId: string, deviceId: string): Promise<KeyCounts> {
    return (await this.readCounts(conn, [{ userId, deviceId }]))[0];
  }

  /** The same as `counts` on the pool, read with one statement for the devices asked for together (woken /sync long-polls). */
  countsOf(userId: string, deviceId: string): Promise<KeyCounts> {
    return this.countBatches.load({ userId, deviceId });
  }

  private async readCounts(conn: CommonQueryMethods, devices: readonly { userId: string; deviceId: string }[]): Promise<KeyCounts[]> {
    const users = sql.array(devices.map((d) => d.userId), 'text');
    const ids = sql.array(devices.map((d) => d.deviceId), 'text');
    // One statement: the one-time key counts, then the unused fallback keys (n null).
    const rows = await conn.any(sql.type(DeviceCountRow)`
      SELECT user_id, device_id, algorithm, count(*) AS n FROM e2ee.one_time_keys
       WHERE (user_id, device_id) IN (SELECT * FROM unnest(${users}::text[], ${ids}::text[])) GROUP BY user_id, device_id, algorithm
      UNION ALL
      SELECT user_id, device_id, algorithm, NULL FROM e2ee.fallback_keys
       WHERE (user_id, device_id) IN (SELECT * FROM unnest(${users}::text[], ${ids}::text[])) AND NOT used`);
    const byDevice = new Map<string, KeyCounts>();
    for (const { userId, deviceId } of devices) byDevice.set(`${userId}\u0000${deviceId}`, { oneTimeKeyCounts: { [SIGNED_CURVE25519]: 0 }, unusedFallbackKeyTypes: [] });
    for (const raw of rows) {
      const { user_id, device_id, algorithm, n } = DeviceCountRow.parse(raw);
      const counts = byDevice.get(`${user_id}\u0000${device_id}`);
      if (!counts) continue;
      if (n === null) counts.unusedFallbackKeyTypes.push(algorithm);
      else counts.oneTimeKeyCounts[algorithm] = n;
    }
    return devices.map(({ userId, deviceId }) => {
      const counts = byDevice.get(`${userId}\u0000${deviceId}`) as KeyCounts;
      return { oneTimeKeyCounts: { ...counts.oneTimeKeyCounts }, unusedFallbackKeyTypes: [...counts.unusedFallbackKeyTypes].sort() };
    });
  }

  /**
   * The device keys of local users' devices: `wanted` maps a user to the device ids asked for
   * (empty: all). Users without keys map to an empty object. Each device's keys carry
   * `unsigned.device_display_name` when the device has a name.
   */
  async deviceKeys(wanted: ReadonlyMap<string, readonly string[]>): Promise<Record<string, Record<string, JsonObject>>> {
    const texts = await this.deviceKeysJson(wanted);
    const out: Record<string, Record<string, JsonObject>> = {};
    for (const [userId, devices] of Object.entries(texts)) {
      out[userId] = {};
      for (const [deviceId, keys] of Object.entries(devices)) out[userId][deviceId] = JSON.parse(keys.text) as JsonObject;
    }
    return out;
  }

  /** The same as `deviceKeys`, each device's keys as JSON text: the stored text with `unsigned` added, never parsed. */
  async deviceKeysJson(wanted: ReadonlyMap<string, readonly string[]>): Promise<Record<string, Record<string, JsonText>>> {
    const out: Record<string, Record<string, JsonText>> = {};
    const users = [...wanted.keys()];
    for (const userId of users) out[userId] = {};
    if (users.length === 0) return out;
    const rows = await this.pool.any(sql.type(KeysJsonRow)`
      SELECT k.user_id, k.device_id, k.keys_json, d.display_name
        FROM e2ee.device_keys k
        LEFT JOIN accounts.devices d ON d.user_id = k.user_id AND d.device_id = k.device_id
       WHERE k.user_id = ANY(${sql.array(users, 'text')})`);
    for (const row of rows) {
      const devices = wanted.get(row.user_id) ?? [];
      if (devices.length > 0 && !devices.includes(row.device_id)) continue;
      out[row.user_id][row.device_id] = new JsonText(withUnsigned(row.keys_json, row.display_name !== null ? { device_display_name: row.display_name } : {}));
    }
    return out;
  }

  /**
   * Claims one key for each (user, device, algorithm) of local users: an unclaimed one-time key
   * (each handed out exactly once, even to concurrent claims), else the device's fallback key
   * of that algorithm (marked used, still handed out). Devices with neither are left out. One
   * statement takes the one-time keys of every device named, a second the fallback keys of
   * those that had none, whatever the number of devices.
   */
  async claim(wanted: ReadonlyMap<string, ReadonlyMap<string, string>>): Promise<Record<string, Record<string, Record<string, unknown>>>> {
    const out: Record<string, Record<string, Record<string, unknown>>> = {};
    const asked: { userId: string; deviceId: string; algorithm: string }[] = [];
    for (const [userId, devices] of wanted) for (const [deviceId, algorithm] of devices) asked.push({ userId, deviceId, algorithm });
    if (asked.length === 0) return out;
    const hand = (rows: readonly { user_id: string; device_id: string; algorithm: string; key_id: string; key_json: string }[]) => {
      for (const row of rows) (out[row.user_id] ??= {})[row.device_id] = { [`${row.algorithm}:${row.key_id}`]: JSON.parse(row.key_json) as unknown };
    };
    hand(
      await this.pool.any(sql.type(ClaimedRow)`
        DELETE FROM e2ee.one_time_keys o
         USING (
           SELECT k.user_id, k.device_id, k.algorithm, k.key_id
             FROM unnest(${sql.array(asked.map((a) => a.userId), 'text')}::text[],
                         ${sql.array(asked.map((a) => a.deviceId), 'text')}::text[],
                         ${sql.array(asked.map((a) => a.algorithm), 'text')}::text[]) AS w(user_id, device_id, algorithm)
             CROSS JOIN LATERAL (
               SELECT user_id, device_id, algorithm, key_id FROM e2ee.one_time_keys
                WHERE user_id = w.user_id AND device_id = w.device_id AND algorithm = w.algorithm
                ORDER BY key_id LIMIT 1 FOR UPDATE SKIP LOCKED) k) AS picked
         WHERE o.user_id = picked.user_id AND o.device_id = picked.device_id AND o.algorithm = picked.algorithm AND o.key_id = picked.key_id
         RETURNING o.user_id, o.device_id, o.algorithm, o.key_id, o.key_json`),
    );
    const rest = asked.filter((a) => out[a.userId]?.[a.deviceId] === undefined);
    if (rest.length === 0) return out;
    hand(
      await this.pool.any(sql.type(ClaimedRow)`
        UPDATE e2ee.fallback_keys f SET used = true
          FROM unnest(${sql.array(rest.map((a) => a.userId), 'text')}::text[],
                      ${sql.array(rest.map((a) => a.deviceId), 'text')}::text[],
                      ${sql.array(rest.map((a) => a.algorithm), 'text')}::text[]) AS w(user_id, device_id, algorithm)
         WHERE f.user_id = w.user_id AND f.device_id = w.device_id AND f.algorithm = w.algorithm
         RETURNING f.user_id, f.device_id, f.algorithm, f.key_id, f.key_json`),
    );
    return out;
  }

  /** A new or renamed device of the user: its device list changed (`tx`: the transaction changing the device). */
  deviceChanged(tx: CommonQueryMethods, userId: string, deviceId: string): Promise<number> {
    return recordDeviceListChange(tx, [userId], [deviceId]);
  }

  /** Devices of the user deleted (in `tx`, the deletion's transaction): their keys, to-device messages and dehydrated state go, the device list changed. */
  async devicesDeleted(tx: CommonQueryMethods, userId: string, deviceIds: readonly string[]): Promise<number | undefined> {
    if (deviceIds.length === 0) return undefined;
    const ids = sql.array([...deviceIds], 'text');
    await tx.query(sql.unsafe`DELETE FROM e2ee.device_keys WHERE user_id = ${userId} AND device_id = ANY(${ids})`);
    await tx.query(sql.unsafe`DELETE FROM e2ee.one_time_keys WHERE user_id = ${userId} AND device_id = ANY(${ids})`);
    await tx.query(sql.unsafe`DELETE FROM e2ee.fallback_keys WHERE user_id = ${userId} AND device_id = ANY(${ids})`);
    await tx.query(sql.unsafe`DELETE FROM e2ee.to_device WHERE user_id = ${userId} AND device_id = ANY(${ids})`);
    await tx.query(sql.unsafe`DELETE FROM e2ee.dehydrated_devices WHERE user_id = ${userId} AND device_id = ANY(${ids})`);
    return recordDeviceListChange(tx, [userId], deviceIds);
  }

  /** The local users among `userIds` that have an account. */
  async existingUsers(userIds: readonly string[]): Promise<Set<string>> {
    const ids = [...new Set(userIds)].filter(isStorableText);
    if (ids.length === 0) return new Set();
    const rows = await this.pool.anyFirst(sql.type(z.object({ user_id: z.string() }))`
      SELECT user_id FROM accounts.users WHERE user_id = ANY(${sql.array(ids, 'text')})`);
    return new Set(rows.map(String));
  }

  /** The position of the user's last device list change (0: none). */
  async lastChange(userId: string, before?: number, conn: CommonQueryMethods = this.pool): Promise<number> {
    const bound = before === undefined ? sql.fragment`` : sql.fragment`AND position < ${before}`;
    const last = await conn.oneFirst(sql.type(z.object({ position: int.nullable() }))`
      SELECT max(position) AS position FROM e2ee.device_list_changes WHERE user_id = ${userId} ${bound}`);
    return last === null ? 0 : Number(last);
  }

  /** GET /user/devices: the user's devices with keys, and the position of their last device list change. */
  async devicesForFederation(userId: string): Promise<{ streamId: number; devices: { device_id: string; keys: JsonObject; device_display_name?: string }[] }> {
    return this.pool.transaction(async (tx) => {
      const streamId = await this.lastChange(userId, undefined, tx);
      const rows = await tx.any(sql.type(KeysJsonRow)`
        SELECT k.user_id, k.device_id, k.keys_json, d.display_name
          FROM e2ee.device_keys k JOIN accounts.devices d ON d.user_id = k.user_id AND d.device_id = k.device_id
         WHERE k.user_id = ${userId} ORDER BY k.device_id`);
      const devices = rows.map((row) => ({
        device_id: row.device_id,
        keys: JSON.parse(row.keys_json) as JsonObject,
        ...(row.display_name !== null ? { device_display_name: row.display_name } : {}),
      }));
      return { streamId, devices };
    });
  }

  /**
   * The `m.device_list_update` EDUs of a local user's device list change at `position`: one per
   * device that changed (its keys, or `deleted` when it is gone), `prev_id` naming the user's
   * previous change. Cross-signing changes (no device) are not among them.
   */
  async deviceListUpdates(userId: string, position: number): Promise<JsonObject[]> {
    const devices = await this.pool.anyFirst(sql.type(z.object({ device_id: z.string() }))`
      SELECT device_id FROM e2ee.device_list_changes WHERE position = ${position} AND user_id = ${userId} AND device_id <> ''`);
    if (devices.length === 0) return [];
    const previous = await this.lastChange(userId, position);
    const rows = await this.pool.any(sql.type(DeviceStateRow)`
      SELECT d.device_id, k.keys_json, d.display_name
        FROM accounts.devices d LEFT JOIN e2ee.device_keys k ON k.user_id = d.user_id AND k.device_id = d.device_id
       WHERE d.user_id = ${userId} AND d.device_id = ANY(${sql.array([...devices].map(String), 'text')})`);
    const present = new Map(rows.map((row) => [row.device_id, row]));
    return [...devices].map(String).map((deviceId): JsonObject => {
      const row = present.get(deviceId);
      const update: JsonObject = { user_id: userId, device_id: deviceId, stream_id: position, prev_id: previous > 0 ? [previous] : [] };
      if (!row) return { ...update, deleted: true };
      if (row.display_name !== null) update.device_display_name = row.display_name;
      if (row.keys_json !== null) update.keys = JSON.parse(row.keys_json) as JsonObject;
      return update;
    });
  }

  /** Another server announced that its user's device list changed: local users sharing a room with them hear of it. */
  async remoteDeviceListChanged(userId: string): Promise<void> {
    const position = await this.pool.transaction((tx) => recordDeviceListChange(tx, [userId]));
    this.announce({ kind: 'device_list', userIds: [userId], position });
  }

  /** The highest committed position of the e2ee stream (on the pool: read once for the callers asking together). */
  position(conn?: CommonQueryMethods): Promise<number> {
    return conn ? currentPosition(conn) : this.positions.load(undefined);
  }

  /** Users whose device list changed after `after`, up to `upTo`. */
  async usersChanged(after: number, upTo: number, conn: CommonQueryMethods = this.pool): Promise<string[]> {
    if (upTo <= after) return [];
    const rows = await conn.anyFirst(sql.type(z.object({ user_id: z.string() }))`
      SELECT DISTINCT user_id FROM e2ee.device_list_changes WHERE position > ${after} AND position <= ${upTo}`);
    return [...rows];
  }

  close(): void {
    this.changesSubject.complete();
  }
}
