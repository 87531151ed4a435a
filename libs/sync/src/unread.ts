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
import { readReceiptEvents } from '@hs/projections/receipts';

export const MAX_COUNTED = 1000;

export interface UnreadNotifications {
  notification_count: number;
  highlight_count: number;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function mentions(body: string, needle: string): boolean {
  if (needle.length === 0) return false;
  return new RegExp(`(^|\\W)${escapeRegExp(needle)}(\\W|$)`, 'i').test(body);
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

export async function unreadNotifications(
  conn: CommonQueryMethods,
  roomId: string,
  userId: string,
  joinPosition: bigint,
  upTo: bigint,
): Promise<UnreadNotifications> {
  const receiptEvents = await readReceiptEvents(conn, roomId, userId);
  let after = joinPosition;
  if (receiptEvents.length > 0) {
    const read = (await conn.maybeOneFirst(sql.unsafe`
      SELECT max(position) FROM proj_sync.events WHERE event_id = ANY(${sql.array(receiptEvents, 'text')}) AND room_id = ${roomId}`)) as
      | bigint
      | null;
    if (read !== null && read > after) after = read;
  }
  const rows = (await conn.any(sql.unsafe`
    SELECT type, event -> 'content' AS content FROM proj_sync.events
     WHERE room_id = ${roomId} AND in_timeline AND position > ${after} AND position <= ${upTo} AND sender <> ${userId}
       AND type IN ('m.room.message', 'm.room.encrypted', 'm.call.invite')
     ORDER BY position DESC LIMIT ${MAX_COUNTED}`)) as unknown as { type: string; content: JsonObject }[];
  if (rows.length === 0) return { notification_count: 0, highlight_count: 0 };
  const member = (await conn.maybeOneFirst(sql.unsafe`
    SELECT e.event -> 'content' ->> 'displayname' FROM proj_sync.current_state c JOIN proj_sync.events e ON e.event_id = c.event_id
     WHERE c.room_id = ${roomId} AND c.type = 'm.room.member' AND c.state_key = ${userId}`)) as string | null;
  let notification_count = 0;
  let highlight_count = 0;
  for (const row of rows) {
    if (!notifies(row.type, row.content)) continue;
    notification_count++;
    if (highlights(row.content, userId, member ?? undefined)) highlight_count++;
  }
  return { notification_count, highlight_count };
}
