/** Queries of the push projection (views `proj_push.*`). */
import { sql, type CommonQueryMethods } from 'slonik';
import type { Pusher } from '@hs/contracts';

export interface UnreadCounts {
  notification_count: number;
  highlight_count: number;
}

/** Where a user's unread events start in a room: the main timeline's and each thread's read position. */
export interface ReadPositions {
  roomId: string;
  /** The unthreaded read receipt's (else the join's): threads without a receipt of their own start here. */
  unthreaded: bigint;
  /** The main timeline's: the later of the unthreaded and the `main` receipt. */
  main: bigint;
  /** Threads with a receipt of their own (root event id -> position). */
  threads: ReadonlyMap<string, bigint>;
}

/** Unread counts of one room: the main timeline's and each thread's with any. */
export interface ThreadedUnreadCounts {
  main: UnreadCounts;
  threads: Map<string, UnreadCounts>;
}

/**
 * The user's notifications per room and thread after the read positions, up to `upTo`: how
 * many, and how many highlight. One query for all the rooms.
 */
export async function unreadCounts(
  conn: CommonQueryMethods,
  userId: string,
  rooms: readonly ReadPositions[],
  upTo: bigint,
): Promise<Map<string, ThreadedUnreadCounts>> {
  const out = new Map<string, ThreadedUnreadCounts>();
  if (rooms.length === 0) return out;
  const threads = rooms.flatMap((r) => [...r.threads].map(([threadId, after]) => [r.roomId, threadId, after] as const));
  // Each notification holds the running totals of its user, room and thread: the count in
  // (after, upTo] is the totals at upTo less those at `after`. The main timeline is asked of
  // every room; a thread only when its latest notification is after the unthreaded receipt.
  const rows = (await conn.any(sql.unsafe`
    WITH r AS (
      SELECT * FROM unnest(${sql.array(rooms.map((r) => r.roomId), 'text')}::text[], ${sql.array(rooms.map((r) => String(r.unthreaded)), 'int8')}::int8[],
                           ${sql.array(rooms.map((r) => String(r.main)), 'int8')}::int8[]) AS r(room_id, unthreaded, main)
    ), t AS (
      SELECT * FROM unnest(${sql.array(threads.map((t) => t[0]), 'text')}::text[], ${sql.array(threads.map((t) => t[1]), 'text')}::text[],
                           ${sql.array(threads.map((t) => String(t[2])), 'int8')}::int8[]) AS t(room_id, thread_id, after)
    ), k AS (
      SELECT r.room_id, ''::text AS thread_key, r.main AS after FROM r
      UNION ALL
      SELECT r.room_id, nt.thread_key, coalesce(t.after, r.unthreaded)
        FROM r JOIN proj_push.notification_totals nt
          ON nt.user_id = ${userId} AND nt.room_id = r.room_id AND nt.thread_key <> '' AND nt.position > r.unthreaded
        LEFT JOIN t ON t.room_id = r.room_id AND t.thread_id = nt.thread_key
    )
    SELECT k.room_id, nullif(k.thread_key, '') AS thread_id,
           hi.seq - coalesce(lo.seq, 0) AS notifications, hi.highlight_seq - coalesce(lo.highlight_seq, 0) AS highlights
      FROM k
      JOIN LATERAL (
        SELECT n.seq, n.highlight_seq FROM proj_push.notifications n
         WHERE n.user_id = ${userId} AND n.room_id = k.room_id AND n.thread_key = k.thread_key AND n.position <= ${String(upTo)}::int8
         ORDER BY n.position DESC LIMIT 1) hi ON TRUE
      LEFT JOIN LATERAL (
        SELECT n.seq, n.highlight_seq FROM proj_push.notifications n
         WHERE n.user_id = ${userId} AND n.room_id = k.room_id AND n.thread_key = k.thread_key AND n.position <= k.after
         ORDER BY n.position DESC LIMIT 1) lo ON TRUE
     WHERE hi.seq > coalesce(lo.seq, 0)`)) as unknown as {
    room_id: string;
    thread_id: string | null;
    notifications: bigint | number;
    highlights: bigint | number;
  }[];
  for (const row of rows) {
    let room = out.get(row.room_id);
    if (!room) out.set(row.room_id, (room = { main: { notification_count: 0, highlight_count: 0 }, threads: new Map() }));
    const counts = { notification_count: Number(row.notifications), highlight_count: Number(row.highlights) };
    if (row.thread_id === null) room.main = counts;
    else room.threads.set(row.thread_id, counts);
  }
  return out;
}

