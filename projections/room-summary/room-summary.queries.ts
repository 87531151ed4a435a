import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

/** Queries of the room_summary projection; they read the views of its active generation. */

export interface RoomSummary {
  roomId: string;
  eventCount: bigint;
  lastPosition: bigint;
  lastEventType: string;
  lastEventAt: Date;
}

const summaryRow = z.object({
  room_id: z.string(),
  event_count: z.bigint(),
  last_position: z.bigint(),
  last_event_type: z.string(),
  last_event_at: z.union([z.number(), z.string(), z.date()]),
});

function toSummary(row: z.infer<typeof summaryRow>): RoomSummary {
  return {
    roomId: row.room_id,
    eventCount: row.event_count,
    lastPosition: row.last_position,
    lastEventType: row.last_event_type,
    lastEventAt: row.last_event_at instanceof Date ? row.last_event_at : new Date(row.last_event_at),
  };
}

export async function getRoomSummary(db: CommonQueryMethods, roomId: string): Promise<RoomSummary | null> {
  const row = await db.maybeOne(sql.type(summaryRow)`
    SELECT room_id, event_count, last_position, last_event_type, last_event_at
      FROM proj_room_summary.rooms WHERE room_id = ${roomId}`);
  return row ? toSummary(row) : null;
}

/** Rooms ordered by room id, for listings and comparisons. */
export async function listRoomSummaries(db: CommonQueryMethods, limit = 1000): Promise<RoomSummary[]> {
  const rows = await db.any(sql.type(summaryRow)`
    SELECT room_id, event_count, last_position, last_event_type, last_event_at
      FROM proj_room_summary.rooms ORDER BY room_id LIMIT ${limit}`);
  return rows.map(toSummary);
}

/** Events per type in a room. */
export async function getEventTypeCounts(db: CommonQueryMethods, roomId: string): Promise<Record<string, bigint>> {
  const rows = await db.any(sql.type(z.object({ type: z.string(), count: z.bigint() }))`
    SELECT type, count FROM proj_room_summary.event_type_counts WHERE room_id = ${roomId} ORDER BY type`);
  return Object.fromEntries(rows.map((r) => [r.type, r.count]));
}
