/** Queries of the public room directory projection (views `proj_directory.*`). */
import { sql, type CommonQueryMethods } from 'slonik';
import type { PublicRoomsChunk, PublishedRoomsQuery } from '@hs/contracts';
import type { DirectoryRoomRow } from './directory.projector';

type Row = Omit<DirectoryRoomRow, 'published'> & { joined_members: number };

/** `%` and `_` match themselves in the term. */
const likePattern = (term: string) => `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * Published rooms (of the main directory, a network's or all), largest first then by room
 * id: `limit` of them from `offset`, and how many match in all.
 */
export async function publishedRooms(conn: CommonQueryMethods, query: PublishedRoomsQuery): Promise<{ chunk: PublicRoomsChunk[]; total: number }> {
  const conditions = [
    query.network !== undefined
      ? sql.fragment`room_id IN (SELECT n.room_id FROM proj_directory.network_rooms n WHERE n.instance_id = ${query.network})`
      : query.allNetworks
        ? sql.fragment`(published OR room_id IN (SELECT n.room_id FROM proj_directory.network_rooms n))`
        : sql.fragment`published`,
  ];
  if (query.term !== undefined && query.term !== '') {
    const pattern = likePattern(query.term.replace(/\n/g, ' ').toLowerCase());
    conditions.push(sql.fragment`search_text LIKE ${pattern}`);
  }
  if (query.roomTypes !== undefined && query.roomTypes.length > 0) {
    const types = query.roomTypes.filter((t): t is string => t !== null);
    const withoutType = query.roomTypes.includes(null);
    conditions.push(
      withoutType
        ? sql.fragment`(room_type IS NULL OR room_type = ANY(${sql.array(types, 'text')}))`
        : sql.fragment`room_type = ANY(${sql.array(types, 'text')})`,
    );
  }
  const where = sql.join(conditions, sql.fragment` AND `);
  const rows = (await conn.any(sql.unsafe`
    SELECT room_id, joined_members, name, topic, canonical_alias, avatar_url, join_rule, room_type, world_readable, guest_can_join
      FROM proj_directory.rooms WHERE ${where}
     ORDER BY joined_members DESC, room_id COLLATE "C" LIMIT ${query.limit} OFFSET ${query.offset}`)) as readonly Row[];
  const total = (await conn.oneFirst(sql.unsafe`SELECT count(*) FROM proj_directory.rooms WHERE ${where}`)) as bigint | number;
  const chunk = rows.map((row) => {
    const entry: PublicRoomsChunk = {
      room_id: row.room_id,
      num_joined_members: Number(row.joined_members),
      world_readable: row.world_readable,
      guest_can_join: row.guest_can_join,
    };
    const optional = ['name', 'topic', 'canonical_alias', 'avatar_url', 'join_rule', 'room_type'] as const;
    for (const key of optional) {
      const value = row[key];
      if (value !== null) entry[key] = value;
    }
    return entry;
  });
  return { chunk, total: Number(total) };
}