export interface NotificationRecord {
  userId: string;
  roomId: string;
  eventId: string;
  position: bigint;
  ts: number;
  actions: unknown[];
  highlight: boolean;
}

interface NotificationRow {
  user_id: string;
  room_id: string;
  event_id: string;
  position: bigint;
  ts: bigint | number;
  actions: unknown[];
  highlight: boolean;
}

const toNotification = (row: NotificationRow): NotificationRecord => ({
  userId: row.user_id,
  roomId: row.room_id,
  eventId: row.event_id,
  position: BigInt(row.position),
  ts: Number(row.ts),
  actions: row.actions,
  highlight: row.highlight,
});

/** The user's notifications, newest first, before position `before` (none: from the newest). */
export async function notificationsOf(
  conn: CommonQueryMethods,
  userId: string,
  options: { before?: bigint; limit: number; onlyHighlight: boolean },
): Promise<NotificationRecord[]> {
  const before = options.before === undefined ? sql.fragment`TRUE` : sql.fragment`position < ${String(options.before)}::int8`;
  const highlight = options.onlyHighlight ? sql.fragment`highlight` : sql.fragment`TRUE`;
  const rows = (await conn.any(sql.unsafe`
    SELECT user_id, room_id, event_id, position, ts, actions, highlight FROM proj_push.notifications
     WHERE user_id = ${userId} AND ${before} AND ${highlight}
     ORDER BY position DESC LIMIT ${options.limit}`)) as unknown as NotificationRow[];
  return rows.map(toNotification);
}

/**
 * Notifications in (after, upTo] of users who have pushers, in store order: every notification
 * of the first `positions` events that have any (a batch never ends inside one event's).
 */
export async function notificationsToPush(conn: CommonQueryMethods, after: bigint, upTo: bigint, positions: number): Promise<NotificationRecord[]> {
  const rows = (await conn.any(sql.unsafe`
    WITH due AS (
      SELECT n.user_id, n.room_id, n.event_id, n.position, n.ts, n.actions, n.highlight FROM proj_push.notifications n
       WHERE n.position > ${String(after)}::int8 AND n.position <= ${String(upTo)}::int8
         AND EXISTS (SELECT 1 FROM proj_push.pushers p WHERE p.user_id = n.user_id))
    SELECT * FROM due WHERE position IN (SELECT DISTINCT position FROM due ORDER BY position LIMIT ${positions})
     ORDER BY position, user_id`)) as unknown as NotificationRow[];
  return rows.map(toNotification);
}

export interface PusherRecord extends Pusher {
  userId: string;
  /** When the pusher was last set, in milliseconds since the epoch. */
  pushkeyTs: number;
  /** The device that set it (none for pushers set before devices were recorded). */
  deviceId: string | null;
  /** The store position of the fact that last set it: it is pushed what comes after. */
  setAt: bigint;
}

/** Users with pushers whose latest read receipt is in (after, upTo]: their badge is due. */
export async function badgesToPush(conn: CommonQueryMethods, after: bigint, upTo: bigint): Promise<{ userId: string; position: bigint }[]> {
  const rows = (await conn.any(sql.unsafe`
    SELECT b.user_id, b.position FROM proj_push.badges b
     WHERE b.position > ${String(after)}::int8 AND b.position <= ${String(upTo)}::int8
       AND EXISTS (SELECT 1 FROM proj_push.pushers p WHERE p.user_id = b.user_id)
     ORDER BY b.position`)) as unknown as { user_id: string; position: bigint | number }[];
  return rows.map((row) => ({ userId: row.user_id, position: BigInt(row.position) }));
}

/** The pushers of some users. */
export async function pushersOf(conn: CommonQueryMethods, userIds: readonly string[]): Promise<PusherRecord[]> {
  if (userIds.length === 0) return [];
  const rows = (await conn.any(sql.unsafe`
    SELECT user_id, pusher, pushkey_ts, device_id, position FROM proj_push.pushers WHERE user_id = ANY(${sql.array([...userIds], 'text')}) ORDER BY position`)) as unknown as {
    user_id: string;
    pusher: Pusher;
    pushkey_ts: bigint | number;
    device_id: string | null;
    position: bigint | number;
  }[];
  return rows.map((row) => ({ ...row.pusher, userId: row.user_id, pushkeyTs: Number(row.pushkey_ts), deviceId: row.device_id, setAt: BigInt(row.position) }));
}
