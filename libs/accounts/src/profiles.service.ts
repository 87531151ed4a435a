/** User profiles (profile.yaml): displayname, avatar_url, m.tz and custom namespaced fields. */
import { Observable, Subject } from 'rxjs';
import { z } from 'zod';
import { DatabasePool, isStorableText, jsonText, sql } from './db';
import { AccountsError } from './errors';
import { assertProfileKey, assertProfileValue, JsonValue, MAX_PROFILE_BYTES } from './profile-rules';

export type Profile = Record<string, JsonValue>;

export interface ProfileChange {
  userId: string;
  field: string;
  /** The new value; undefined when the field was deleted. */
  value: JsonValue | undefined;
}

/** Latin letters with accents and their plain forms, for `translate` (PostgreSQL has no unaccent built in): the letters that Unicode decomposition
 * turns into a plain letter and a combining mark, as the directory's word matching folds them. */
const ACCENTED = 'àáâãäåāăąçćčďèéêëēėęěìíîïīįñńňòóôõöōőŕřśšşťùúûüūůűųýÿźżž';
const UNACCENTED = 'aaaaaaaaacccdeeeeeeeeiiiiiinnnooooooorrssstuuuuuuuuyyzzz';

const FieldRow = z.object({ field: z.string(), value: jsonText });

/** Other servers' users' profiles (`GET /_matrix/federation/v1/query/profile`), when the server federates. */
export interface RemoteProfileSource {
  /**
   * The answer of `server` for the user's whole profile, or for `field` alone. Throws what the
   * federation client throws: an error with the answer's `status` when the server refused.
   */
  query(server: string, userId: string, field: string | undefined): Promise<unknown>;
}

/** The server part of a user id, or undefined. */
function serverOf(userId: string): string | undefined {
  const colon = userId.indexOf(':');
  return userId.startsWith('@') && colon > 1 && colon < userId.length - 1 ? userId.slice(colon + 1) : undefined;
}

/** A display name or avatar URL must be a string; other fields are any JSON value (the answer is JSON already). */
function remoteProfile(answer: unknown): Profile {
  const profile: Profile = {};
  if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) return profile;
  for (const [field, value] of Object.entries(answer as Record<string, unknown>)) {
    if ((field === 'displayname' || field === 'avatar_url') && typeof value !== 'string') continue;
    if (value !== undefined) profile[field] = value as JsonValue;
  }
  return profile;
}

export class ProfileService {
  private readonly changesSubject = new Subject<ProfileChange>();
  /** Profile fields set or deleted (after commit); membership events follow display name and avatar changes. */
  readonly changes: Observable<ProfileChange> = this.changesSubject.asObservable();
  private remote: { serverName: string; source: RemoteProfileSource } | undefined;

  constructor(private readonly pool: DatabasePool) {}

  /** Asks other servers for their users' profiles (undefined: such profiles are not found). */
  setRemote(serverName: string, source: RemoteProfileSource | undefined): void {
    this.remote = source ? { serverName, source } : undefined;
  }

  /** The profile of another server's user from that server, or undefined when the user is ours (or the server does not federate). */
  private async remoteProfile(userId: string, field: string | undefined): Promise<Profile | undefined> {
    const server = serverOf(userId);
    if (!this.remote || server === undefined || server === this.remote.serverName) return undefined;
    try {
      return remoteProfile(await this.remote.source.query(server, userId, field));
    } catch (error) {
      const status = (error as { status?: unknown }).status;
      if (status === 404 || status === 400) throw new AccountsError('M_NOT_FOUND', 'Profile not found');
      if (status === 403) throw new AccountsError('M_FORBIDDEN', `${server} does not share this profile`);
      throw new AccountsError('M_UNKNOWN', `The profile could not be had from ${server}`, { httpStatus: 502 });
    }
  }

  /** GET /profile/{userId}: every field. Throws M_NOT_FOUND when there is no such local user. */
  async getProfile(userId: string): Promise<Profile> {
    const remote = await this.remoteProfile(userId, undefined);
    if (remote) return remote;
    if (!isStorableText(userId)) throw new AccountsError('M_NOT_FOUND', 'Profile not found');
    const exists = await this.pool.exists(sql.unsafe`SELECT 1 FROM accounts.users WHERE user_id = ${userId}`);
    if (!exists) throw new AccountsError('M_NOT_FOUND', 'Profile not found');
    const rows = await this.pool.any(sql.type(FieldRow)`
      SELECT field, value::text AS value FROM accounts.profile_fields WHERE user_id = ${userId} ORDER BY field`);
    const profile: Profile = {};
    for (const row of rows) {
      const { field, value } = FieldRow.parse(row);
      profile[field] = value as JsonValue;
    }
    return profile;
  }

  /** GET /profile/{userId}/{keyName}. Throws M_NOT_FOUND when the user or the field does not exist. */
  async getProfileField(userId: string, key: string): Promise<JsonValue> {
    assertProfileKey(key);
    const remote = await this.remoteProfile(userId, key);
    if (remote) {
      if (remote[key] === undefined) throw new AccountsError('M_NOT_FOUND', 'Profile field not found');
      return remote[key];
    }
    if (!isStorableText(userId)) throw new AccountsError('M_NOT_FOUND', 'Profile field not found');
    const row = await this.pool.maybeOne(sql.type(FieldRow)`
      SELECT field, value::text AS value FROM accounts.profile_fields WHERE user_id = ${userId} AND field = ${key}`);
    if (!row) throw new AccountsError('M_NOT_FOUND', 'Profile field not found');
    return FieldRow.parse(row).value as JsonValue;
  }

