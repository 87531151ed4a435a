/** Queries of the user directory projection (views in `proj_user_directory`). */
import { sql, type CommonQueryMethods } from 'slonik';
import { readActive } from '@hs/eventstore';
import { USER_DIRECTORY_PROJECTION } from './user-directory.projector';

export interface DirectoryUser {
  user_id: string;
  display_name?: string;
  avatar_url?: string;
}

/** Position up to which the user directory has applied the store. */
export async function userDirectoryPosition(conn: CommonQueryMethods): Promise<bigint> {
  return (await readActive(conn, USER_DIRECTORY_PROJECTION))?.checkpoint ?? 0n;
}

/**
 * Users matching every word of the term (normalized with `directoryWords`; each must begin a
 * word of the user's id or directory display name) whom the searcher may find: joined to a
 * room the searcher is joined to, or to a public room (join rule `public` or history
 * `world_readable`). Ordered by exact display name first, then users with a display name,
 * then by display name and user id. Returns at most `limit` users, and whether more matched.
 */
export async function searchUserDirectory(
  conn: CommonQueryMethods,
  searcher: string,
  termWords: readonly string[],
  limit: number,
  exactName: string,
): Promise<{ results: DirectoryUser[]; limited: boolean }> {
  if (termWords.length === 0 || limit <= 0) return { results: [], limited: false };
  const matches = sql.join(
    termWords.map((word) => sql.fragment`u.words LIKE ${`% ${word}%`}`),
    sql.fragment` AND `,
  );
  const rows = (await conn.any(sql.unsafe`
    SELECT u.user_id, u.display_name, u.avatar_url FROM proj_user_directory.users u
     WHERE ${matches}
       AND EXISTS (SELECT 1 FROM proj_user_directory.members m LEFT JOIN proj_user_directory.rooms r ON r.room_id = m.room_id
                    WHERE m.user_id = u.user_id
                      AND (r.join_rule = 'public' OR r.history_visibility = 'world_readable'
                           OR EXISTS (SELECT 1 FROM proj_user_directory.members s WHERE s.room_id = m.room_id AND s.user_id = ${searcher})))
     ORDER BY lower(u.display_name) = ${exactName.toLowerCase()} DESC NULLS LAST, u.display_name IS NULL, u.display_name, u.user_id
     LIMIT ${limit + 1}`)) as unknown as { user_id: string; display_name: string | null; avatar_url: string | null }[];
  return { results: rows.slice(0, limit).map(directoryUser), limited: rows.length > limit };
}

export function directoryUser(row: { user_id: string; display_name?: string | null; avatar_url?: string | null }): DirectoryUser {
  return {
    user_id: row.user_id,
    ...(row.display_name ? { display_name: row.display_name } : {}),
    ...(row.avatar_url ? { avatar_url: row.avatar_url } : {}),
  };
}
