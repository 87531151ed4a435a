/**
 * Unread notification counts of a joined room: the events after the user's read receipt
 * (public or private; without one, after their join) that the user's push rules made notify,
 * and among them those that highlight, as the push projection evaluated them.
 */
import { sql, type CommonQueryMethods } from 'slonik';
import { readReceiptsByThreadIn } from '@hs/projections/receipts';
import { unreadCounts, type ReadPositions } from '@hs/projections/push';

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
): Promise<Map<string, RoomUnread>> {
  const out = new Map<string, RoomUnread>();
  for (const [roomId, { readUpTo: _read, ...counted }] of await unreadCountsIn(conn, rooms, userId, upTo)) out.set(roomId, counted);
  return out;
}

/**
 * The counts a joined room of /sync shows: with `unread_thread_notifications` in the filter,
 * the main timeline's and each unread thread's apart; otherwise everything together.
 */
export function unreadFields(unread: RoomUnread | undefined, threaded: boolean): { unread_notifications: UnreadNotifications; unread_thread_notifications?: Record<string, UnreadNotifications> } {
  if (!threaded) return { unread_notifications: unread ? { notification_count: unread.notification_count, highlight_count: unread.highlight_count } : { ...NONE } };
  return { unread_notifications: unread ? { ...unread.main } : { ...NONE }, unread_thread_notifications: unread ? { ...unread.threads } : {} };
}

/**
 * Where the user's unread events start in each room: the position of the event of their read
 * receipt (public or private, unthreaded or main thread), else their join's.
 */
export async function readUpToIn(conn: CommonQueryMethods, rooms: readonly { roomId: string; joinPosition: bigint }[], userId: string): Promise<Map<string, bigint>> {
  const positions = await readPositionsIn(conn, rooms, userId);
  return new Map([...positions].map(([roomId, read]) => [roomId, read.main]));
}

/** A room's unread counts: in all (`notification_count`, `highlight_count`), in the main timeline and per thread. */
export interface RoomUnread extends UnreadNotifications {
  main: UnreadNotifications;
  /** Threads with unread notifications: root event id -> counts. */
  threads: Record<string, UnreadNotifications>;
}

/** Unread counts with what it takes to count on from them in memory. */
export interface UnreadCounted extends RoomUnread {
  /** Events up to this position are read everywhere in the room (the earliest read position of the main timeline and the threads). */
  readUpTo: bigint;
}

const NONE: UnreadNotifications = { notification_count: 0, highlight_count: 0 };

/**
 * The unread counts of several joined rooms: the main timeline's events after the later of
 * the user's unthreaded and `main` read receipts, each thread's after the later of the
 * unthreaded receipt and the thread's own (without receipts, after the join).
 */
export async function unreadCountsIn(
  conn: CommonQueryMethods,
  rooms: readonly { roomId: string; joinPosition: bigint }[],
  userId: string,
  upTo: bigint,
): Promise<Map<string, UnreadCounted>> {
  const out = new Map<string, UnreadCounted>();
  if (rooms.length === 0) return out;
  const positions = await readPositionsIn(conn, rooms, userId);
  const counted = await unreadCounts(conn, userId, [...positions.values()], upTo);
  for (const room of rooms) {
    const read = positions.get(room.roomId) as ReadPositions;
    const counts = counted.get(room.roomId);
    const threads: Record<string, UnreadNotifications> = {};
    let total = { ...(counts?.main ?? NONE) };
    for (const [threadId, thread] of counts?.threads ?? []) {
      threads[threadId] = thread;
      total = { notification_count: total.notification_count + thread.notification_count, highlight_count: total.highlight_count + thread.highlight_count };
    }
    out.set(room.roomId, { ...total, main: counts?.main ?? { ...NONE }, threads, readUpTo: read.unthreaded });
  }
  return out;
}

/** The user's read positions in each room, from their read receipts (all threads) and join. */
async function readPositionsIn(conn: CommonQueryMethods, rooms: readonly { roomId: string; joinPosition: bigint }[], userId: string): Promise<Map<string, ReadPositions>> {
  const receipts = await readReceiptsByThreadIn(conn, rooms.map((r) => r.roomId), userId);
  const positions = new Map<string, bigint>();
  if (receipts.length > 0) {
    const rows = (await conn.any(sql.unsafe`
      SELECT room_id, event_id, position FROM proj_sync.events
       WHERE (room_id, event_id) IN (SELECT * FROM unnest(${sql.array(receipts.map((r) => r.room_id), 'text')}::text[], ${sql.array(
         receipts.map((r) => r.event_id),
         'text',
       )}::text[]))`)) as unknown as { room_id: string; event_id: string; position: bigint }[];
    for (const row of rows) positions.set(`${row.room_id}\u0000${row.event_id}`, BigInt(row.position));
  }
  const out = new Map<string, { roomId: string; unthreaded: bigint; main: bigint; threads: Map<string, bigint> }>();
  for (const room of rooms) out.set(room.roomId, { roomId: room.roomId, unthreaded: room.joinPosition, main: room.joinPosition, threads: new Map() });
  const later = (a: bigint, b: bigint | undefined) => (b !== undefined && b > a ? b : a);
  // Unthreaded receipts first: the main timeline and every thread start from them at least.
  for (const receipt of receipts.filter((r) => r.thread_id === '')) {
    const read = out.get(receipt.room_id);
    if (!read) continue;
    read.unthreaded = later(read.unthreaded, positions.get(`${receipt.room_id}\u0000${receipt.event_id}`));
    read.main = later(read.main, read.unthreaded);
  }
  for (const receipt of receipts.filter((r) => r.thread_id !== '')) {
    const read = out.get(receipt.room_id);
    if (!read) continue;
    const position = later(read.unthreaded, positions.get(`${receipt.room_id}\u0000${receipt.event_id}`));
    if (receipt.thread_id === 'main') read.main = later(read.main, position);
    else read.threads.set(receipt.thread_id, later(read.threads.get(receipt.thread_id) ?? read.unthreaded, position));
  }
  return out;
}
