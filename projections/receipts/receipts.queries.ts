/** Queries of the receipts projection (view `proj_receipts.receipts`). */
import { sql, type CommonQueryMethods } from 'slonik';
import { readActive } from '@hs/eventstore';
import { RECEIPTS_PROJECTION } from './receipts.projector';

export interface ReceiptRow {
  room_id: string;
  user_id: string;
  receipt_type: string;
  thread_id: string;
  event_id: string;
  ts: bigint;
  position: bigint;
}

/** Content of an `m.receipt` ephemeral event: event id -> receipt type -> user id -> {ts, thread_id}. */
export type ReceiptContent = Record<string, Record<string, Record<string, { ts: number; thread_id?: string }>>>;

/** Position up to which the receipts projection has applied the store. */
export async function receiptsPosition(conn: CommonQueryMethods): Promise<bigint> {
  return (await readActive(conn, RECEIPTS_PROJECTION))?.checkpoint ?? 0n;
}

/**
 * Receipts of the rooms recorded in (after, upTo], grouped per room as `m.receipt` content.
 * `m.read.private` receipts are included for their owner (`viewer`) only.
 */
export async function receiptsSince(
  conn: CommonQueryMethods,
  roomIds: readonly string[],
  after: bigint,
  upTo: bigint,
  viewer: string,
): Promise<Map<string, ReceiptContent>> {
  const out = new Map<string, ReceiptContent>();
  if (roomIds.length === 0) return out;
  const rows = (await conn.any(sql.unsafe`
    SELECT room_id, user_id, receipt_type, thread_id, event_id, ts, position FROM proj_receipts.receipts
     WHERE room_id = ANY(${sql.array([...roomIds], 'text')}) AND position > ${after} AND position <= ${upTo}
       AND (receipt_type <> 'm.read.private' OR user_id = ${viewer})
     ORDER BY position`)) as unknown as ReceiptRow[];
  for (const row of rows) {
    const content = out.get(row.room_id) ?? {};
    addReceipt(content, row);
    out.set(row.room_id, content);
  }
  return out;
}

/** Every receipt recorded in (after, upTo], in position order. */
export async function receiptsBetween(conn: CommonQueryMethods, after: bigint, upTo: bigint): Promise<ReceiptRow[]> {
  if (after >= upTo) return [];
  const rows = await conn.any(sql.unsafe`
    SELECT room_id, user_id, receipt_type, thread_id, event_id, ts, position FROM proj_receipts.receipts
     WHERE position > ${after} AND position <= ${upTo} ORDER BY position`);
  return rows as unknown as ReceiptRow[];
}

/** Adds a receipt row to `m.receipt` content (event id -> receipt type -> user id -> {ts, thread_id}). */
export function addReceipt(content: ReceiptContent, row: ReceiptRow): void {
  const byType = (content[row.event_id] ??= {});
  const byUser = (byType[row.receipt_type] ??= {});
  byUser[row.user_id] = { ts: Number(row.ts), ...(row.thread_id !== '' ? { thread_id: row.thread_id } : {}) };
}

/** The event of the user's latest unthreaded or main-thread read receipt (public or private) in a room. */
export async function readReceiptEvents(conn: CommonQueryMethods, roomId: string, userId: string): Promise<string[]> {
  return (await readReceiptEventsIn(conn, [roomId], userId)).get(roomId) ?? [];
}

/** `readReceiptEvents` for several rooms at once: room id -> the events of the user's read receipts there. */
export async function readReceiptEventsIn(conn: CommonQueryMethods, roomIds: readonly string[], userId: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (roomIds.length === 0) return out;
  const rows = (await conn.any(sql.unsafe`
    SELECT room_id, event_id FROM proj_receipts.receipts
     WHERE room_id = ANY(${sql.array([...roomIds], 'text')}) AND user_id = ${userId} AND receipt_type IN ('m.read', 'm.read.private')
       AND thread_id IN ('', 'main')`)) as unknown as { room_id: string; event_id: string }[];
  for (const row of rows) {
    const events = out.get(row.room_id) ?? [];
    events.push(row.event_id);
    out.set(row.room_id, events);
  }
  return out;
}

/** A read receipt of the user (public or private): its room, thread (`''` unthreaded, `main`, or a root event id) and event. */
export interface ThreadReceipt {
  room_id: string;
  thread_id: string;
  event_id: string;
}

/** Every read receipt of the user in these rooms, threaded ones included. */
export async function readReceiptsByThreadIn(conn: CommonQueryMethods, roomIds: readonly string[], userId: string): Promise<ThreadReceipt[]> {
  if (roomIds.length === 0) return [];
  return (await conn.any(sql.unsafe`
    SELECT room_id, thread_id, event_id FROM proj_receipts.receipts
     WHERE room_id = ANY(${sql.array([...roomIds], 'text')}) AND user_id = ${userId} AND receipt_type IN ('m.read', 'm.read.private')`)) as unknown as ThreadReceipt[];
}
