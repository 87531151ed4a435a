/**
 * Unread notification counts of a joined room: events after the user's read receipt (public
 * or private; without one, after their join) from other senders that the spec's default push
 * rules make notify, and among them those that highlight.
 *
 * Notify (default rules): `m.room.message` except `m.notice` (.m.rule.suppress_notices),
 * `m.room.encrypted`, `m.call.invite`. Highlight: the user is in `m.mentions.user_ids`
 * (.m.rule.is_user_mention); for events without `m.mentions`, the body contains the user's
 * display name in the room or their user id (the legacy content rules). The user's own push
 * rules are not read: counts follow the defaults. At most MAX_COUNTED events are examined.
 */
import { sql, type CommonQueryMethods } from 'slonik';
import type { JsonObject } from '@hs/protocol';
import { readReceiptEventsIn } from '@hs/projections/receipts';

export const MAX_COUNTED = 1000;

export interface UnreadNotifications {
  notification_count: number;
  highlight_count: number;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Compiled mention patterns by needle (user ids and display names); started over beyond the limit. */
const mentionPatterns = new Map<string, RegExp>();
const MAX_MENTION_PATTERNS = 10_000;

function mentions(body: string, needle: string): boolean {
  if (needle.length === 0) return false;
  let pattern = mentionPatterns.get(needle);
  if (!pattern) {
    pattern = new RegExp(`(^|\\W)${escapeRegExp(needle)}(\\W|$)`, 'i');
    if (mentionPatterns.size >= MAX_MENTION_PATTERNS) mentionPatterns.clear();
    mentionPatterns.set(needle, pattern);
  }
  return pattern.test(body);
}

export function notifies(type: string, content: JsonObject): boolean {
  if (type === 'm.room.message') return content.msgtype !== 'm.notice';
  return type === 'm.room.encrypted' || type === 'm.call.invite';
}

export function highlights(content: JsonObject, userId: string, displayName: string | undefined): boolean {
  const m = content['m.mentions'];
  if (m && typeof m === 'object' && !Array.isArray(m)) {
    const ids = (m as JsonObject).user_ids;
    return Array.isArray(ids) && ids.includes(userId);
  }
  const body = typeof content.body === 'string' ? content.body : '';
  return mentions(body, userId) || (displayName !== undefined && mentions(body, displayName));
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

/** Unread counts with what it takes to count on from them in memory. */
export interface UnreadCounted extends UnreadNotifications {
  /** The user's display name in the room (for highlights). */
  displayName: string | undefined;
  /** Events up to this position are read (the read receipt's event, else the join). */
  readUpTo: bigint;
}

/** `unreadNotificationsIn` with the display name used and the position counting started after. */
export async function unreadCountsIn(
  conn: CommonQueryMethods,
  rooms: readonly { roomId: string; joinPosition: bigint }[],
  userId: string,
  upTo: bigint,
): Promise<Map<string, UnreadCounted>> {
  const out = new Map<string, UnreadCounted>();
  if (rooms.length === 0) return out;
  const roomIds = rooms.map((r) => r.roomId);
  const after = new Map(rooms.map((r) => [r.roomId, r.joinPosition]));
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
  // Counted in the database: the notifying events among the newest MAX_COUNTED, and only
  // those that may highlight are returned (an `m.mentions` object, or a body that contains
  // the user id or display name ignoring ASCII case, or any non-ASCII body or needle, where
  // case-insensitive matching is left to `highlights`).
  const asciiUserId = /^[ -~]*$/.test(userId);
  const rows = (await conn.any(sql.unsafe`
    WITH r AS MATERIALIZED (
      SELECT u.room_id, u.after,
             (SELECT e.event -> 'content' ->> 'displayname' FROM proj_sync.current_state c JOIN proj_sync.events e ON e.event_id = c.event_id
               WHERE c.room_id = u.room_id AND c.type = 'm.room.member' AND c.state_key = ${userId}) AS displayname
        FROM unnest(${sql.array(roomIds, 'text')}::text[], ${sql.array(
          roomIds.map((id) => String(after.get(id) ?? 0n)),
          'int8',
        )}::int8[]) AS u(room_id, after))
    SELECT r.room_id, r.displayname, x.notifications, x.candidates
      FROM r CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE t.notifies) AS notifications,
               COALESCE(jsonb_agg(t.content) FILTER (WHERE t.notifies AND (
                 jsonb_typeof(t.content -> 'm.mentions') = 'object'
                 OR ${!asciiUserId}::boolean
                 OR t.body ~ '[^\\x01-\\x7f]'
                 OR strpos(lower(t.body COLLATE "C"), lower(${userId}::text COLLATE "C")) > 0
                 OR r.displayname ~ '[^\\x01-\\x7f]'
                 OR strpos(lower(t.body COLLATE "C"), lower(r.displayname COLLATE "C")) > 0)), '[]'::jsonb) AS candidates
          FROM (SELECT e.event -> 'content' AS content,
                       CASE WHEN jsonb_typeof(e.event -> 'content' -> 'body') = 'string' THEN e.event -> 'content' ->> 'body' ELSE '' END AS body,
                       (e.type <> 'm.room.message' OR (e.event -> 'content' ->> 'msgtype') IS DISTINCT FROM 'm.notice') AS notifies
                  FROM proj_sync.events e
                 WHERE e.room_id = r.room_id AND e.in_timeline AND e.position > r.after AND e.position <= ${upTo} AND e.sender <> ${userId}
                   AND e.type IN ('m.room.message', 'm.room.encrypted', 'm.call.invite')
                 ORDER BY e.position DESC LIMIT ${MAX_COUNTED}) t) x`)) as unknown as {
    room_id: string;
    displayname: string | null;
    notifications: bigint | number;
    candidates: JsonObject[];
  }[];
  for (const row of rows) {
    let highlight_count = 0;
    for (const content of row.candidates) if (highlights(content, userId, row.displayname ?? undefined)) highlight_count++;
    out.set(row.room_id, {
      notification_count: Number(row.notifications),
      highlight_count,
      displayName: row.displayname ?? undefined,
      readUpTo: after.get(row.room_id) ?? 0n,
    });
  }
  for (const roomId of roomIds) {
    if (!out.has(roomId)) {
      out.set(roomId, { notification_count: 0, highlight_count: 0, displayName: undefined, readUpTo: after.get(roomId) ?? 0n });
    }
  }
  return out;
}
