/**
 * Receipts stored in the receipts streams (`receipts-<roomId>`). `m.fully_read` is not a
 * receipt (it is room account data); `m.read.private` is shown to its owner only.
 */

/** Store event type of a receipt a user sent (or a remote server sent for its user). */
export const RECEIPT_RECORDED = 'ReceiptRecorded';

export const RECEIPT_TYPES = ['m.read', 'm.read.private'] as const;
export type ReceiptType = (typeof RECEIPT_TYPES)[number];

export function isReceiptType(value: unknown): value is ReceiptType {
  return value === 'm.read' || value === 'm.read.private';
}

export interface ReceiptRecordedV1 {
  v: 1;
  room_id: string;
  user_id: string;
  receipt_type: ReceiptType;
  /** The event read up to. */
  event_id: string;
  /** Threaded receipts: the thread's root event id, or `main`; absent for an unthreaded receipt. */
  thread_id?: string;
  /** Milliseconds since the epoch when the receipt was sent. */
  ts: number;
  /**
   * The store position of the event read up to, in decimal (absent in receipts recorded
   * before it was kept): a receipt whose event is not later than that of the user's current
   * receipt of the same type and thread does not replace it (receipts only move forwards).
   */
  event_position?: string;
}

export type ReceiptRecorded = ReceiptRecordedV1;
