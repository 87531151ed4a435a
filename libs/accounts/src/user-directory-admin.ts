/**
 * Local accounts as server admins list them (GET /_synapse/admin/v2/users): filters, order and
 * paging done by the database, with each account's display name, avatar and last sighting.
 */
import { z } from 'zod';
import { DatabasePool, int, isStorableText, nullableInt, sql } from './db';

export const ADMIN_USER_ORDERS = [
  'name',
  'is_guest',
  'admin',
  'user_type',
  'deactivated',
  'shadow_banned',
  'displayname',
  'avatar_url',
  'creation_ts',
  'last_seen_ts',
] as const;
export type AdminUserOrder = (typeof ADMIN_USER_ORDERS)[number];

export interface AdminUserQuery {
  from: number;
  limit: number;
  /** Localpart or display name contains this (case-insensitive). */
  name?: string;
  /** User id contains this (ignored when `name` is given). */
  userId?: string;
  /** Include guests (default true). */
  guests: boolean;
  /** Include deactivated accounts (default false). */
  deactivated: boolean;
  /** Only admins (true), only non-admins (false), both (undefined). */
  admins?: boolean;
  orderBy: AdminUserOrder;
  dir: 'f' | 'b';
}

export interface AdminUserListing {
  userId: string;
  isGuest: boolean;
  isAdmin: boolean;
  userType: string | null;
  deactivated: boolean;
  displayName: string | null;
  avatarUrl: string | null;
  createdTs: number;
  lastSeenTs: number | null;
}

const ListingRow = z.object({
  user_id: z.string(),
  is_guest: z.boolean(),
  is_admin: z.boolean(),
  user_type: z.string().nullable(),
  deactivated: z.boolean(),
  displayname: z.string().nullable(),
  avatar_url: z.string().nullable(),
  created_ts: int,
  last_seen_ts: nullableInt,
  total: int,
});

const ORDER_COLUMNS: Record<AdminUserOrder, string> = {
  name: 'user_id',
  is_guest: 'is_guest',
  admin: 'is_admin',
  user_type: 'user_type',
  deactivated: 'deactivated',
  // No account is shadow-banned here: the order is by name.
  shadow_banned: 'user_id',
  displayname: 'displayname',
  avatar_url: 'avatar_url',
  creation_ts: 'created_ts',
  last_seen_ts: 'last_seen_ts',
};

/** Every account with the columns the listing filters and orders on. */
const ACCOUNTS = sql.fragment`
  SELECT u.user_id, u.localpart, u.kind = 'guest' AS is_guest, u.is_admin, u.user_type, u.deactivated, u.created_ts,
         (SELECT p.value #>> '{}' FROM accounts.profile_fields p WHERE p.user_id = u.user_id AND p.field = 'displayname') AS displayname,
         (SELECT p.value #>> '{}' FROM accounts.profile_fields p WHERE p.user_id = u.user_id AND p.field = 'avatar_url') AS avatar_url,
         (SELECT max(d.last_seen_ts) FROM accounts.devices d WHERE d.user_id = u.user_id) AS last_seen_ts
    FROM accounts.users u`;

/** Lists accounts for the admin API. */
export async function listUsersForAdmin(pool: DatabasePool, query: AdminUserQuery): Promise<{ users: AdminUserListing[]; total: number }> {
  const conditions = [sql.fragment`TRUE`];
  if (!query.guests) conditions.push(sql.fragment`NOT is_guest`);
  if (!query.deactivated) conditions.push(sql.fragment`NOT deactivated`);
  if (query.admins !== undefined) conditions.push(sql.fragment`is_admin = ${query.admins}`);
  if (query.name !== undefined && isStorableText(query.name)) {
    const needle = query.name.toLowerCase();
    conditions.push(sql.fragment`(strpos(lower(localpart), ${needle}) > 0 OR strpos(lower(coalesce(displayname, '')), ${needle}) > 0)`);
  } else if (query.userId !== undefined && isStorableText(query.userId)) {
    conditions.push(sql.fragment`strpos(lower(user_id), ${query.userId.toLowerCase()}) > 0`);
  }
  const where = sql.join(conditions, sql.fragment` AND `);
  const direction = query.dir === 'b' ? sql.fragment`DESC` : sql.fragment`ASC`;
  const rows = await pool.any(sql.type(ListingRow)`
    SELECT user_id, is_guest, is_admin, user_type, deactivated, displayname, avatar_url, created_ts, last_seen_ts,
           count(*) OVER () AS total
      FROM (${ACCOUNTS}) users
     WHERE ${where}
     ORDER BY ${sql.identifier([ORDER_COLUMNS[query.orderBy]])} ${direction} NULLS LAST, user_id ASC
     LIMIT ${query.limit} OFFSET ${query.from}`);
  const parsed = rows.map((row) => ListingRow.parse(row));
  // A page past the end has no row to carry the total: count apart.
  const total =
    parsed[0]?.total ??
    (query.from === 0 && query.limit > 0 ? 0 : int.parse(await pool.oneFirst(sql.type(z.object({ total: int }))`SELECT count(*) AS total FROM (${ACCOUNTS}) users WHERE ${where}`)));
  return {
    users: parsed.map((row) => ({
      userId: row.user_id,
      isGuest: row.is_guest,
      isAdmin: row.is_admin,
      userType: row.user_type,
      deactivated: row.deactivated,
      displayName: row.displayname,
      avatarUrl: row.avatar_url,
      createdTs: row.created_ts,
      lastSeenTs: row.last_seen_ts,
    })),
    total,
  };
}
