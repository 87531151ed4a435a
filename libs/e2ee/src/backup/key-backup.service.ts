/**
 * Server-side key backups (client-server API, "Server-side key backups", key_backup.yaml):
 * a user's backup versions and the encrypted megolm session keys stored in them.
 *
 * - Versions are numbered 1, 2, 3, … per user and never reused; the current version is the
 *   highest one not deleted. Keys may only be stored in the current version.
 * - When a session already has a key, an upload replaces it only when the spec prefers it:
 *   a verified key over an unverified one; with the same `is_verified`, the lower
 *   `first_message_index`; with that equal too, the lower `forwarded_count`.
 * - Each version has an `etag` (a counter, bumped whenever its keys change) and a `count`.
 * - `auth_data` and `session_data` are opaque: stored as the client sent them and returned
 *   unchanged. The spec describes them as JSON objects; strings are accepted too, which
 *   SyTest sends.
 *
 * Every write locks the user's row of `e2ee.backup_users` first, so one user's writes apply
 * one after another (migrations/e2ee/0002_key_backup.sql).
 */
import { createSqlTag, type DatabasePool, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';

const sql = createSqlTag();

export type KeyBackupErrcode = 'M_NOT_FOUND' | 'M_INVALID_PARAM' | 'M_MISSING_PARAM' | 'M_BAD_JSON' | 'M_TOO_LARGE' | 'M_WRONG_ROOM_KEYS_VERSION';

const HTTP_STATUS: Readonly<Record<KeyBackupErrcode, number>> = {
  M_NOT_FOUND: 404,
  M_INVALID_PARAM: 400,
  M_MISSING_PARAM: 400,
  M_BAD_JSON: 400,
  M_TOO_LARGE: 413,
  M_WRONG_ROOM_KEYS_VERSION: 403,
};

/** A refusal of the key backup layer, with the Matrix error the HTTP layer answers. */
export class KeyBackupError extends Error {
  readonly errcode: KeyBackupErrcode;
  readonly httpStatus: number;
  /** Extra fields of the error body (`current_version` of M_WRONG_ROOM_KEYS_VERSION). */
  readonly extra: Readonly<Record<string, unknown>>;

  constructor(errcode: KeyBackupErrcode, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.name = 'KeyBackupError';
    this.errcode = errcode;
    this.httpStatus = HTTP_STATUS[errcode];
    this.extra = extra;
  }

  /** The JSON body of the HTTP error response. */
  toJSON(): { errcode: string; error: string; [extra: string]: unknown } {
    return { ...this.extra, errcode: this.errcode, error: this.message };
  }
}

/** `auth_data` or `session_data`: a JSON object, or a string. */
export type OpaqueBackupData = Record<string, unknown> | string;

/** KeyBackupData (definitions/key_backup_data.yaml). */
export interface KeyBackupData {
  first_message_index: number;
  forwarded_count: number;
  is_verified: boolean;
  session_data: OpaqueBackupData;
}

/** RoomKeyBackup (definitions/room_key_backup.yaml). */
export interface RoomKeyBackup {
  sessions: Record<string, KeyBackupData>;
}

/** The body of GET /room_keys/keys. */
export interface RoomKeysBackup {
  rooms: Record<string, RoomKeyBackup>;
}

/** The body of GET /room_keys/version and GET /room_keys/version/{version}. */
export interface BackupVersionInfo {
  algorithm: string;
  auth_data: OpaqueBackupData;
  count: number;
  etag: string;
  version: string;
}

/** RoomKeysUpdateResponse: the version's etag and key count after a change. */
export interface RoomKeysUpdate {
  etag: string;
  count: number;
}

/** The body of POST /room_keys/version and PUT /room_keys/version/{version}; `auth_data` is checked here. */
export interface BackupVersionBody {
  algorithm: string;
  auth_data?: unknown;
}

/** Largest `auth_data` or `session_data`, in bytes of JSON. */
export const MAX_BACKUP_DATA_BYTES = 64 * 1024;
/** Longest algorithm name, room id or session id, in bytes. */
const MAX_ID_BYTES = 255;
/** Version numbers are positive integers without leading zeros. */
const VERSION_PATTERN = /^[1-9][0-9]{0,15}$/;

const fail = (errcode: KeyBackupErrcode, message: string, extra?: Record<string, unknown>) => new KeyBackupError(errcode, message, extra);
const unknownVersion = () => fail('M_NOT_FOUND', 'Unknown backup version');

/** A key ready to store: validated, with its session data serialised. */
interface StoredKey {
  roomId: string;
  sessionId: string;
  firstMessageIndex: number;
  forwardedCount: number;
  isVerified: boolean;
  sessionData: string;
}

const VersionRow = z.object({ version: z.string(), algorithm: z.string(), auth_data: z.string(), etag: z.string(), key_count: z.coerce.number() });
const LockedRow = z.object({ deleted: z.boolean(), algorithm: z.string(), current: z.string().nullable() });
const CountersRow = z.object({ etag: z.string(), key_count: z.coerce.number() });
const KeyRow = z.object({
  room_id: z.string().nullable(),
  session_id: z.string().nullable(),
  first_message_index: z.coerce.number().nullable(),
  forwarded_count: z.coerce.number().nullable(),
  is_verified: z.boolean().nullable(),
  session_data: z.string().nullable(),
});

/** The version number of a version string; null for a string no version can have. */
function versionNumber(version: string): number | null {
  return typeof version === 'string' && VERSION_PATTERN.test(version) && Number.isSafeInteger(Number(version)) ? Number(version) : null;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A text PostgreSQL can store, non-empty and at most MAX_ID_BYTES long. */
function isIdentifier(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && !value.includes('\u0000') && Buffer.byteLength(value, 'utf8') <= MAX_ID_BYTES;
}

function assertRoomId(roomId: unknown): asserts roomId is string {
  if (!isIdentifier(roomId) || !roomId.startsWith('!') || roomId.length < 2) throw fail('M_INVALID_PARAM', 'Invalid room ID');
}

function assertSessionId(sessionId: unknown): asserts sessionId is string {
  if (!isIdentifier(sessionId)) throw fail('M_INVALID_PARAM', 'Invalid session ID');
}

function assertAlgorithm(algorithm: unknown): asserts algorithm is string {
  if (algorithm === undefined) throw fail('M_MISSING_PARAM', 'Missing algorithm');
  if (!isIdentifier(algorithm)) throw fail('M_BAD_JSON', 'algorithm must be a non-empty string');
}

/** `auth_data` or `session_data` serialised for storage; refuses other shapes and oversized data. */
function opaqueData(value: unknown, field: string): string {
  if (value === undefined) throw fail('M_MISSING_PARAM', `Missing ${field}`);
  if (!isPlainObject(value) && typeof value !== 'string') throw fail('M_BAD_JSON', `${field} must be a JSON object`);
  const text = JSON.stringify(value);
  if (Buffer.byteLength(text, 'utf8') > MAX_BACKUP_DATA_BYTES) throw fail('M_TOO_LARGE', `${field} is larger than ${MAX_BACKUP_DATA_BYTES} bytes`);
  return text;
}

function countField(data: Record<string, unknown>, field: 'first_message_index' | 'forwarded_count'): number {
  const value = data[field];
  if (value === undefined) throw fail('M_MISSING_PARAM', `Missing ${field}`);
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw fail('M_BAD_JSON', `${field} must be a non-negative integer`);
  return value;
}

/** One KeyBackupData of a request, checked. */
function keyToStore(roomId: string, sessionId: string, data: unknown): StoredKey {
  assertSessionId(sessionId);
  if (!isPlainObject(data)) throw fail('M_BAD_JSON', 'Key data must be a JSON object');
  const firstMessageIndex = countField(data, 'first_message_index');
  const forwardedCount = countField(data, 'forwarded_count');
  if (data.is_verified === undefined) throw fail('M_MISSING_PARAM', 'Missing is_verified');
  if (typeof data.is_verified !== 'boolean') throw fail('M_BAD_JSON', 'is_verified must be a boolean');
  const sessionData = opaqueData(data.session_data, 'session_data');
  return { roomId, sessionId, firstMessageIndex, forwardedCount, isVerified: data.is_verified, sessionData };
}

/** The keys of a RoomKeyBackup (`{ sessions: { … } }`) of a request, checked. */
function roomKeysToStore(roomId: string, body: unknown): StoredKey[] {
  assertRoomId(roomId);
  if (!isPlainObject(body)) throw fail('M_BAD_JSON', 'Room key backup must be a JSON object');
  if (body.sessions === undefined) throw fail('M_MISSING_PARAM', 'Missing sessions');
  if (!isPlainObject(body.sessions)) throw fail('M_BAD_JSON', 'sessions must be a JSON object');
  return Object.entries(body.sessions).map(([sessionId, data]) => keyToStore(roomId, sessionId, data));
}

function parseData(text: string): OpaqueBackupData {
  return JSON.parse(text) as OpaqueBackupData;
}

function versionInfo(row: z.infer<typeof VersionRow>): BackupVersionInfo {
  return { algorithm: row.algorithm, auth_data: parseData(row.auth_data), count: row.key_count, etag: row.etag, version: row.version };
}

export class KeyBackupService {
  constructor(
    private readonly pool: DatabasePool,
    private readonly clock: () => number = Date.now,
  ) {}

  /** POST /room_keys/version: creates the user's next version, which becomes the current one. */
  async createVersion(userId: string, body: BackupVersionBody): Promise<string> {
    assertAlgorithm(body.algorithm);
    const authData = opaqueData(body.auth_data, 'auth_data');
    return this.pool.transaction(async (tx) => {
      const version = await tx.oneFirst(sql.type(z.object({ last_version: z.string() }))`
        INSERT INTO e2ee.backup_users (user_id, last_version) VALUES (${userId}, 1)
        ON CONFLICT (user_id) DO UPDATE SET last_version = e2ee.backup_users.last_version + 1
        RETURNING last_version::text AS last_version`);
      await tx.query(sql.unsafe`
        INSERT INTO e2ee.backup_versions (user_id, version, algorithm, auth_data, created_ts)
        VALUES (${userId}, ${version}::bigint, ${body.algorithm}, ${authData}, ${this.clock()})`);
      return version;
    });
  }

  /** GET /room_keys/version (no `version`: the current one) and GET /room_keys/version/{version}. */
  async getVersion(userId: string, version?: string): Promise<BackupVersionInfo> {
    const number = version === undefined ? undefined : versionNumber(version);
    if (number === null) throw unknownVersion();
    // Ordered by the bigint column `v.version`, not by the output text of the same name.
    const row = await this.pool.maybeOne(sql.type(VersionRow)`
      SELECT v.version::text AS version, v.algorithm, v.auth_data, v.etag::text AS etag, v.key_count::text AS key_count
      FROM e2ee.backup_versions v
      WHERE v.user_id = ${userId} AND v.deleted_ts IS NULL ${number === undefined ? sql.fragment`` : sql.fragment`AND v.version = ${number}`}
      ORDER BY v.version DESC LIMIT 1`);
    if (row === null) throw number === undefined ? fail('M_NOT_FOUND', 'No current backup version') : unknownVersion();
    return versionInfo(VersionRow.parse(row));
  }

  /**
   * PUT /room_keys/version/{version}: replaces `auth_data`. The body's algorithm must be the
   * version's, and its `version`, when given, the one of the path.
   */
  async updateVersion(userId: string, version: string, body: BackupVersionBody & { version?: string }): Promise<void> {
    if (body.version !== undefined && body.version !== version) throw fail('M_INVALID_PARAM', 'The version in the body does not match the version in the path');
    assertAlgorithm(body.algorithm);
    const authData = opaqueData(body.auth_data, 'auth_data');
    await this.write(userId, version, async (tx, number, locked) => {
      if (locked.deleted) throw unknownVersion();
      if (locked.algorithm !== body.algorithm) throw fail('M_INVALID_PARAM', 'Algorithm does not match');
      await tx.query(sql.unsafe`UPDATE e2ee.backup_versions SET auth_data = ${authData} WHERE user_id = ${userId} AND version = ${number}`);
    });
  }

  /** DELETE /room_keys/version/{version}: deletes the version and its keys; a deleted version again succeeds. */
  async deleteVersion(userId: string, version: string): Promise<void> {
    await this.write(userId, version, async (tx, number, locked) => {
      if (locked.deleted) return;
      await tx.query(sql.unsafe`DELETE FROM e2ee.backup_keys WHERE user_id = ${userId} AND version = ${number}`);
      await tx.query(sql.unsafe`
        UPDATE e2ee.backup_versions SET deleted_ts = ${this.clock()}, key_count = 0, etag = etag + 1
        WHERE user_id = ${userId} AND version = ${number}`);
    });
  }

  /** PUT /room_keys/keys: `body` is `{ rooms: { roomId: { sessions: { sessionId: KeyBackupData } } } }`. */
  async putKeys(userId: string, version: string, body: unknown): Promise<RoomKeysUpdate> {
    if (!isPlainObject(body)) throw fail('M_BAD_JSON', 'The body must be a JSON object');
    if (body.rooms === undefined) throw fail('M_MISSING_PARAM', 'Missing rooms');
    if (!isPlainObject(body.rooms)) throw fail('M_BAD_JSON', 'rooms must be a JSON object');
    return this.storeKeys(userId, version, Object.entries(body.rooms).flatMap(([roomId, room]) => roomKeysToStore(roomId, room)));
  }

  /** PUT /room_keys/keys/{roomId}: `body` is a RoomKeyBackup. */
  async putRoomKeys(userId: string, version: string, roomId: string, body: unknown): Promise<RoomKeysUpdate> {
    return this.storeKeys(userId, version, roomKeysToStore(roomId, body));
  }

  /** PUT /room_keys/keys/{roomId}/{sessionId}: `body` is a KeyBackupData. */
  async putSessionKey(userId: string, version: string, roomId: string, sessionId: string, body: unknown): Promise<RoomKeysUpdate> {
    assertRoomId(roomId);
    return this.storeKeys(userId, version, [keyToStore(roomId, sessionId, body)]);
  }

  /** GET /room_keys/keys: every key of the version (`{ rooms: {} }` when none). */
  async getKeys(userId: string, version: string): Promise<RoomKeysBackup> {
    const rooms: RoomKeysBackup['rooms'] = {};
    for (const [roomId, sessionId, data] of await this.readKeys(userId, version)) (rooms[roomId] ??= { sessions: {} }).sessions[sessionId] = data;
    return { rooms };
  }

  /** GET /room_keys/keys/{roomId}: the room's keys in the version (`{ sessions: {} }` when none). */
  async getRoomKeys(userId: string, version: string, roomId: string): Promise<RoomKeyBackup> {
    assertRoomId(roomId);
    const sessions: RoomKeyBackup['sessions'] = {};
    for (const [, sessionId, data] of await this.readKeys(userId, version, roomId)) sessions[sessionId] = data;
    return { sessions };
  }

  /** GET /room_keys/keys/{roomId}/{sessionId}: one key; M_NOT_FOUND when the version has none for the session. */
  async getSessionKey(userId: string, version: string, roomId: string, sessionId: string): Promise<KeyBackupData> {
    assertRoomId(roomId);
    assertSessionId(sessionId);
    const [key] = await this.readKeys(userId, version, roomId, sessionId);
    if (key === undefined) throw fail('M_NOT_FOUND', 'Key not found');
    return key[2];
  }

  /**
   * DELETE /room_keys/keys, /room_keys/keys/{roomId} and /room_keys/keys/{roomId}/{sessionId}:
   * deletes the version's keys, of one room, or of one session. Any version not deleted may
   * lose keys, not only the current one.
   */
  async deleteKeys(userId: string, version: string, roomId?: string, sessionId?: string): Promise<RoomKeysUpdate> {
    if (roomId !== undefined) assertRoomId(roomId);
    if (sessionId !== undefined) assertSessionId(sessionId);
    return this.write(userId, version, async (tx, number, locked) => {
      if (locked.deleted) throw unknownVersion();
      const deleted = await tx.oneFirst(sql.type(z.object({ deleted: z.coerce.number() }))`
        WITH gone AS (
          DELETE FROM e2ee.backup_keys
          WHERE user_id = ${userId} AND version = ${number} ${keyFilter(roomId, sessionId)}
          RETURNING 1
        )
        SELECT count(*)::text AS deleted FROM gone`);
      return this.counters(tx, userId, number, Number(deleted) > 0, -Number(deleted));
    });
  }

  /**
   * Stores keys in the current version, each only where the spec prefers it to the key the
   * session has (see the file's comment); the version's etag changes when any key was written.
   */
  private storeKeys(userId: string, version: string, keys: readonly StoredKey[]): Promise<RoomKeysUpdate> {
    return this.write(userId, version, async (tx, number, locked) => {
      if (locked.current === null) throw unknownVersion();
      if (locked.current !== String(number)) {
        throw fail('M_WRONG_ROOM_KEYS_VERSION', 'Wrong backup version.', { current_version: locked.current });
      }
      if (keys.length === 0) return this.counters(tx, userId, number, false, 0);
      const column = <T>(pick: (key: StoredKey) => T) => keys.map(pick);
      const written = await tx.any(sql.type(z.object({ inserted: z.boolean() }))`
        INSERT INTO e2ee.backup_keys AS k
          (user_id, version, room_id, session_id, first_message_index, forwarded_count, is_verified, session_data)
        SELECT ${userId}::text, ${number}::bigint, u.room_id, u.session_id, u.first_message_index, u.forwarded_count, u.is_verified, u.session_data
        FROM unnest(
          ${sql.array(column((key) => key.roomId), 'text')},
          ${sql.array(column((key) => key.sessionId), 'text')},
          ${sql.array(column((key) => key.firstMessageIndex), 'int8')},
          ${sql.array(column((key) => key.forwardedCount), 'int8')},
          ${sql.array(column((key) => key.isVerified), 'bool')},
          ${sql.array(column((key) => key.sessionData), 'text')}
        ) AS u(room_id, session_id, first_message_index, forwarded_count, is_verified, session_data)
        ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET
          first_message_index = EXCLUDED.first_message_index,
          forwarded_count = EXCLUDED.forwarded_count,
          is_verified = EXCLUDED.is_verified,
          session_data = EXCLUDED.session_data
        WHERE (EXCLUDED.is_verified AND NOT k.is_verified)
           OR (EXCLUDED.is_verified = k.is_verified
               AND (EXCLUDED.first_message_index < k.first_message_index
                    OR (EXCLUDED.first_message_index = k.first_message_index AND EXCLUDED.forwarded_count < k.forwarded_count)))
        RETURNING (k.xmax = 0) AS inserted`);
      const inserted = written.filter((row) => row.inserted).length;
      return this.counters(tx, userId, number, written.length > 0, inserted);
    });
  }

  /**
   * Runs `work` in a transaction holding the user's backup lock, with the version's state;
   * M_NOT_FOUND when the user never had that version.
   */
  private async write<T>(
    userId: string,
    version: string,
    work: (tx: DatabaseTransactionConnection, number: number, locked: z.infer<typeof LockedRow>) => Promise<T>,
  ): Promise<T> {
    const number = versionNumber(version);
    if (number === null) throw unknownVersion();
    return this.pool.transaction(async (tx) => {
      const row = await tx.maybeOne(sql.type(LockedRow)`
        SELECT v.deleted_ts IS NOT NULL AS deleted, v.algorithm,
          (SELECT max(c.version)::text FROM e2ee.backup_versions c WHERE c.user_id = u.user_id AND c.deleted_ts IS NULL) AS current
        FROM e2ee.backup_users u JOIN e2ee.backup_versions v ON v.user_id = u.user_id
        WHERE u.user_id = ${userId} AND v.version = ${number}
        FOR UPDATE OF u`);
      if (row === null) throw unknownVersion();
      return work(tx, number, LockedRow.parse(row));
    });
  }

  /** The version's etag and count, after adding `countDelta` keys and, when `changed`, bumping the etag. */
  private async counters(tx: DatabaseTransactionConnection, userId: string, version: number, changed: boolean, countDelta: number): Promise<RoomKeysUpdate> {
    const row = changed
      ? await tx.one(sql.type(CountersRow)`
          UPDATE e2ee.backup_versions SET etag = etag + 1, key_count = key_count + ${countDelta}
          WHERE user_id = ${userId} AND version = ${version}
          RETURNING etag::text AS etag, key_count::text AS key_count`)
      : await tx.one(sql.type(CountersRow)`
          SELECT etag::text AS etag, key_count::text AS key_count FROM e2ee.backup_versions WHERE user_id = ${userId} AND version = ${version}`);
    const counters = CountersRow.parse(row);
    return { etag: counters.etag, count: counters.key_count };
  }

  /**
   * The keys of a version not deleted (all, of one room, or of one session) as
   * [roomId, sessionId, data]; M_NOT_FOUND when the version does not exist. One statement,
   * so the version's existence and its keys are read at the same instant.
   */
  private async readKeys(userId: string, version: string, roomId?: string, sessionId?: string): Promise<Array<[string, string, KeyBackupData]>> {
    const number = versionNumber(version);
    if (number === null) throw unknownVersion();
    const rows = await this.pool.any(sql.type(KeyRow)`
      SELECT k.room_id, k.session_id, k.first_message_index::text AS first_message_index, k.forwarded_count::text AS forwarded_count,
             k.is_verified, k.session_data
      FROM e2ee.backup_versions v
      LEFT JOIN e2ee.backup_keys k ON k.user_id = v.user_id AND k.version = v.version ${keyFilter(roomId, sessionId, 'k')}
      WHERE v.user_id = ${userId} AND v.version = ${number} AND v.deleted_ts IS NULL`);
    if (rows.length === 0) throw unknownVersion();
    const keys: Array<[string, string, KeyBackupData]> = [];
    for (const raw of rows) {
      const row = KeyRow.parse(raw);
      if (row.room_id === null || row.session_id === null) continue;
      keys.push([
        row.room_id,
        row.session_id,
        {
          first_message_index: Number(row.first_message_index),
          forwarded_count: Number(row.forwarded_count),
          is_verified: row.is_verified === true,
          session_data: parseData(row.session_data ?? 'null'),
        },
      ]);
    }
    return keys;
  }
}

/** `AND room_id = … [AND session_id = …]` for the keys of one room or session (nothing for all). */
function keyFilter(roomId: string | undefined, sessionId: string | undefined, table?: string) {
  const column = (name: string) => (table === undefined ? sql.identifier([name]) : sql.identifier([table, name]));
  if (roomId === undefined) return sql.fragment``;
  if (sessionId === undefined) return sql.fragment`AND ${column('room_id')} = ${roomId}`;
  return sql.fragment`AND ${column('room_id')} = ${roomId} AND ${column('session_id')} = ${sessionId}`;
}