  /**
   * PUT /profile/{userId}/{keyName}. Validates the key and value; throws M_PROFILE_TOO_LARGE
   * when the whole profile would reach 64 KiB, M_NOT_FOUND for an unknown or deactivated user.
   */
  async setProfileField(userId: string, key: string, value: unknown): Promise<void> {
    assertProfileKey(key);
    assertProfileValue(key, value);
    if (!isStorableText(userId)) throw new AccountsError('M_NOT_FOUND', 'User not found');
    await this.pool.transaction(async (tx) => {
      // Lock the account so concurrent writes to one profile are checked against each other.
      const user = await tx.maybeOne(sql.unsafe`
        SELECT user_id FROM accounts.users WHERE user_id = ${userId} AND NOT deactivated FOR UPDATE`);
      if (!user) throw new AccountsError('M_NOT_FOUND', 'User not found');
      const rows = await tx.any(sql.type(FieldRow)`
        SELECT field, value::text AS value FROM accounts.profile_fields WHERE user_id = ${userId}`);
      const profile: Record<string, unknown> = {};
      for (const row of rows) {
        const parsed = FieldRow.parse(row);
        profile[parsed.field] = parsed.value;
      }
      profile[key] = value;
      if (Buffer.byteLength(JSON.stringify(profile), 'utf8') >= MAX_PROFILE_BYTES) {
        throw new AccountsError('M_PROFILE_TOO_LARGE', 'The profile would exceed 64 KiB');
      }
      await tx.query(sql.unsafe`
        INSERT INTO accounts.profile_fields (user_id, field, value)
        VALUES (${userId}, ${key}, ${sql.jsonb(value)})
        ON CONFLICT (user_id, field) DO UPDATE SET value = EXCLUDED.value`);
    });
    this.changesSubject.next({ userId, field: key, value });
  }

  /** DELETE /profile/{userId}/{keyName}; deleting a field that is not set succeeds. */
  async deleteProfileField(userId: string, key: string): Promise<void> {
    assertProfileKey(key);
    if (!isStorableText(userId)) return;
    const deleted = await this.pool.maybeOne(sql.unsafe`
      DELETE FROM accounts.profile_fields WHERE user_id = ${userId} AND field = ${key} RETURNING field`);
    if (deleted) this.changesSubject.next({ userId, field: key, value: undefined });
  }

  /** The display names and avatar URLs (where set, as strings) of the users, in one query (for presence events). */
  async displayProfiles(userIds: readonly string[]): Promise<Map<string, { displayname?: string; avatar_url?: string }>> {
    const out = new Map<string, { displayname?: string; avatar_url?: string }>();
    const ids = userIds.filter(isStorableText);
    if (ids.length === 0) return out;
    const rows = await this.pool.any(sql.unsafe`
      SELECT user_id, field, value #>> '{}' AS value FROM accounts.profile_fields
       WHERE user_id = ANY(${sql.array(ids, 'text')}) AND field IN ('displayname', 'avatar_url') AND jsonb_typeof(value) = 'string'`);
    for (const row of rows as unknown as { user_id: string; field: 'displayname' | 'avatar_url'; value: string }[]) {
      out.set(row.user_id, { ...out.get(row.user_id), [row.field]: row.value });
    }
    return out;
  }

  /**
   * Active local users (guests and deactivated accounts left out) whose user id or display name
   * contains each of `words` (lower case, letters and digits; common Latin accents are folded
   * in the display name), with their display name and avatar, ordered by user id: the
   * candidates of a directory search over every local user, which matches words exactly after.
   */
  async localUsersContaining(words: readonly string[], limit: number): Promise<{ user_id: string; displayname: string | null; avatar_url: string | null }[]> {
    if (words.length === 0 || limit <= 0) return [];
    const name = sql.fragment`translate(lower(coalesce(d.value #>> '{}', '')), ${ACCENTED}, ${UNACCENTED})`;
    const contains = sql.join(
      words.map((w) => sql.fragment`(strpos(lower(u.user_id), ${w}) > 0 OR strpos(${name}, ${w}) > 0)`),
      sql.fragment` AND `,
    );
    const rows = await this.pool.any(sql.unsafe`
      SELECT u.user_id,
             CASE WHEN jsonb_typeof(d.value) = 'string' THEN d.value #>> '{}' END AS displayname,
             CASE WHEN jsonb_typeof(a.value) = 'string' THEN a.value #>> '{}' END AS avatar_url
        FROM accounts.users u
        LEFT JOIN accounts.profile_fields d ON d.user_id = u.user_id AND d.field = 'displayname'
        LEFT JOIN accounts.profile_fields a ON a.user_id = u.user_id AND a.field = 'avatar_url'
       WHERE u.kind = 'user' AND NOT u.deactivated AND ${contains}
       ORDER BY u.user_id LIMIT ${limit}`);
    return rows as unknown as { user_id: string; displayname: string | null; avatar_url: string | null }[];
  }

  setDisplayName(userId: string, displayName: string): Promise<void> {
    return this.setProfileField(userId, 'displayname', displayName);
  }

  setAvatarUrl(userId: string, avatarUrl: string): Promise<void> {
    return this.setProfileField(userId, 'avatar_url', avatarUrl);
  }

  close(): void {
    this.changesSubject.complete();
  }
}
