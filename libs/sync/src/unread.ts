/**
 * Unread notification counts of a joined room: the events after the user's read receipt
 * (public or private; without one, after their join) that the user's push rules made notify,
 * and among them those that highlight, as the push projection evaluated them.
 */
import { sql, type CommonQueryMethods } from 'slonik';
import { readReceiptEventsIn } from '@hs/projections/receipts';
import { unreadCounts } from '@hs/projections/push';

export interface UnreadNotifications {
  notification_count: number;
  highlight_count: number;
}

/**
 * Unread notification counts of several joined rooms at once (room id -> counts), in a fixed
 * number of queries whatever the number of rooms.
 */
export async function unreadNotificationsIn(
  conn: CommonQueryMethods,
  rooms: readonly { roomId: string; joinPosition: bigint }[],
  userId: string,
  upTo: bigint,
): Promise<Map<string, UnreadNotifications>> {
  const out = new Map<string, UnreadNotifications>();
  for (const [roomId, counted] of await unreadCountsIn(conn, rooms, userId, upTo)) {
    out.set(roomId, { notification_count: counted.notification_count, highlight_count: counted.highlight_count });
  }
  return out;
}

/**
 * Where the user's unread events start in each room: the position of the event of their read
 * receipt (public or private, unthreaded or main thread), else their join's.
 */
export async function readUpToIn(conn: CommonQueryMethods, rooms: readonly { roomId: string; joinPosition: bigint }[], userId: string): Promise<Map<string, bigint>> {
  const roomIds = rooms.map((r) => r.roomId);
  const after = new Map(rooms.map((r) => [r.roomId, r.joinPosition]));
  if (rooms.length === 0) return after;
  const receiptEvents = await readReceiptEventsIn(conn, roomIds, userId);
  if (receiptEvents.size > 0) {
    const pairs = [...receiptEvents].flatMap(([roomId, events]) => events.map((eventId) => [roomId, eventId] as const));
    const reads = (await conn.any(sql.unsafe`
      SELECT room_id, max(position) AS position FROM proj_sync.events
       WHERE (room_id, event_id) IN (SELECT * FROM unnest(${sql.array(
         pairs.map((p) => p[0]),
         'text',
       )}::text[], ${sql.array(
         pairs.map((p) => p[1]),
         'text',
       )}::text[]))
       GROUP BY room_id`)) as unknown as { room_id: string; position: bigint }[];
    for (const read of reads) {
      if (read.position > (after.get(read.room_id) ?? 0n)) after.set(read.room_id, read.position);
    }
  }
  return after;
}

/** Unread counts with what it takes to count on from them in memory. */
export interface UnreadCounted extends UnreadNotifications {
  /** Events up to this position are read (the read receipt's event, else the join). */
  readUpTo: bigint;
}

/** `unreadNotificationsIn` with the position counting started after. */
export async function unreadCountsIn(
  conn: CommonQueryMethods,
  rooms: readonly { roomId: string; joinPosition: bigint }[],
  userId: string,
  upTo: bigint,
): Promise<Map<string, UnreadCounted>> {
  const out = new Map<string, UnreadCounted>();
  if (rooms.length === 0) return out;
  const roomIds = rooms.map((r) => r.roomId);
  const after = await readUpToIn(conn, rooms, userId);
  const counted = await unreadCounts(conn, userId, rooms.map((r) => ({ roomId: r.roomId, after: after.get(r.roomId) ?? 0n })), upTo);
  for (const [roomId, counts] of counted) out.set(roomId, { ...counts, readUpTo: after.get(roomId) ?? 0n });
  for (const roomId of roomIds) {
    if (!out.has(roomId)) {
      out.set(roomId, { notification_count: 0, highlight_count: 0, readUpTo: after.get(roomId) ?? 0n });
    }
  }
  return out;
}
